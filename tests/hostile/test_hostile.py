"""Hostile and broken submissions, graded for real in one batch beside good ones.

For every case: the batch completes, the case gets its expected status with a clear
feedback sentence, the good submissions' scores are what they are alone, no process of the
grader's grows past 1 GiB, and nothing labelled by the grader remains.

Cases live in ``cases/`` (fixed files) and in the ``make_*.py`` modules beside this one (made at
run time: archives, links, huge files); their expected outcomes in the ``expected*.yaml`` files.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
import threading
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import yaml

from harness.docker_api import DockerAPI
from harness.ownership import SESSION_LABEL, current_session

from ..integration.conftest import ASSIGNMENTS, GRADER, ROOT, run_grader
from .make_intake import OUTSIDE_PATHS

pytestmark = [pytest.mark.docker, pytest.mark.every_engine]
HERE = Path(__file__).parent
HOSTILE = str(ASSIGNMENTS / "hostile")
PWNED = Path("/tmp/grader-hostile-pwned")
LOG_LIMIT = 3 * 1024 * 1024  # the sandbox caps container logs at 1 MiB; json framing adds a little
#: No process of the grader's (the CLI, grading processes, Compose, git) may grow past this.
RSS_LIMIT = 1024**3
#: What the batch printed (stdout and stderr), beside its output folder.
TERMINAL = "terminal.txt"


def _make_generated_cases(root: Path) -> None:
    good = HERE / "cases" / "good"
    big = root / "huge-context"
    shutil.copytree(good, big)
    with (big / "app" / "enorme.bin").open("wb") as handle:  # 2 GB, sparse: no disk is used
        handle.truncate(2 * 1024**3)
    with zipfile.ZipFile(root / "zip-slip.zip", "w") as archive:
        archive.writestr("app/compose.yaml", "services: {}\n")
        archive.writestr("../../../../tmp/grader-zip-slip.txt", "x")
    with zipfile.ZipFile(root / "zip-absolute.zip", "w") as archive:
        archive.writestr("/tmp/grader-zip-absolute.txt", "x")
    for name, target in (
        ("symlink-passwd", "/etc/passwd"),
        ("symlink-grader", "../../../../../harness/plugin.py"),
    ):
        shutil.copytree(good, root / name)
        (root / name / "app" / "files" / "lien").symlink_to(target)
    (root / "empty").mkdir()
    hijack = root / "pytest-hijack"
    shutil.copytree(good, hijack)
    payload = f"open({str(PWNED)!r}, 'w').write('owned')\n"
    (hijack / "conftest.py").write_text(payload)
    (hijack / "pytest.ini").write_text("[pytest]\naddopts = -p conftest --grader-visibility all -x\n")
    (hijack / "pyproject.toml").write_text("[tool.pytest.ini_options]\naddopts = '-p conftest'\n")
    (hijack / "pytest.py").write_text(payload)
    (hijack / "harness").mkdir()
    (hijack / "harness" / "__init__.py").write_text(payload)


def _descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat[stat.rfind(")") + 2 :].split()[1])
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += [child for child, parent in parents.items() if parent == current]
    return found


def _rss(pid: int) -> tuple[str, int]:
    """(command name, resident memory in bytes) of ``pid``; ("", 0) once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return "", 0
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return fields.get("Name", "").strip(), int(fields.get("VmHWM", "0 kB").split()[0]) * 1024


def _make_cases(root: Path) -> None:
    _make_generated_cases(root)
    for module in sorted(HERE.glob("make_*.py")):
        importlib.import_module(f"{__package__}.{module.stem}").make(root)


