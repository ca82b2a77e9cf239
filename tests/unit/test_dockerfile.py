"""Dockerfiles read as BuildKit reads them; cache mounts namespaced per grading; pulls only
from allowed registries (harness/dockerfile.py, harness/buildcache.py). No Docker needed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness import buildcache
from harness.buildcache import (
    CACHE_NAMESPACE_ARG,
    build_cache_runs,
    namespace_cache_mounts,
    prepare_builds,
    remove_build_caches,
)
from harness.docker_api import DockerAPI
from harness.dockerfile import (
    Unresolved,
    expand,
    final_base,
    image_references,
    mount_options,
    official_image,
    parse,
    pull_allowed,
    registry_host,
    registry_listed,
    split_flags,
)
from harness.errors import PolicyViolation

RUN = "abc123"


def _namespaced(text: str, build_args: dict[str, str | None] | None = None) -> str:
    rewritten, refusals = namespace_cache_mounts(text, RUN, build_args or {})
    assert not refusals, refusals
    return rewritten


def _mounts(text: str) -> list[dict[str, str]]:
    """The --mount options of every RUN (ONBUILD's included), as BuildKit would read them."""
    found = []
    for instruction in parse(text, heredocs=False).instructions:
        target = instruction.inner or instruction
        found += [mount_options(value) for value in target.flag_values("mount")]
    return found


# -- the parser ----------------------------------------------------------------------------------


def test_continuation_lines_join_and_comment_lines_inside_them_are_dropped() -> None:
    text = "FROM debian\nRUN a \\\n# a comment\n\n    && b \\\n  c\nCMD x\n"
    run = parse(text, heredocs=False).instructions[1]
    assert run.args == "a     && b   c"
    assert (run.line, run.last) == (2, 6)
    assert parse(text, heredocs=False).instructions[2].line == 7


def test_the_escape_directive_makes_the_backtick_the_continuation_character() -> None:
    text = "# escape=`\nFROM windows\nRUN a `\n  b\\\nRUN c\n"
    dockerfile = parse(text, heredocs=False)
    assert dockerfile.escape == "`"
    assert [i.args for i in dockerfile.instructions] == ["windows", "a   b\\", "c"]


def test_a_byte_order_mark_and_crlf_line_endings_are_read_like_buildkit() -> None:
    dockerfile = parse("\ufeffFROM debian\r\nRUN a \\\r\n  b\r\n", heredocs=False)
    assert [(i.keyword, i.args) for i in dockerfile.instructions] == [("FROM", "debian"), ("RUN", "a   b")]


def test_parser_directives_are_read_at_the_top_only() -> None:
    assert parse("# syntax=docker/dockerfile:1\nFROM x\n", heredocs=False).directives == {
        "syntax": "docker/dockerfile:1"
    }
    assert parse("// syntax=evil/frontend\nFROM x\n", heredocs=False).directives["syntax"] == "evil/frontend"
    assert parse("FROM x\n# syntax=late\n", heredocs=False).directives == {}


@pytest.mark.parametrize("space", ["\f", "\t", " \f ", "\r"])
def test_a_directive_with_any_of_buildkits_spaces_is_read_as_buildkit_reads_it(space: str) -> None:
    text = f"#{space}syntax{space}={space}127.0.0.1:1/frontend:1\nFROM x\n"
    assert parse(text, heredocs=False).directives == {"syntax": "127.0.0.1:1/frontend:1"}


def test_builder_flags_with_quotes_and_with_their_value_as_the_next_word() -> None:
    assert split_flags('--mount="type=cache,target=/a b" --network=none echo hi') == (
        "echo hi",
        ["--mount=type=cache,target=/a b", "--network=none"],
    )
    assert split_flags("--mount type=cache,target=/c make") == ("make", ["--mount=type=cache,target=/c"])
    assert split_flags("-- --not-a-flag") == (" --not-a-flag", []), "-- ends the flags"


def test_onbuild_wraps_another_instruction() -> None:
    (onbuild,) = parse("ONBUILD COPY --from=other / /\n", heredocs=False).instructions
    assert onbuild.inner is not None
    assert (onbuild.inner.keyword, onbuild.inner.flag_values("from")) == ("COPY", ["other"])


def test_heredoc_bodies_are_skipped_only_when_heredocs_are_read() -> None:
    text = "FROM debian\nRUN <<EOF\nFROM evil.example.com/x\nEOF\nRUN <<-END cat\n\tbody\n\tEND\nCMD x\n"
    assert [i.keyword for i in parse(text, heredocs=True).instructions] == ["FROM", "RUN", "RUN", "CMD"]
    assert "evil.example.com/x" in [i.args for i in parse(text, heredocs=False).instructions]
    assert parse(text, heredocs=True).heredoc_lines == {3, 4, 6, 7}


# -- variables and image references --------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("$A", "a"),
        ("${A}:x", "a:x"),
        ("${UNSET:-d}", "d"),
        ("${EMPTY:-d}", "d"),
        ("${EMPTY-d}", ""),
        ("${A:+alt}", "alt"),
        ("${UNSET:+alt}", ""),
        ("'$A'", "$A"),
        ('"$A"', "a"),
        ("\\$A", "$A"),
    ],
)
def test_variables_expand_like_the_dockerfile_shell(word: str, expected: str) -> None:
    assert expand(word, {"A": "a", "EMPTY": ""}) == expected


