"""Images prepared once per batch (harness/base_images.py), and `grader images` on a fake engine.

Which images a submission names (read from its files, bounded, never through Compose), each
pulled once whatever the number of gradings asking, a registry out of reach making only the
submissions that need the image `error`. The engine's answers are the real ones of Engine 20.10
and current releases. No Docker needed.
"""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import grader
from harness.assignment import Assignment, PartSpec, find_assignment, load_assignment
from harness.base_images import (
    MAX_IMAGES_PER_SUBMISSION,
    ImageSupply,
    canonical,
    class_images,
    images_named,
    mirror_reference,
    needed_images,
    reference_images,
    undeclared_images,
    valid_reference,
)
from harness.errors import GraderError, GraderTimeout, SpecError
from harness.runner import GradeOptions, Runner

#: What the engine answers to a pull, as Engine 20.10 and current releases word it.
UNREACHABLE = {
    "no DNS": 'Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io on '
    "10.255.255.53:53: no such host",
    "refused": 'Get "http://127.0.0.1:9/v2/": dial tcp 127.0.0.1:9: connect: connection refused',
    "rate limit": "toomanyrequests: You have reached your pull rate limit. You may increase the limit by "
    "authenticating and upgrading: https://www.docker.com/increase-rate-limit",
    "timeout": 'Get "https://registry-1.docker.io/v2/": net/http: request canceled while waiting for '
    "connection (Client.Timeout exceeded while awaiting headers)",
    "auth": 'Head "https://registry-1.docker.io/v2/library/nginx/manifests/latest": unauthorized: '
    "incorrect username or password",
}
MISSING = {
    "tag": "manifest for nginx:9.99-typo not found: manifest unknown: manifest unknown",
    "repository": "pull access denied for mysqll, repository does not exist or may require 'docker login': "
    "denied: requested access to the resource is denied",
    "containerd": 'failed to resolve reference "docker.io/library/nginx:9.99-typo": '
    "docker.io/library/nginx:9.99-typo: not found",
}


class FakeEngine:
    """Images present, what a pull of each other image answers ("" = pulled), and every call."""

    def __init__(
        self, present: dict[str, dict[str, Any]] | None = None, answers: dict[str, str] | None = None
    ):
        self.present = dict(present or {})
        self.answers = answers or {}
        self.pulls: list[str] = []
        self.tags: list[tuple[str, str]] = []
        self.removed: list[str] = []
        self.saved: list[str] = []

    def image_attrs(self, reference: str) -> dict[str, Any] | None:
        return self.present.get(reference)

    def pull_within(self, reference: str, timeout_s: float) -> str:
        self.pulls.append(reference)
        time.sleep(0.02)  # long enough for racing threads to meet
        answer = self.answers.get(reference, MISSING["tag"])
        if not answer:
            self.present[reference] = {}
        return answer

    def tag_image(self, source: str, target: str) -> None:
        self.tags.append((source, target))
        self.present[target] = self.present[source]

    def remove_image(self, reference: str) -> None:
        self.removed.append(reference)
        self.present.pop(reference, None)

    def save_images(self, references: list[str], target: Any) -> None:
        self.saved = list(references)
        target.write(b"archive")


def _assignment(tmp_path: Path, **parts: PartSpec) -> Assignment:
    return Assignment(id="t", title="t", directory=tmp_path, checks={}, parts=dict(parts))


WEB = PartSpec(name="web", kind="dockerfile", directory="web")
APP = PartSpec(name="app", kind="compose", directory="app")


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def _named(root: Path, assignment: Assignment) -> list[str]:
    return [named.image for named in images_named(root, assignment)]


# -- names ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("nginx", "nginx:latest"),
        ("docker.io/library/nginx:1.25", "nginx:1.25"),
        ("library/mysql:8", "mysql:8"),
        ("index.docker.io/user/app", "user/app:latest"),
        ("127.0.0.1:5000/cours2/site", "127.0.0.1:5000/cours2/site:latest"),
        ("nginx@sha256:" + "a" * 64, "nginx@sha256:" + "a" * 64),
    ],
)
def test_one_image_has_one_spelling(written: str, expected: str) -> None:
    assert canonical(written) == expected


@pytest.mark.parametrize("image", ["Nginx", "nginx:", "nginx:-x", "a b", "", "nginx@sha256:12"])
def test_a_name_docker_would_not_read_is_not_an_image(image: str) -> None:
    assert not valid_reference(image)


def test_a_mirror_holds_official_images_under_library() -> None:
    assert mirror_reference("nginx", "127.0.0.1:5000") == "127.0.0.1:5000/library/nginx:latest"
    assert mirror_reference("user/app:2", "mirror.local:5000/") == "mirror.local:5000/user/app:2"


