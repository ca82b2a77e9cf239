"""The three front doors on real submissions: grade, check and ci agree; kill and rerun; shards; kit."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import subprocess
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

import jsonschema
import pytest
import requests
import xmlschema

from harness.docker_api import DockerAPI
from harness.ownership import current_session

from .conftest import GRADER, ROOT, SUBMISSIONS, GradedClass, run_grader

pytestmark = pytest.mark.docker
SCHEMAS = ROOT / "tests" / "schemas"
SAMPLES = sorted(p.name for p in SUBMISSIONS.iterdir() if p.is_dir())
#: Students whose outcomes cover every kind the front doors must agree on: all passed (alice), a part
#: that does not build and its cascade (chloe), lint and advice-only findings (jules), a project that
#: does not start and its cascade (karim), a volume lost (lea), official images with a restart
#: policy (marie), a hint without penalty (nathan), a secret cascade (quentin). Every student is
#: graded by `grade` in the session's class run. `check` and `ci` share everything but their front
#: door, so each student goes through one of them, and alice (exit 0) and karim (exit 1) through
#: both: each door meets every exit code and half the kinds, at half the cost of every student twice.
#: `ci` grades the parts one after the other (--parts serial), `grade` and `check` at the same
#: time: the outcomes must not depend on it.
AGREEMENT_SAMPLES = {
    "alice": ("check", "ci"),
    "chloe": ("check",),
    "jules": ("ci",),
    "karim": ("check", "ci"),
    "lea": ("ci",),
    "marie": ("check",),
    "nathan": ("ci",),
    "quentin": ("check",),
}


def _result(path: Path) -> dict[str, Any]:
    return json.loads((path / "result.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _outcomes(result: dict[str, Any], visible_only: bool) -> dict[str, tuple[str, float]]:
    return {
        c["id"]: (c["status"], c["score"])
        for c in result["checks"]
        if not visible_only or c["visibility"] == "visible"
    }


def test_grade_writes_feedback_gradebooks_junit_summary_and_charts(graded_class: GradedClass) -> None:
    out = graded_class.out
    for name in SAMPLES:
        text = (out / name / "feedback.md").read_text(encoding="utf-8")
        assert f"**{name}**" in text
        assert f"{_result(out / name)['score']:g}/" in text
    schema = xmlschema.XMLSchema(SCHEMAS / "junit.xsd")
    schema.validate(str(out / "junit.xml"))
    suites = cast(dict[str, Any], schema.to_dict(str(out / "junit.xml")))["testsuite"]
    assert sorted(s["@name"] for s in suites) == SAMPLES
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["submissions"] == len(SAMPLES)
    assert summary["checks"]["siteweb.builds"]["failed"] == 2  # chloe and daniel
    for png in ("histogram.png", "pass-rate.png"):
        assert (out / png).read_bytes().startswith(b"\x89PNG")
    assert "pass-rate.png" in (out / "report.html").read_text(encoding="utf-8")
    with (out / "gradebook-moodle.csv").open(encoding="utf-8") as handle:
        assert sorted(row["Identifier"] for row in csv.DictReader(handle)) == SAMPLES


def _door(name: str, door: str, tmp: Path) -> dict[str, Any]:
    """`grader check` or `grader ci` on one sample (ci with every file it can write)."""
    out = tmp / door / name
    extra: list[str] = []
    files: dict[str, Path] = {}
    if door == "ci":
        files = {
            kind: tmp / "ci" / f"{name}.{kind}.json" for kind in ("gradescope", "prairielearn", "classroom")
        }
        extra = ["--junit", str(tmp / "ci" / f"{name}.xml"), "--parts", "serial"]
        extra += [arg for kind, path in files.items() for arg in (f"--{kind}", str(path))]
    done = run_grader(
        door, str(SUBMISSIONS / name), "--assignment", "cours2", "--out", str(out), *extra, timeout=1800
    )
    return {"name": name, "door": door, "done": done, "out": out, "files": files}


def test_grade_check_and_ci_agree_on_every_kind_of_outcome(graded_class: GradedClass, tmp_path: Path) -> None:
    assert set(AGREEMENT_SAMPLES) <= set(SAMPLES)
    (tmp_path / "ci").mkdir()
    jobs = [(name, door) for name, doors in AGREEMENT_SAMPLES.items() for door in doors]
    assert {door for _name, door in jobs} == {"check", "ci"}
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(lambda job: _door(job[0], job[1], tmp_path), jobs))
    junit_schema = xmlschema.XMLSchema(SCHEMAS / "junit.xsd")
    exit_codes = set()
    for run in runs:
        name, door, done = run["name"], run["door"], run["done"]
        graded = _outcomes(_result(graded_class.out / name), visible_only=True)
        assert _outcomes(_result(run["out"]), visible_only=False) == graded, (
            f"{name}: {door} and grade disagree"
        )
        all_passed = all(status in ("passed", "skipped") for status, _points in graded.values())
        assert done.returncode == (0 if all_passed else 1), f"{name} ({door}): {done.stderr}"
        exit_codes.add((door, done.returncode))
        if door == "check":
            assert "1 vérification exécutée seulement à la correction finale" in done.stdout
            continue
        junit_schema.validate(str(tmp_path / "ci" / f"{name}.xml"))
        for kind, path in run["files"].items():
            schema = json.loads((SCHEMAS / f"{kind}.schema.json").read_text(encoding="utf-8"))
            jsonschema.validate(json.loads(path.read_text(encoding="utf-8")), schema)
        gradescope = json.loads(run["files"]["gradescope"].read_text(encoding="utf-8"))
        assert gradescope["score"] == sum(points for _status, points in graded.values()), name
    assert exit_codes == {(door, code) for door in ("check", "ci") for code in (0, 1)}


def _graded(out: Path) -> set[str]:
    found = set()
    for path in out.glob("*/result.json"):
        try:
            if json.loads(path.read_text(encoding="utf-8"))["status"] == "graded":
                found.add(path.parent.name)
        except (ValueError, KeyError):
            pass
    return found


def _processes_mentioning(text: str) -> list[int]:
    """Pids of the live processes whose command line holds ``text`` (Linux /proc)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text.encode() in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:
            pass  # ended meanwhile
    return [pid for pid in found if pid != os.getpid()]