@pytest.mark.parametrize("word", ["$UNSET", "${UNSET}", "${A%suffix}", "${UNSET"])
def test_a_variable_without_a_value_is_unresolved(word: str) -> None:
    with pytest.raises(Unresolved):
        expand(word, {"A": "a"})


def _images(text: str, build_args: dict[str, str | None] | None = None) -> list[str]:
    return [
        ref.image or f"?{ref.missing}"
        for ref in image_references(parse(text, heredocs=False), build_args or {})
    ]


def test_images_are_found_in_from_copy_from_and_mount_from_but_not_stage_names() -> None:
    text = """ARG BASE=debian
ARG TAG
FROM ${BASE}:${TAG:-bookworm} AS build
FROM Build
COPY --from=build /a /a
COPY --from=0 /a /a
COPY --from=registry.example.com/tools /t /t
RUN --mount=type=bind,from=localhost:5000/data,target=/d true
ONBUILD COPY --from=other.example.com/x / /
FROM scratch
"""
    assert _images(text) == [
        "debian:bookworm",
        "registry.example.com/tools",
        "localhost:5000/data",
        "other.example.com/x",
    ]


def test_build_args_override_only_declared_args_and_stage_args_have_their_own_scope() -> None:
    text = "ARG BASE=debian\nFROM $BASE\nARG SRC=img\nARG BASE\nCOPY --from=$SRC / /\nCOPY --from=$BASE / /\n"
    assert _images(text, {"BASE": "alpine", "OTHER": "x"}) == ["alpine", "img", "alpine"]
    assert _images("FROM $BASE\n", {"BASE": "alpine"}) == ["?BASE"], "an ARG must be declared to take a value"
    assert _images("ARG BASE\nFROM ${BASE}\n") == ["?BASE"]
    assert _images("FROM golang:1.19-$TARGETOS\n") == ["golang:1.19-linux"]
    assert _images("ARG BASE=\nFROM ${BASE}\n") == ["?BASE"], "an empty name names nothing"