# -- what a submission names ---------------------------------------------------------------------


def test_every_stage_copy_from_and_mount_from_is_named_with_arg_defaults(tmp_path: Path) -> None:
    dockerfile = (
        "ARG GO=1.19\n"
        "FROM golang:${GO} AS builder\n"
        "RUN --mount=from=alpine:3.19,target=/a true\n"
        "FROM builder AS again\n"
        "FROM scratch\n"
        "COPY --from=builder /app /app\n"
        "COPY --from=busybox:1.36 /bin/busybox /busybox\n"
    )
    root = _write(tmp_path / "s", {"web/Dockerfile": dockerfile})
    assert _named(root, _assignment(tmp_path, web=WEB)) == ["golang:1.19", "alpine:3.19", "busybox:1.36"]


def test_what_no_grading_could_pull_is_left_to_the_grading(tmp_path: Path) -> None:
    dockerfile = "FROM ${BASE}\nFROM evil.example.com/x\nFROM Nginx\nFROM debian:bookworm-slim\n"
    root = _write(tmp_path / "s", {"web/Dockerfile": dockerfile})
    assert _named(root, _assignment(tmp_path, web=WEB)) == ["debian:bookworm-slim"]


def test_compose_services_not_built_and_the_dockerfiles_of_those_built(tmp_path: Path) -> None:
    compose = (
        "include: [extra.yaml]\n"
        "services:\n"
        "  db: {image: 'mysql:${MYSQL_TAG:-8}'}\n"
        "  api:\n"
        "    image: mine/api:1\n"  # the name of the image built: nothing to pull
        "    build: {context: ./api, args: {BASE: 'python:3.11-slim'}}\n"
        "  site: {build: ./site}\n"
        "  inline: {build: {dockerfile_inline: 'FROM nginx:1.25'}}\n"
        "  env: {image: '${FROM_THE_SHELL}'}\n"
    )
    root = _write(
        tmp_path / "s",
        {
            "app/compose.yaml": compose,
            "app/extra.yaml": "services:\n  cache: {image: redis}\n",
            "app/api/Dockerfile": "ARG BASE=debian:bookworm-slim\nFROM ${BASE}\n",
            "app/site/Dockerfile": "FROM nginx\n",
        },
    )
    named = images_named(root, _assignment(tmp_path, app=APP))
    assert {n.image: n.where for n in named} == {
        "mysql:8": "app/compose.yaml, service db",
        "python:3.11-slim": "app/api/Dockerfile:2",
        "nginx:latest": "app/site/Dockerfile:1",
        "nginx:1.25": "app/compose.yaml, service inline, dockerfile_inline:1",
        "redis:latest": "app/extra.yaml, service cache",
    }


def test_a_file_outside_the_submission_is_never_read(tmp_path: Path) -> None:
    _write(tmp_path, {"outside/Dockerfile": "FROM leaked/secret:1\n"})
    root = _write(
        tmp_path / "s",
        {
            "app/compose.yaml": (
                "services:\n"
                "  a: {build: {context: ., dockerfile: ../../outside/Dockerfile}}\n"
                f"  b: {{build: {{context: ., dockerfile: {tmp_path}/outside/Dockerfile}}}}\n"
                "  c: {build: ./linked}\n"
            ),
        },
    )
    (root / "app" / "linked").mkdir()
    (root / "app" / "linked" / "Dockerfile").symlink_to(tmp_path / "outside" / "Dockerfile")
    assert _named(root, _assignment(tmp_path, app=APP)) == []


def test_a_broken_or_refused_compose_file_names_nothing(tmp_path: Path) -> None:
    assignment = _assignment(tmp_path, app=APP)
    broken = _write(tmp_path / "broken", {"app/compose.yaml": "services: [unclosed\n"})
    refused = _write(
        tmp_path / "refused",
        {"app/compose.yaml": "services:\n  a: {image: nginx, env_file: /etc/passwd}\n"},
    )
    assert _named(broken, assignment) == []
    assert _named(refused, assignment) == []


def test_a_file_naming_thousands_of_images_prepares_only_a_few(tmp_path: Path) -> None:
    dockerfile = "".join(f"FROM image{n}:1 AS s{n}\n" for n in range(5000))
    root = _write(tmp_path / "s", {"web/Dockerfile": dockerfile})
    assert len(_named(root, _assignment(tmp_path, web=WEB))) == MAX_IMAGES_PER_SUBMISSION