@pytest.fixture(scope="module")
def graded(
    tmp_path_factory: pytest.TempPathFactory, host_files_before: dict[str, tuple[int, int]]
) -> tuple[Path, dict[str, int]]:
    """The whole class graded once with --jobs 2 (after the host's files were listed); also the
    largest log file seen while it ran, and the peak resident memory of each process of the
    grader's ("rss:<name>")."""
    root = tmp_path_factory.mktemp("hostile")
    batch = root / "batch"
    shutil.copytree(HERE / "cases", batch)
    _make_cases(batch)
    for path in (PWNED, *OUTSIDE_PATHS):
        path.unlink(missing_ok=True)
    api = DockerAPI()
    largest = {"log_bytes": 0}
    stop = threading.Event()
    command = [
        *GRADER,
        "grade",
        str(batch),
        "--out",
        str(root / "out"),
        "--jobs",
        "2",
        "--assignment",
        HOSTILE,
    ]
    grader = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )

    def watch_memory() -> None:
        while not stop.wait(0.2):
            for pid in _descendants(grader.pid):
                name, rss = _rss(pid)
                if name:
                    largest[f"rss:{name}"] = max(largest.get(f"rss:{name}", 0), rss)

    def watch_logs() -> None:
        while not stop.wait(0.5):
            for summary in api.client.api.containers(
                filters={"label": ["hostile.case=log-flood", f"{SESSION_LABEL}={current_session()}"]}
            ):
                try:
                    path = api.inspect_container(summary["Id"]).get("LogPath") or ""
                    largest["log_bytes"] = max(largest["log_bytes"], Path(path).stat().st_size)
                except Exception:
                    continue

    watchers = [threading.Thread(target=watch_logs), threading.Thread(target=watch_memory)]
    for watcher in watchers:
        watcher.start()
    try:
        stdout, stderr = grader.communicate(timeout=1800)
    finally:
        stop.set()
        for watcher in watchers:
            watcher.join()
        if grader.poll() is None:
            grader.kill()
    (root / TERMINAL).write_text(stdout + stderr, encoding="utf-8")
    assert grader.returncode == 0, stdout + stderr
    assert (root / "out" / "gradebook.csv").is_file(), "the batch that holds every case ends with a gradebook"
    return root / "out", largest


def _check(out: Path, name: str) -> dict[str, object]:
    data = json.loads((out / name / "result.json").read_text(encoding="utf-8"))
    assert data["status"] == "graded", (name, data)
    (check,) = data["checks"]
    return check  # type: ignore[no-any-return]


EXPECTED: dict[str, dict[str, str]] = {}
for _file in sorted(HERE.glob("expected*.yaml")):
    EXPECTED.update(yaml.safe_load(_file.read_text(encoding="utf-8")))


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_each_case_gets_its_status_and_a_clear_sentence(
    graded: tuple[Path, dict[str, int]], case: str
) -> None:
    out, _ = graded
    check = _check(out, case)
    expected = EXPECTED[case]
    assert check["status"] == expected["status"], check
    if "says" in expected:
        feedback = str(check["feedback"])
        assert expected["says"] in feedback, feedback
        assert 0 < len(feedback.splitlines()[0]) <= 300, "the first line is one sentence"


def test_the_submission_never_configured_pytest_or_ran_on_the_host(
    graded: tuple[Path, dict[str, int]],
) -> None:
    assert not PWNED.exists(), "a conftest.py, ini file or module of the submission was loaded"
    for path in (Path("/tmp/grader-zip-slip.txt"), Path("/tmp/grader-zip-absolute.txt"), *OUTSIDE_PATHS):
        assert not path.exists(), f"{path} was written outside the private copy"


def test_no_host_file_was_changed_or_read_into_feedback(
    host_files_before: dict[str, tuple[int, int]], graded: tuple[Path, dict[str, int]]
) -> None:
    out, _ = graded
    assert _host_files() == host_files_before, "a file under /etc changed during the batch"
    secrets = [line for line in _host_secrets() if len(line) >= 6]
    for result in out.glob("*/result.json"):
        text = result.read_text(encoding="utf-8")
        for secret in secrets:
            assert secret not in text, f"{result.parent.name}'s feedback quotes a host file: {secret!r}"