def _run_id(pid: int) -> str:
    """The ``--grader-run-id`` of a grading process."""
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    return argv[argv.index(b"--grader-run-id") + 1].decode()


def _wait(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def test_killing_grade_mid_batch_then_rerunning_finishes_only_what_was_unfinished(
    tmp_path: Path, docker_api: DockerAPI
) -> None:
    batch, out = tmp_path / "batch", tmp_path / "out"
    for index in range(3):
        shutil.copytree(SUBMISSIONS / "alice", batch / f"alice-{index}")
    args = [
        "grade",
        str(batch),
        "--assignment",
        "cours2",
        "--out",
        str(out),
        "--jobs",
        "1",
        "--only",
        "siteweb.serves_site",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    grader = subprocess.Popen([*GRADER, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # --jobs 1 grades in name order: once alice-1's grading runs, alice-0 is graded and
        # alice-2 has not started (a killed grader starts nothing more).
        _wait(lambda: bool(_processes_mentioning(str(out / "alice-1"))), 600, "the second grading")
        run_id = _run_id(_processes_mentioning(str(out / "alice-1"))[0])
        _wait(lambda: bool(docker_api.leftovers(run_id).containers), 300, "the second grading's container")
    finally:
        grader.send_signal(signal.SIGKILL)  # no cleanup of its own: its gradings must notice
        grader.wait()
    _wait(
        lambda: not docker_api.leftovers(session=current_session()),
        120,
        "the orphaned grading to clean up after itself",
    )
    _wait(lambda: not _processes_mentioning(str(out)), 60, "the orphaned grading process to end")
    finished = _graded(out)
    assert 1 <= len(finished) < 3
    done = run_grader(*args)
    assert done.returncode == 0, done.stdout + done.stderr
    reused = "1 remise déjà corrigée" if len(finished) == 1 else f"{len(finished)} remises déjà corrigées"
    assert reused in done.stdout, done.stdout
    assert _graded(out) == {f"alice-{i}" for i in range(3)}
    for name in finished:  # results kept, not graded again
        assert name not in re.findall(r"^  (\S+): graded", done.stdout, re.MULTILINE)
    assert not docker_api.leftovers(session=current_session())


def test_shards_merged_give_the_gradebook_of_one_run(tmp_path: Path) -> None:
    only = ["--only", "lint.dockerfiles", "--only", "siteweb.dockerignore"]
    batch = tmp_path / "batch"  # five students: two shards of two and three
    for name in ("alice", "chloe", "daniel", "jules", "marie"):
        shutil.copytree(SUBMISSIONS / name, batch / name, symlinks=True)
    one = run_grader("grade", str(batch), "--assignment", "cours2", "--out", str(tmp_path / "one"), *only)
    assert one.returncode == 0, one.stderr
    for index in (1, 2):
        shard = run_grader(
            "grade",
            str(batch),
            "--assignment",
            "cours2",
            "--out",
            str(tmp_path / f"s{index}"),
            "--shard",
            f"{index}/2",
            *only,
        )
        assert shard.returncode == 0, shard.stderr
    assert _graded(tmp_path / "s1").isdisjoint(_graded(tmp_path / "s2"))
    merged = run_grader(
        "merge",
        str(tmp_path / "s1"),
        str(tmp_path / "s2"),
        "--assignment",
        "cours2",
        "--out",
        str(tmp_path / "merged"),
    )
    assert merged.returncode == 0, merged.stderr
    for name in ("gradebook.csv", "gradebook-moodle.csv", "summary.json"):
        one_text = (tmp_path / "one" / name).read_text(encoding="utf-8")
        assert (tmp_path / "merged" / name).read_text(encoding="utf-8") == one_text, name
    assert "jules" in (tmp_path / "merged" / "gradebook.csv").read_text(encoding="utf-8")
    xmlschema.XMLSchema(SCHEMAS / "junit.xsd").validate(str(tmp_path / "merged" / "junit.xml"))


def test_the_student_kit_grades_without_the_reference_solution(tmp_path: Path) -> None:
    made = run_grader("kit", "--assignment", "cours2", str(tmp_path / "kit"))
    assert made.returncode == 0, made.stderr
    nowhere = tmp_path / "no-reference"
    nowhere.mkdir()
    done = run_grader(
        "check",
        str(SUBMISSIONS / "bruno"),
        "--assignment",
        str(tmp_path / "kit" / "cours2"),
        "--only",
        "siteweb.image_size",
        "--only",
        "siteweb.serves_site",
        "--out",
        str(tmp_path / "out"),
        env={"GRADER_REFERENCE_DIR": str(nowhere)},
    )
    assert done.returncode == 1, done.stdout + done.stderr
    outcomes = _outcomes(_result(tmp_path / "out"), visible_only=False)
    assert outcomes == {"siteweb.serves_site": ("failed", 0.0), "siteweb.image_size": ("passed", 3.0)}
    assert "1 vérification exécutée seulement à la correction finale" in done.stdout


def test_a_moodle_export_is_graded_under_participant_numbers(tmp_path: Path) -> None:
    inner = tmp_path / "chloe.zip"
    shutil.make_archive(str(tmp_path / "chloe"), "zip", SUBMISSIONS / "chloe")
    export = tmp_path / "class" / "moodle-export.zip"
    export.parent.mkdir()
    with zipfile.ZipFile(export, "w") as archive:
        for path in sorted((SUBMISSIONS / "alice").rglob("*")):
            if path.is_file():
                rel = path.relative_to(SUBMISSIONS / "alice").as_posix()
                archive.write(path, f"Alice Martin_1001_assignsubmission_file_/{rel}")
        archive.write(inner, "Chloé Roy_1002_assignsubmission_file_/remise.zip")
    done = run_grader(
        "grade",
        str(export),
        "--assignment",
        "cours2",
        "--out",
        str(tmp_path / "out"),
        "--only",
        "siteweb.builds",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    with (tmp_path / "out" / "gradebook-moodle.csv").open(encoding="utf-8") as handle:
        rows = {row["Identifier"]: row for row in csv.DictReader(handle)}
    assert rows["Participant 1001"]["Full name"] == "Alice Martin"
    assert rows["Participant 1001"]["Grade"] == "5"
    assert rows["Participant 1002"]["Grade"] == "0"


def test_keep_leaves_the_stack_reachable_until_clean(docker_api: DockerAPI) -> None:
    done = run_grader(
        "check",
        str(SUBMISSIONS / "alice"),
        "--assignment",
        "cours2",
        "--only",
        "siteweb.serves_site",
        "--keep",
    )
    try:
        assert done.returncode == 0, done.stdout + done.stderr
        port = re.search(r"http://127\.0\.0\.1:(\d+)", done.stdout)
        assert port, done.stdout
        page = requests.get(f"http://127.0.0.1:{port.group(1)}/", timeout=10)
        assert page.status_code == 200
        assert '<html lang="fr">' in page.text
        assert "grader clean" in done.stdout
    finally:
        cleaned = run_grader("clean")
    assert cleaned.returncode == 0, cleaned.stderr
    assert not docker_api.leftovers(session=current_session())