def test_a_class_counts_the_submissions_that_need_each_image(tmp_path: Path) -> None:
    assignment = _assignment(tmp_path, web=WEB)
    sources = [
        _write(tmp_path / "a", {"web/Dockerfile": "FROM httpd:2.4\n"}),
        _write(tmp_path / "b", {"web/Dockerfile": "FROM httpd:2.4\nFROM nginx\n"}),
        tmp_path / "gone",  # cannot be taken in: its grading says why
    ]
    assert class_images(sources, assignment) == {"httpd:2.4": 2, "nginx:latest": 1}


# -- had once ------------------------------------------------------------------------------------


def test_a_present_image_is_not_pulled_and_a_stand_in_is_known() -> None:
    engine = FakeEngine(present={"nginx:latest": {"Config": {"Labels": {"grader.standin": "nginx:latest"}}}})
    (outcome,) = ImageSupply(engine).ensure(["nginx"])  # type: ignore[arg-type]
    assert (outcome.state, outcome.standin, engine.pulls) == ("present", "nginx:latest", [])


def test_an_absent_image_is_pulled_once_however_many_gradings_ask_at_once() -> None:
    engine = FakeEngine(answers={"httpd:2.4": ""})
    supply = ImageSupply(engine)  # type: ignore[arg-type]
    threads = [threading.Thread(target=supply.ensure, args=(["httpd:2.4"],)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert engine.pulls == ["httpd:2.4"]
    assert supply.ensure(["docker.io/library/httpd:2.4"])[0].state == "pulled"
    assert engine.pulls == ["httpd:2.4"]


@pytest.mark.parametrize("answer", UNREACHABLE.values(), ids=UNREACHABLE.keys())
def test_a_registry_out_of_reach_makes_the_image_unavailable(answer: str) -> None:
    engine = FakeEngine(answers={"httpd:2.4": answer})
    (outcome,) = ImageSupply(engine).ensure(["httpd:2.4"])  # type: ignore[arg-type]
    assert outcome.state == "unavailable"
    assert outcome.detail == answer


@pytest.mark.parametrize("answer", MISSING.values(), ids=MISSING.keys())
def test_an_image_the_registry_does_not_have_is_left_to_the_grading(answer: str) -> None:
    engine = FakeEngine(answers={"nginx:9.99-typo": answer})
    (outcome,) = ImageSupply(engine).ensure(["nginx:9.99-typo"])  # type: ignore[arg-type]
    assert outcome.state == "missing"


def test_an_unreadable_name_or_a_pull_too_long_is_left_to_the_grading() -> None:
    class Slow(FakeEngine):
        def pull_within(self, reference: str, timeout_s: float) -> str:
            raise GraderTimeout(f"pulling {reference} took more than {timeout_s:.0f} s.")

    engine = Slow()
    outcomes = ImageSupply(engine, pull_timeout_s=3).ensure(["Nginx", "huge/image:1"])  # type: ignore[arg-type]
    assert [o.state for o in outcomes] == ["left", "left"]
    assert "3 s" in outcomes[1].detail


def test_a_mirror_is_asked_first_and_the_image_keeps_its_own_name() -> None:
    mirrored = "127.0.0.1:5000/library/nginx:1.25"
    engine = FakeEngine(answers={mirrored: ""})
    (outcome,) = ImageSupply(engine, mirror="127.0.0.1:5000").ensure(["nginx:1.25"])  # type: ignore[arg-type]
    assert outcome.state == "pulled"
    assert engine.pulls == [mirrored]
    assert engine.tags == [(mirrored, "nginx:1.25")]
    assert engine.removed == [mirrored]
    assert "nginx:1.25" in engine.present


def test_a_mirror_that_fails_falls_back_to_docker_hub_and_other_registries_skip_it() -> None:
    engine = FakeEngine(
        answers={"127.0.0.1:5000/library/nginx:1.25": UNREACHABLE["refused"], "nginx:1.25": ""}
    )
    supply = ImageSupply(engine, mirror="127.0.0.1:5000")  # type: ignore[arg-type]
    assert supply.ensure(["nginx:1.25", "localhost:5001/a/b:1"])[0].state == "pulled"
    assert engine.pulls == ["127.0.0.1:5000/library/nginx:1.25", "nginx:1.25", "localhost:5001/a/b:1"]


# -- the runner ----------------------------------------------------------------------------------


def test_only_the_submissions_that_need_an_unavailable_image_end_error(tmp_path: Path) -> None:
    assignment = _assignment(tmp_path, web=WEB)
    assignment = Assignment(
        **{**assignment.__dict__, "checks": load_assignment(find_assignment("cours2")).checks}
    )
    engine = FakeEngine(answers={"httpd:2.4": UNREACHABLE["no DNS"]})
    runner = Runner(assignment, GradeOptions(), engine)  # type: ignore[arg-type]
    apache = _write(tmp_path / "apache", {"web/Dockerfile": "FROM httpd:2.4\n"})
    other = _write(tmp_path / "other", {"web/Dockerfile": "FROM debian:bookworm-slim\n"})
    engine.present["debian:bookworm-slim"] = {}
    prepared = runner.prepare_images([apache, other])
    assert sorted((o.image, o.state, n) for o, n in prepared) == [
        ("debian:bookworm-slim", "present", 1),
        ("httpd:2.4", "unavailable", 1),
    ]
    result = runner.grade(apache, tmp_path / "out")
    assert result.status == "error"
    assert result.score == 0
    assert all(c.status == "error" for c in result.checks)
    assert "« httpd:2.4 »" in result.message
    assert "grader images load" in result.message
    assert engine.pulls == ["httpd:2.4"]  # the batch's pull, not a second one for the grading
    assert runner.images.unavailable_for(other, assignment) == []


# -- the assignment's images ---------------------------------------------------------------------


def test_cours2_declares_every_image_its_reference_names() -> None:
    assignment = load_assignment(find_assignment("cours2"))
    assert reference_images(assignment), "the reference names no image: is it still there?"
    assert undeclared_images(assignment) == [], "declare them under images: in checks/cours2/assignment.yaml"
    assert {"debian:bookworm-slim", "nginx:latest", "mysql:8", "golang:1.19"} <= set(
        needed_images(assignment)
    )


def test_an_image_the_reference_names_but_the_list_forgets_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path / "reference" / "t", {"web/Dockerfile": "FROM httpd:2.4\nFROM nginx\n"})
    monkeypatch.setenv("GRADER_REFERENCE_DIR", str(tmp_path / "reference"))
    assignment = Assignment(**{**_assignment(tmp_path, web=WEB).__dict__, "images": ("nginx:latest",)})
    assert [(n.image, n.where) for n in undeclared_images(assignment)] == [("httpd:2.4", "web/Dockerfile:1")]
    assert needed_images(assignment) == ["nginx:latest", "httpd:2.4"]


@pytest.mark.parametrize(
    ("text", "message"),
    [("id: x\nimages: nginx\n", "list of image names"), ("id: x\nimages: [Nginx]\n", "would not read")],
)
def test_a_broken_images_list_is_a_spec_error(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "assignment.yaml").write_text(text)
    with pytest.raises(SpecError, match=message):
        load_assignment(tmp_path)


# -- grader images -------------------------------------------------------------------------------


def _args(*argv: str) -> argparse.Namespace:
    return grader._parser().parse_args(["images", *argv])


def test_save_names_the_images_this_machine_lacks_and_writes_nothing(tmp_path: Path) -> None:
    engine = FakeEngine(present={"debian:bookworm-slim": {}})
    with pytest.raises(
        GraderError,
        match=r"nginx:latest, mysql:8, golang:1\.19, mariadb:11, python:3\.11-slim ; lancez d'abord",
    ):
        grader.cmd_images_save(_args("save", "--assignment", "cours2", str(tmp_path / "a.tar")), engine)  # type: ignore[arg-type]
    assert not (tmp_path / "a.tar").exists()


def test_save_writes_one_archive_and_says_which_images_are_stand_ins(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    standin = {"Config": {"Labels": {"grader.standin": "nginx:latest"}}}
    engine = FakeEngine(present={"debian:bookworm-slim": {}, "nginx:latest": standin})
    assignment = tmp_path / "asg"
    _write(assignment, {"assignment.yaml": "id: asg\nimages: [debian:bookworm-slim, nginx]\n"})
    code = grader.cmd_images_save(_args("save", str(assignment), str(tmp_path / "a.tar")), engine)  # type: ignore[arg-type]
    assert code == grader.EXIT_OK
    assert engine.saved == ["debian:bookworm-slim", "nginx:latest"]
    assert (tmp_path / "a.tar").read_bytes() == b"archive"
    assert not list(tmp_path.glob("*.partial"))
    assert "nginx:latest est un stand-in hors ligne (étiquette grader.standin)" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("answers", "code"),
    [({}, grader.EXIT_FAILED), ({"httpd:2.4": UNREACHABLE["rate limit"]}, grader.EXIT_ERROR)],
)
def test_pull_exits_1_when_an_image_does_not_exist_and_2_when_its_registry_is_out_of_reach(
    tmp_path: Path, answers: dict[str, str], code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(tmp_path, {"assignment.yaml": "id: asg\nimages: [httpd:2.4]\n"})
    assert grader.cmd_images_pull(_args("pull", str(tmp_path)), FakeEngine(answers=answers)) == code  # type: ignore[arg-type]
    assert "httpd:2.4" in capsys.readouterr().out