@pytest.mark.parametrize(
    ("image", "registry"),
    [
        ("nginx", "docker.io"),
        ("mysql:8", "docker.io"),
        ("golang:1.19", "docker.io"),
        ("user/app:1", "docker.io"),
        ("docker.io/library/nginx", "docker.io"),
        ("localhost/app", "localhost"),
        ("localhost:5000/app", "localhost:5000"),
        ("127.0.0.1:5000/app", "127.0.0.1:5000"),
        ("evil.example.com/x", "evil.example.com"),
        ("Evil/x", "evil"),
        ("[::1]:5000/app", "[::1]:5000"),
        ("nginx@sha256:0123", "docker.io"),
    ],
)
def test_registry_of_an_image_is_read_like_docker(image: str, registry: str) -> None:
    assert registry_host(image) == registry


def test_pulls_are_allowed_from_docker_hub_and_the_listed_registries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_REGISTRY_HOSTS", "registry.school.example:5000, localhost")
    assert pull_allowed("nginx")
    assert pull_allowed("docker.io/library/mysql:8")
    assert pull_allowed("registry.school.example:5000/lab/site")
    assert pull_allowed("localhost:5000/app"), "a listed host without a port allows any port"
    assert not pull_allowed("registry.school.example:6000/lab/site")
    assert not pull_allowed("evil.example.com/x")
    monkeypatch.delenv("GRADER_REGISTRY_HOSTS")
    assert registry_listed("127.0.0.1:5000")
    assert not registry_listed("docker.io"), "the registry check itself pulls only from listed hosts"


# -- cache mounts --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("run", "expected_id"),
    [
        ("RUN --mount=type=cache,id=shared,target=/c make", "gabc123-shared"),
        ("RUN --mount=target=/root/.cache/go-build,type=cache go build", "gabc123-/root/.cache/go-build"),
        ("RUN --mount=type=cache,target=/c/ make", "gabc123-/c"),
        ('RUN --mount="type=cache,id=a b,target=/c" make', "gabc123-a b"),
        ("RUN --mount type=cache,target=/c make", "gabc123-/c"),
        ("RUN --mount=type=CACHE,ID=x,dst=/c make", "gabc123-x"),
        ("RUN --mount='type=cache,\"id=x,y\",target=/c' make", "gabc123-x,y"),
        ("RUN --mount=type=bind,source=.,target=/s,type=cache,target=/c make", "gabc123-/c"),
        ("ARG KIND=cache\nRUN --mount=type=$KIND,target=/c make", "gabc123-/c"),
        ("ONBUILD RUN --mount=type=cache,target=/c make", "gabc123-/c"),
    ],
)
def test_every_cache_mount_gets_an_id_of_the_grading(run: str, expected_id: str) -> None:
    rewritten = _namespaced(f"FROM debian\n{run}\n")
    (mount,) = _mounts(rewritten)
    assert mount["id"] == expected_id
    command = rewritten.splitlines()[-1]
    assert command.endswith(" make # grader.run=abc123") or command.endswith(" build # grader.run=abc123")


def test_several_mounts_only_cache_ones_change_and_lines_keep_their_numbers() -> None:
    text = (
        "FROM debian\n"
        "RUN --mount=type=secret,id=token \\\n"
        "    --mount=type=cache,target=/var/cache/apt \\\n"
        "    # a comment line\n"
        "    --mount=type=bind,target=/src \\\n"
        "    apt-get update && \\\n"
        "    make\n"
        "COPY a b\n"
    )
    rewritten = _namespaced(text)
    assert len(rewritten.splitlines()) == len(text.splitlines())
    assert rewritten.splitlines()[7] == "COPY a b"
    assert rewritten.splitlines()[2:7] == [""] * 5
    secret, cache, bind = _mounts(rewritten)
    assert secret == {"type": "secret", "id": "token"}, "a secret keeps its id"
    assert cache["id"] == "gabc123-/var/cache/apt"
    assert "id" not in bind
    (run,) = [i for i in parse(rewritten, heredocs=False).instructions if i.keyword == "RUN"]
    assert run.args == "apt-get update &&     make # grader.run=abc123"


def test_a_dockerfile_without_cache_mounts_is_left_byte_for_byte() -> None:
    text = "\ufeffFROM debian\r\nRUN --mount=type=bind,target=/s make \\\r\n  all\r\nCMD x"
    assert _namespaced(text) == text


