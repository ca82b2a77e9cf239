"""Grades submissions: each one in its own pytest process, with its own run id and cleanup.

A grading process is started in its own session so that a timeout or Ctrl-C can stop it
and everything it started; it then cleans up after itself (its fixtures take the stacks
down), and the runner sweeps the run's label once more in any case.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from . import __version__
from .assignment import Assignment, checks_root
from .base_images import ImageOutcome, ImageSupply, class_images, unavailable_message
from .buildcache import remove_build_caches
from .docker_api import DockerAPI
from .errors import GraderError, IntakeError
from .fingerprint import assignment_hash, result_key
from .i18n import _
from .intake import intake, submission_name
from .ownership import OWNER_ENV, current_owner
from .processes import POSIX_GROUPS, stop_group
from .results import CheckResult, CheckStatus, SubmissionResult, inert

GRADING_INI = Path(__file__).parent / "grading.ini"
_SCRUBBED_ENV = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTHONPATH", "PYTHONSTARTUP", "COMPOSE_FILE")
#: How long a stopped grading may take to clean up before it is killed.
STOP_GRACE_S = 90.0


class Job(NamedTuple):
    """One submission to grade: where it is, where its results go, and its key when planned."""

    source: Path
    out_dir: Path
    key: str = ""


def new_run_id() -> str:
    return secrets.token_hex(5)


@dataclass(frozen=True)
class GradeOptions:
    language: str = "fr"
    visibility: str = "all"  # "visible" for a student's self-check
    only: Sequence[str] = ()
    #: Record the facts of this (reference) submission into this file instead of comparing.
    record: Path | None = None
    #: Leave the stacks running after the grading, to debug them (``grader clean`` removes them).
    keep: bool = False


@dataclass
class Runner:
    """Runs gradings; remembers the live ones so that Ctrl-C can stop them all cleanly."""

    assignment: Assignment
    options: GradeOptions = field(default_factory=GradeOptions)
    docker: DockerAPI = field(default_factory=DockerAPI)
    _live: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopping: threading.Event = field(default_factory=threading.Event)
    #: Keys computed by plan(), each used once by the grade() of the same source.
    #: The images gradings start from, each had once for all of them (prepare_images, grade).
    images: ImageSupply = field(init=False)

    def __post_init__(self) -> None:
        self.images = ImageSupply(self.docker, pull_timeout_s=self.assignment.limits.build_timeout_s)

    def prepare_images(self, sources: Iterable[Path]) -> list[tuple[ImageOutcome, int]]:
        """Before gradings start: every image the submissions name, looked up and, when absent,
        pulled once; each with how many submissions need it."""
        needs = class_images(sources, self.assignment)
        return [(outcome, needs[outcome.image]) for outcome in self.images.ensure(needs)]

    def grade(
        self,
        source: Path,
        out_dir: Path,
        on_check: Callable[[CheckResult], None] | None = None,
        on_start: Callable[[str], None] | None = None,
        key: str = "",
    ) -> SubmissionResult:
        """Grade ``source``; write ``out_dir/result.json`` and ``out_dir/grading.log``.

        ``on_start`` is called with each check's id as it starts, ``on_check`` with each
        check's result as soon as it is known. ``key`` is the result's key when :meth:`plan`
        has computed it already (else it is computed here).
        """
        run_id = new_run_id()
        name = submission_name(source)
        out_dir = out_dir.resolve()  # the grading process runs in a folder of its own
        out_dir.mkdir(parents=True, exist_ok=True)
        result_path = out_dir / "result.json"
        result_path.unlink(missing_ok=True)
        started = time.monotonic()
        key = ""
        with tempfile.TemporaryDirectory(prefix=f"grader-{run_id}-") as tmp:
            try:
                key = key or self.key(source)
                parts = [p.directory for p in self.assignment.parts.values()]
                root = intake(source, Path(tmp), self.assignment.intake, parts)
            except IntakeError as exc:
                result = self._every_check(name, run_id, "failed", str(exc))
            except Exception as exc:
                # Not a refusal the intake knows how to word: the grader's failure, never a zero,
                # and never the end of the batch.
                message = _(
                    "La remise n'a pas pu être lue ({kind} : {error}) ; elle sera corrigée à nouveau."
                )
                result = self._every_check(
                    name, run_id, "error", message.format(kind=type(exc).__name__, error=str(exc)[:300])
                )
            else:
                blocked = self.images.unavailable_for(root, self.assignment)
                if blocked:
                    result = self._every_check(name, run_id, "error", unavailable_message(blocked))
                else:
                    progress = _Progress(Path(tmp) / "progress.jsonl", on_check, on_start)
                    result = self._run_checks(root, name, run_id, key, Path(tmp), out_dir, progress)
        result.duration_s = time.monotonic() - started
        result.key = key
        result.write(result_path)
        return result

    @functools.cached_property
    def _assignment_key(self) -> str:
        return assignment_hash(self.assignment)

    def key(self, source: Path) -> str:
        """What a result of ``source`` depends on: content, assignment, grader, and these options."""
        key = result_key(source, self._assignment_key)
        if self.options.only:
            key += "-only:" + ",".join(sorted(self.options.only))
        return key + ("-visible" if self.options.visibility == "visible" else "")

    def plan(
        self, pairs: Sequence[tuple[Path, Path]], *, regrade: bool = False
    ) -> tuple[list[Job], list[SubmissionResult], dict[str, SubmissionResult]]:
        """Split a class into (to grade, reused results, previous results of those to grade).

        A result is reused when it was graded (not ``error``) from the same key; ``regrade``
        grades everything again. Previous results let the caller say what changed.
        """
        todo: list[Job] = []
        reused: list[SubmissionResult] = []
        previous: dict[str, SubmissionResult] = {}
        for source, out_dir in pairs:
            old = _read_result(out_dir / "result.json")
            try:
                key = self.key(source)
            except Exception:
                key = ""  # unreadable: graded (and the reason said) by grade(), never reused
            if old is not None and not regrade and old.status == "graded" and key and old.key == key:
                reused.append(old)
                continue
            if old is not None:
                previous[old.submission] = old
            todo.append(Job(source, out_dir, key))  # grade() takes the key rather than hashing again
        return todo, reused, previous

    def _every_check(self, name: str, run_id: str, status: CheckStatus, reason: str) -> SubmissionResult:
        """A result where every selected check has ``status`` for one ``reason``."""
        selected = self.assignment.selected(self.options.visibility, self.options.only)
        checks = [spec.unrun(status, reason) for spec in selected]
        return self._result(
            name, run_id, checks=checks, message=reason, infrastructure_error=status == "error"
        )

    def _result(self, name: str, run_id: str, **kwargs: object) -> SubmissionResult:
        return SubmissionResult(
            submission=name,
            assignment=self.assignment.id,
            run_id=run_id,
            language=self.options.language,
            grader_version=__version__,
            **kwargs,  # type: ignore[arg-type]
        )

    @staticmethod
    def _interpreter(name: str) -> list[str]:
        """Python for the grading process; under pyinstrument when GRADER_PROFILE names a folder."""
        profile = os.environ.get("GRADER_PROFILE")
        if not profile:
            return [sys.executable, "-P"]
        # pyinstrument needs sys.path[0] to be a real folder, which -P replaces: without -P it is
        # the grading's working directory, its private empty folder, never the submission.
        report = Path(profile).resolve() / f"{name}.txt"
        report.parent.mkdir(parents=True, exist_ok=True)
        return [sys.executable, "-m", "pyinstrument", "-r", "text", "-o", str(report)]

    def _command(
        self, root: Path, name: str, run_id: str, key: str, workdir: Path, out_dir: Path
    ) -> list[str]:
        command = [
            *self._interpreter(name), "-m", "pytest",
            "-c", str(GRADING_INI),
            "--rootdir", str(checks_root()),
            "--confcutdir", str(self.assignment.directory),
            "-p", "harness.plugin",
            str(self.assignment.directory),
            "--grader-submission", str(root),
            "--grader-name", name,
            "--grader-assignment", str(self.assignment.directory),
            "--grader-result", str(out_dir / "result.json"),
            "--grader-key", key,
            "--grader-run-id", run_id,
            "--grader-workdir", str(workdir / "work"),
            "--grader-progress", str(workdir / "progress.jsonl"),
            "--grader-lang", self.options.language,
            "--grader-visibility", self.options.visibility,
        ]  # fmt: skip
        for check_id in self.options.only:
            command += ["--grader-only", check_id]
        if self.options.record is not None:
            command += ["--grader-record", str(self.options.record)]
        if self.options.keep:
            command.append("--grader-keep")
        return command

    def _run_checks(
        self,
        root: Path,
        name: str,
        run_id: str,
        key: str,
        workdir: Path,
        out_dir: Path,
        progress: _Progress,
    ) -> SubmissionResult:
        log_path, result_path = out_dir / "grading.log", out_dir / "result.json"
        env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        env[OWNER_ENV] = current_owner()  # the grader owns the run, not this short-lived process
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        timed_out = False
        try:
            with log_path.open("wb") as log:
                proc = subprocess.Popen(
                    self._command(root, name, run_id, key, workdir, out_dir),
                    cwd=workdir,  # never the submission, nor the caller's folder
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=POSIX_GROUPS,
                )
                with self._lock:
                    self._live[run_id] = proc
                deadline = time.monotonic() + self.assignment.limits.submission_timeout_s
                while True:
                    try:
                        proc.wait(timeout=0.2)
                        break
                    except subprocess.TimeoutExpired:
                        progress.relay()
                        if time.monotonic() > deadline:
                            timed_out = True
                            stop_grading(proc)
                            break
                progress.relay()
        finally:
            with self._lock:
                self._live.pop(run_id, None)
            _make_inert(log_path)
            # When the daemon is gone, `grader clean` sweeps later and the result says error.
            if not (self.options.keep and not timed_out and not self._stopping.is_set()):
                with contextlib.suppress(GraderError):
                    self.docker.sweep(run_id)
                    remove_build_caches(self.docker, run_id)
        if result_path.is_file() and not timed_out:
            return SubmissionResult.read(result_path)
        if timed_out:
            message = _("La correction a dépassé la limite de {s} secondes et a été arrêtée.").format(
                s=int(self.assignment.limits.submission_timeout_s)
            )
        elif self._stopping.is_set():
            message = _("La correction a été interrompue.")
        else:
            tail = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-8:]
            message = _("Le processus de correction a échoué :") + "\n" + "\n".join(tail)
        return self._every_check(name, run_id, "error", message)

    def stop_all(self) -> None:
        """Ask every live grading to stop and clean up (used on Ctrl-C)."""
        self._stopping.set()
        with self._lock:
            live = list(self._live.values())
        threads = [threading.Thread(target=stop_grading, args=(p,)) for p in live]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def grade_many(
        self,
        sources: Iterable[Job | tuple[Path, Path]],
        jobs: int,
        on_done: Callable[[SubmissionResult], None] | None = None,
        on_phase: Callable[[str, str], None] | None = None,
    ) -> list[SubmissionResult]:
        """Grade (source, out_dir) pairs, ``jobs`` at a time; one failure never stops the others.

        ``on_phase(name, check_id)`` follows each grading live; ``on_done`` gets each result.
        """
        results: list[SubmissionResult] = []

        def one(pair: Job | tuple[Path, Path]) -> SubmissionResult | None:
            if self._stopping.is_set():
                return None
            job = Job(*pair)
            name = submission_name(job.source)
            if on_phase is not None:
                on_phase(name, "intake")
            phase = functools.partial(on_phase, name) if on_phase is not None else None
            result = self.grade(job.source, job.out_dir, on_start=phase, key=job.key)
            if on_done is not None:
                on_done(result)
            return result

        pool = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="grade")
        try:
            futures = [pool.submit(one, pair) for pair in sources]
            for future in futures:
                while True:  # wait in short slices so Ctrl-C reaches the main thread
                    try:
                        outcome = future.result(timeout=0.5)
                        break
                    except TimeoutError:
                        continue
                if outcome is not None:
                    results.append(outcome)
        except BaseException:
            self.stop_all()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        return results


@dataclass
class _Progress:
    """Follows a grading's progress file: each check that starts, each result as it is known."""

    path: Path
    on_check: Callable[[CheckResult], None] | None
    on_start: Callable[[str], None] | None = None
    offset: int = 0

    def relay(self) -> None:
        if (self.on_check is None and self.on_start is None) or not self.path.is_file():
            return
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            data = handle.read()
        complete = data[: data.rfind(b"\n") + 1]  # a line being written waits for the next look
        self.offset += len(complete)
        for line in complete.decode("utf-8").splitlines():
            event = json.loads(line)
            if event.pop("event", "result") == "start":
                if self.on_start is not None:
                    self.on_start(str(event["id"]))
            elif self.on_check is not None:
                self.on_check(CheckResult.from_dict(event))


def _make_inert(log_path: Path) -> None:
    """Escape the control characters of a grading's log: it holds what the submission printed."""
    with contextlib.suppress(OSError):
        text = log_path.read_bytes().decode("utf-8", "replace")
        tmp = log_path.with_name(log_path.name + ".tmp")
        tmp.write_text(inert(text), encoding="utf-8")
        tmp.replace(log_path)


def _read_result(path: Path) -> SubmissionResult | None:
    try:
        return SubmissionResult.read(path)
    except (OSError, ValueError, KeyError):
        return None  # absent, or cut short by a killed run: grade again


def stop_grading(proc: subprocess.Popen[bytes]) -> None:
    """SIGINT (pytest runs its cleanup), then SIGKILL if cleanup hangs."""
    stop_group(proc, signal.SIGINT, grace=STOP_GRACE_S)