def _host_files() -> dict[str, tuple[int, int]]:
    """Every file under /etc: (size, modification time)."""
    found = {}
    for path in Path("/etc").rglob("*"):
        try:
            info = path.lstat()
        except OSError:
            continue
        found[str(path)] = (info.st_size, info.st_mtime_ns)
    return found


def _host_secrets() -> list[str]:
    """Lines of host files the hostile cases point links at, which no feedback may quote."""
    lines = []
    for name in ("/etc/hostname", "/etc/passwd", "/etc/os-release"):
        try:
            lines += Path(name).read_text(encoding="utf-8").strip().splitlines()[:1]
        except OSError:
            continue
    return lines


@pytest.fixture(scope="module")
def host_files_before() -> dict[str, tuple[int, int]]:
    return _host_files()


def test_no_process_of_the_grader_grows_past_one_gib(graded: tuple[Path, dict[str, int]]) -> None:
    _, measured = graded
    peaks = {k: v for k, v in measured.items() if k.startswith("rss:")}
    assert peaks.get("rss:python3", peaks.get("rss:python", 0)) > 0, (
        f"the grader's processes were measured: {peaks}"
    )
    assert max(peaks.values()) < RSS_LIMIT, peaks


def test_a_flooding_container_log_stays_capped(graded: tuple[Path, dict[str, int]]) -> None:
    _, largest = graded
    assert 0 < largest["log_bytes"] <= LOG_LIMIT, largest


def test_good_submissions_score_as_they_do_alone(graded: tuple[Path, dict[str, int]], tmp_path: Path) -> None:
    out, _ = graded
    alone = run_grader("check", str(HERE / "cases" / "good"), "--assignment", HOSTILE, "--out", str(tmp_path))
    assert alone.returncode == 0, alone.stdout + alone.stderr
    solo = json.loads((tmp_path / "result.json").read_text(encoding="utf-8"))["score"]
    for name in ("good", "good-twin", "pytest-hijack"):
        assert json.loads((out / name / "result.json").read_text(encoding="utf-8"))["score"] == solo == 1


def test_nothing_labelled_remains_after_the_batch(
    graded: tuple[Path, dict[str, int]], docker_api: DockerAPI
) -> None:
    assert not docker_api.leftovers(session=current_session())


def test_the_batch_left_the_repository_untouched(graded: tuple[Path, dict[str, int]]) -> None:
    assert (ROOT / "harness" / "plugin.py").is_file()


#: A submission's control characters, had they reached an output raw: C0 but tab and newline, DEL,
#: C1, bidi controls and the Unicode line separators.
RAW_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


def test_no_output_of_the_batch_holds_a_raw_control_character(graded: tuple[Path, dict[str, int]]) -> None:
    out, _ = graded
    checked: set[str] = set()
    for path in sorted(out.rglob("*")):
        if not path.is_file() or path.suffix == ".png":
            continue
        found = RAW_CONTROL.search(path.read_text(encoding="utf-8"))
        assert found is None, f"{path.relative_to(out)!r} holds {found.group()!r}" if found else ""
        checked.add(path.name)
    exports = {
        "feedback.md",
        "result.json",
        "gradebook.csv",
        "junit.xml",
        "report.html",
        "summary.json",
        "grading.log",
    }
    assert exports <= checked, checked
    ET.parse(out / "junit.xml")  # still valid XML
    shown = (out / "output-escapes" / "feedback.md").read_text(encoding="utf-8")
    assert "\\x1b[2J\\x1b[H" in shown, "the escape sequences are shown, escaped"
    assert "\\u202e" in shown
    terminal = (out.parent / TERMINAL).read_text(encoding="utf-8")
    assert RAW_CONTROL.search(terminal) is None, "the terminal got a raw control character"
    assert "output-name-\\x1b[2J" in terminal, "a hostile name is printed escaped"
    assert not any(line.lstrip().startswith("::") or "##[" in line for line in terminal.splitlines())