def test_crlf_endings_and_other_lines_are_kept() -> None:
    text = "FROM debian\r\nRUN --mount=type=cache,target=/c make\r\nCMD x\r\n"
    rewritten = _namespaced(text).split("\r\n")
    assert (rewritten[0], rewritten[2:]) == ("FROM debian", ["CMD x", ""])


def test_heredoc_bodies_are_left_as_written() -> None:
    text = "FROM debian\nCOPY <<EOF /etc/x\nRUN --mount=type=cache,target=/c this is text\nEOF\n"
    _, refusals = namespace_cache_mounts(text, RUN, {})
    assert [r.reason for r in refusals] == ["heredoc"]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('FROM debian\nRUN --mount=type=cache,target=/c ["make"]\n', "exec_form"),
        ("FROM debian\nRUN --mount=type=cache,target=/c <<EOF\nmake\nEOF\n", "heredoc"),
        ('FROM node\nSHELL ["node", "-e"]\nRUN --mount=type=cache,target=/c x()\n', "shell"),
        ('FROM node AS a\nSHELL ["node", "-e"]\nFROM a\nRUN --mount=type=cache,target=/c x()\n', "shell"),
        ("FROM debian\nRUN --mount=type=$KIND,target=/c make\n", "variable"),
    ],
)
def test_a_cache_mount_that_cannot_be_marked_is_refused(text: str, reason: str) -> None:
    _, refusals = namespace_cache_mounts(text, RUN, {})
    assert [r.reason for r in refusals] == [reason]


def test_bash_and_python_shells_take_the_marker() -> None:
    text = 'FROM debian\nSHELL ["/bin/bash", "-o", "pipefail", "-c"]\nRUN --mount=type=cache,target=/c make\n'
    assert _mounts(_namespaced(text))[0]["id"] == "gabc123-/c"


# -- prepare_builds ----------------------------------------------------------------------------


def _project(tmp_path: Path, dockerfile: str, **build: Any) -> tuple[dict[str, Any], Path]:
    root = tmp_path / "submission"
    (root / "app").mkdir(parents=True)
    (root / "app" / "Dockerfile").write_text(dockerfile, encoding="utf-8")
    model = {
        "name": "g1-app",
        "services": {"web": {"build": {"context": str(root / "app"), "dockerfile": "Dockerfile", **build}}},
    }
    return model, root


def test_prepare_builds_points_the_build_at_a_namespaced_copy(tmp_path: Path) -> None:
    text = "FROM debian\nRUN --mount=type=cache,id=shared,target=/c make\n"
    model, root = _project(tmp_path, text, args={"X": "1"})
    prepare_builds(model, root, RUN, tmp_path / "work")
    build = model["services"]["web"]["build"]
    copy = Path(build["dockerfile"])
    assert copy.is_file()
    assert tmp_path / "work" in copy.parents
    assert _mounts(copy.read_text())[0]["id"] == "gabc123-shared"
    assert (root / "app" / "Dockerfile").read_text() == text, "the submission's file stays as written"
    assert build["args"] == {"X": "1", CACHE_NAMESPACE_ARG: "gabc123"}


def test_prepare_builds_leaves_a_build_without_cache_mounts_where_it_is(tmp_path: Path) -> None:
    model, root = _project(tmp_path, "FROM debian\nRUN make\n")
    prepare_builds(model, root, RUN, tmp_path / "work")
    assert model["services"]["web"]["build"]["dockerfile"] == "Dockerfile"
    assert not (tmp_path / "work").exists()


def test_prepare_builds_rewrites_an_inline_dockerfile(tmp_path: Path) -> None:
    model = {
        "services": {
            "web": {
                "build": {
                    "context": str(tmp_path),
                    "dockerfile_inline": "FROM x\nRUN --mount=type=cache,target=/c m\n",
                }
            }
        }
    }
    prepare_builds(model, tmp_path, RUN, tmp_path)
    assert _mounts(model["services"]["web"]["build"]["dockerfile_inline"])[0]["id"] == "gabc123-/c"


@pytest.mark.parametrize(
    ("dockerfile", "build", "says", "where"),
    [
        (
            "FROM debian\nFROM evil.example.com/x\n",
            {},
            "« evil.example.com/x » viendrait du registre",
            "app/Dockerfile:2",
        ),
        ("FROM ${BASE}\n", {}, "variable BASE, qui n'a pas de valeur", "app/Dockerfile:1"),
        ("ARG BASE\nFROM ${BASE}\n", {}, "variable BASE", "app/Dockerfile:2"),
        ("FROM debian\nCOPY --from=evil.example.com/x / /\n", {}, "evil.example.com/x", "app/Dockerfile:2"),
        ("# syntax=evil/frontend\nFROM debian\n", {}, "syntax=evil/frontend", "app/Dockerfile"),
        ("FROM debian\n", {"args": {"BUILDKIT_SYNTAX": "evil/frontend"}}, "syntax=evil/frontend", ""),
        ('FROM debian\nRUN --mount=type=cache,target=/c ["make"]\n', {}, "forme shell", "app/Dockerfile:2"),
    ],
)
def test_prepare_builds_refuses_with_a_sentence_naming_file_line_and_image(
    tmp_path: Path, dockerfile: str, build: dict[str, Any], says: str, where: str
) -> None:
    model, root = _project(tmp_path, dockerfile, **build)
    with pytest.raises(PolicyViolation) as refused:
        prepare_builds(model, root, RUN, tmp_path / "work")
    assert says in refused.value.message
    assert refused.value.locations == ((where,) if where else ())


def test_prepare_builds_accepts_what_the_course_writes(tmp_path: Path) -> None:
    text = (
        "# syntax=docker/dockerfile:1.4\nARG GO=1.19\nFROM golang:${GO} AS build\nFROM mysql:8\n"
        "COPY --from=build /a /a\nFROM scratch\n"
    )
    model, root = _project(tmp_path, text, args={"GO": "1.21"})
    prepare_builds(model, root, RUN, tmp_path / "work")


def test_an_inline_dockerfile_is_named_by_its_service_in_a_refusal(tmp_path: Path) -> None:
    model = {
        "services": {
            "web": {"build": {"context": str(tmp_path), "dockerfile_inline": "FROM a\nFROM b.example/x\n"}}
        }
    }
    with pytest.raises(PolicyViolation) as refused:
        prepare_builds(model, tmp_path, RUN, tmp_path)
    assert refused.value.message.startswith(
        "service « web », dockerfile_inline, ligne 2 : l'image « b.example/x »"
    )
    assert refused.value.locations == ()


def test_prepare_builds_refuses_a_service_image_from_another_registry(tmp_path: Path) -> None:
    model = {"services": {"db": {"image": "evil.example.com/mysql:8"}, "cache": {"image": "redis"}}}
    with pytest.raises(PolicyViolation, match="service « db »"):
        prepare_builds(model, tmp_path, RUN, tmp_path)
    prepare_builds({"services": {"cache": {"image": "redis:7"}}}, tmp_path, RUN, tmp_path)


# -- removal, on a fake engine -------------------------------------------------------------------


class _FakeAPI:
    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.records = records
        self.prune_filters: list[dict[str, list[str]]] = []

    def df(self) -> dict[str, Any]:
        return {"BuildCache": list(self.records)}

    def prune_builds(self, filters: dict[str, list[str]]) -> dict[str, Any]:
        self.prune_filters.append(filters)
        (pattern,) = filters["id"]
        gone = [r["ID"] for r in self.records if f"^{r['ID']}$" == pattern]
        self.records = [r for r in self.records if r["ID"] not in gone]
        return {"CachesDeleted": gone}


def test_remove_build_caches_removes_the_runs_cache_records_by_id_and_nothing_else() -> None:
    def record(record_id: str, description: str, kind: str = "exec.cachemount") -> dict[str, Any]:
        return {"ID": record_id, "Type": kind, "Description": description}

    api = _FakeAPI(
        [
            record("a1", "cached mount /c from exec /bin/sh -c make # grader.run=abc123"),
            record("a2", "cached mount /d from exec /bin/sh -c make # grader.run=abc123"),
            record("b1", "cached mount /c from exec /bin/sh -c make # grader.run=other"),
            record("c1", "cached mount /c from exec /bin/sh -c make # grader.run=abc123 and more"),
            record("r1", "mount / from exec /bin/sh -c make # grader.run=abc123", kind="regular"),
            record("u1", "cached mount /c from exec /bin/sh -c make"),
            # Engine 26 (BuildKit 0.13) appends the mount's id, in the run's own namespace.
            record(
                "a3", 'cached mount /c from exec /bin/sh -c make # grader.run=abc123 with id "gabc123/g-x"'
            ),
            record(
                "d1", 'cached mount /c from exec /bin/sh -c make # grader.run=abc123 with id "gother/g-x"'
            ),
        ]
    )
    docker = DockerAPI(type("Client", (), {"api": api})())  # the engine's API stood in for
    assert build_cache_runs(docker) == {"abc123": ["a1", "a2", "a3"], "other": ["b1"]}
    assert sorted(remove_build_caches(docker, RUN)) == ["a1", "a2", "a3"]
    assert api.prune_filters == [{"id": ["^a1$"]}, {"id": ["^a2$"]}, {"id": ["^a3$"]}]
    assert [r["ID"] for r in api.records] == ["b1", "c1", "r1", "u1", "d1"]


def test_the_marker_is_what_the_records_are_found_by() -> None:
    assert buildcache.cache_marker(RUN) == " # grader.run=abc123"
    assert buildcache._MARKER.search("x" + buildcache.cache_marker(RUN)) is not None


@pytest.mark.parametrize(
    ("text", "args", "target", "expected"),
    [
        (
            "FROM golang:1.19 AS builder\nRUN go build\nFROM scratch\nCOPY --from=builder /a /a\n",
            {},
            "",
            "scratch",
        ),
        (
            "FROM golang:1.19 AS b\nFROM debian:bookworm-slim AS run\nFROM run\nCMD x\n",
            {},
            "",
            "debian:bookworm-slim",
        ),
        ("ARG V=3.11\nFROM python:${V}-slim\n", {}, "", "python:3.11-slim"),
        ("ARG V=3.11\nFROM python:${V}-slim\n", {"V": "3.12"}, "", "python:3.12-slim"),
        ("FROM golang:1.19 AS builder\nFROM alpine:3.19 AS final\n", {}, "builder", "golang:1.19"),
        ("FROM golang:1.19 AS Builder\nFROM BUILDER\n", {}, "", "golang:1.19"),
        ("FROM $NOPE\n", {}, "", None),
        ("FROM a AS x\n", {}, "missing", None),
        ("# just a comment\n", {}, "", None),
    ],
)
def test_final_base_follows_stages_and_arguments(
    text: str, args: dict[str, str | None], target: str, expected: str | None
) -> None:
    assert final_base(parse(text, heredocs=True), args, target) == expected


def test_official_images_are_docker_hubs_library_only() -> None:
    for image in (
        "nginx",
        "mysql:8",
        "library/golang:1.19",
        "docker.io/library/nginx:latest",
        "docker.io/nginx@sha256:ab",
    ):
        assert official_image(image), image
    for image in (
        "etudiant/mysql:8",
        "docker.io/etudiant/app",
        "localhost:5000/nginx",
        "ghcr.io/nginx",
        "127.0.0.1:5000/x",
    ):
        assert not official_image(image), image
