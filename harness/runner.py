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
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from . import __version__, cgroups
from .assignment import Assignment, CheckSpec, Limits, checks_root
from .base_images import ImageOutcome, ImageSupply, class_images, unavailable_message
from .buildcache import remove_build_caches
from .docker_api import DockerAPI
from .errors import GraderError, IntakeError
from .fingerprint import assignment_hash, result_key
from .i18n import _
from .intake import intake, submission_name
from .ownership import OWNER_ENV, current_owner
from .processes import POSIX_GROUPS, stop_group
from .recheck import CheckCache
from .results import CheckResult, CheckStatus, SubmissionResult, inert

GRADING_INI = Path(__file__).parent / "grading.ini"
# The grading processes run in their own working folder: a relative interpreter path (Python
# started through a relative PATH entry such as `.venv/bin`) would not be found from there. Not
# resolved: a virtual environment's interpreter is a link, and resolving it would leave the venv.
_PYTHON = str(Path(sys.executable).absolute())
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
    #: "concurrent": the parts of one submission are graded at the same time, each in its own
    #: process (:meth:`Assignment.groups`); "serial": one process grades them one after the other.
    parts: str = "concurrent"
    #: A self-check's memory of earlier runs (``grader check`` only): unchanged groups are reused.
    cache: CheckCache | None = None


@dataclass
class Runner:
    """Runs gradings; remembers the live ones so that Ctrl-C can stop them all cleanly."""

    assignment: Assignment
    options: GradeOptions = field(default_factory=GradeOptions)
    docker: DockerAPI = field(default_factory=DockerAPI)
    _live: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopping: threading.Event = field(default_factory=threading.Event)
    #: The images gradings start from, each had once for all of them (prepare_images, grade).
    images: ImageSupply = field(init=False)
    #: The run ids of each grading's processes (one, or one a group of checks), by its run id.
    run_ids: dict[str, list[str]] = field(default_factory=dict)
    #: The checks a self-check took from its cache rather than running them, and since when.
    reused: dict[str, datetime] = field(default_factory=dict)

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
        ordered = _InOrder([spec.id for spec in self._selected()], on_check)
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
                    one = _OneGrading(root, name, run_id, key, Path(tmp), out_dir, ordered.add, on_start)
                    result = self._run_checks(one)
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

    def _selected(self) -> list[CheckSpec]:
        return self.assignment.selected(self.options.visibility, self.options.only)

    def _every_check(self, name: str, run_id: str, status: CheckStatus, reason: str) -> SubmissionResult:
        """A result where every selected check has ``status`` for one ``reason``."""
        checks = [spec.unrun(status, reason) for spec in self._selected()]
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
            return [_PYTHON, "-P"]
        # pyinstrument needs sys.path[0] to be a real folder, which -P replaces: without -P it is
        # the grading's working directory, its private empty folder, never the submission.
        report = Path(profile).resolve() / f"{name}.txt"
        report.parent.mkdir(parents=True, exist_ok=True)
        return [_PYTHON, "-m", "pyinstrument", "-r", "text", "-o", str(report)]

    def _command(self, root: Path, name: str, key: str, unit: _Unit, cgroup: str) -> list[str]:
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
            "--grader-result", str(unit.result),
            "--grader-key", key,
            "--grader-run-id", unit.run_id,
            "--grader-workdir", str(unit.workdir),
            "--grader-progress", str(unit.progress),
            "--grader-lang", self.options.language,
            "--grader-visibility", self.options.visibility,
        ]  # fmt: skip
        for check_id in unit.only:
            command += ["--grader-only", check_id]
        if cgroup:
            command += ["--grader-cgroup", cgroup]
        if self.options.record is not None:
            command += ["--grader-record", str(self.options.record)]
        if self.options.keep:
            command.append("--grader-keep")
        return command

    def _units(
        self, groups: list[tuple[str, list[str]]], whole: bool, run_id: str, workdir: Path, out_dir: Path
    ) -> list[_Unit]:
        """The grading processes for ``groups``: one a part when parts run at the same time, else
        one for all (``whole``: every selected check, as ``--only`` chose them)."""
        if len(groups) > 1 and groups[-1][0] == "":
            # The checks that read every part are short (a lint, a probe): they run in the first
            # part's process, after its own checks, rather than in one more process (a process
            # costs about a second of CPU: a batch is CPU-bound, bench/README.md).
            (first, first_ids), *middle, (_all, rest) = groups
            groups = [(f"{first}+*", [*first_ids, *rest]), *middle]
        concurrent = self.options.parts == "concurrent" and self.options.record is None and len(groups) > 1
        if not concurrent:
            only = tuple(self.options.only) if whole else tuple(i for _group, ids in groups for i in ids)
            checks = tuple(i for _group, ids in groups for i in ids)
            log, result = out_dir / "grading.log", out_dir / "result.json"
            return [
                _Unit("", checks, only, run_id, result, log, workdir / "progress.jsonl", workdir / "work")
            ]
        return [
            _Unit(
                group,
                tuple(ids),
                tuple(ids),
                f"{run_id}p{index}",
                workdir / f"result-{index}.json",
                workdir / f"grading-{index}.log",
                workdir / f"progress-{index}.jsonl",
                workdir / f"work-{index}",
            )
            for index, (group, ids) in enumerate(groups)
        ]

    def _run_checks(self, one: _OneGrading) -> SubmissionResult:
        """Run the selected checks (those a self-check cannot reuse) and gather their results."""
        root, name, run_id, _key, workdir, out_dir, on_check, _on_start = one
        groups = self.assignment.groups(self._selected())
        cache, keys, todo = self.options.cache, {}, groups
        if not groups or not set(self.options.only) <= set(self.assignment.checks):
            # Nothing to split: one process, which says what is wrong with --only (or grades nothing).
            cache, todo = None, [("", [])]
        found: dict[str, CheckResult] = {}
        if cache is not None:
            options = [self.options.language, self.options.visibility, *sorted(self.options.only)]
            todo = []
            for group, ids in groups:
                keys[group] = cache.key(self.assignment, self._assignment_key, group, root, options)
                kept = cache.get(self.assignment.id, keys[group], ids)
                if kept is None:
                    todo.append((group, ids))
                    continue
                for check in kept.checks:
                    self.reused[check.id] = kept.at
                    found[check.id] = check
                    on_check(check)
        whole = cache is None or len(todo) == len(groups)
        units = self._units(todo, whole, run_id, workdir, out_dir) if todo else []
        self.run_ids[run_id] = [unit.run_id for unit in units]
        messages: list[str] = []
        if units:
            ran, messages = self._run_units(units, one)
            found.update(ran)
        if cache is not None:
            now = datetime.now().astimezone()
            for group, ids in todo:
                if all(check_id in found for check_id in ids):
                    cache.put(self.assignment.id, keys[group], [found[i] for i in ids], now)
        checks = [found[spec.id] for spec in self._selected() if spec.id in found]
        message = "\n".join(dict.fromkeys(m for m in messages if m))
        return self._result(name, run_id, checks=checks, message=message, infrastructure_error=bool(message))

    def _run_units(self, units: list[_Unit], one: _OneGrading) -> tuple[dict[str, CheckResult], list[str]]:
        """Start every unit's grading process, follow them until they end or the submission's time
        is up, clean up after them; their results, and why any unit has none."""
        root, name, run_id, key, _workdir, out_dir, on_check, on_start = one
        env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        env[OWNER_ENV] = current_owner()  # the grader owns the run, not this short-lived process
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        # Parts graded at the same time share one budget: the runner makes the grading's cgroup.
        shared = self._shared_cgroup(run_id) if len(units) > 1 else None
        timed_out = False
        procs: list[tuple[_Unit, subprocess.Popen[bytes]]] = []
        progress = [_Progress(unit.progress, on_check, on_start) for unit in units]
        try:
            for unit in units:
                with unit.log.open("wb") as log:
                    proc = subprocess.Popen(
                        self._command(root, name, key, unit, shared.name if shared else ""),
                        cwd=unit.workdir.parent,  # never the submission, nor the caller's folder
                        env=env,
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=POSIX_GROUPS,
                    )
                with self._lock:
                    self._live[unit.run_id] = proc
                procs.append((unit, proc))
            deadline = time.monotonic() + self.assignment.limits.submission_timeout_s
            while any(proc.poll() is None for _unit, proc in procs):
                time.sleep(0.2)
                for follower in progress:
                    follower.relay()
                if time.monotonic() > deadline:
                    timed_out = True
                    _stop_together([proc for _unit, proc in procs])
                    break
            for follower in progress:
                follower.relay()
        except BaseException as exc:  # Ctrl-C in `grader check`: its processes clean up first
            if not isinstance(exc, Exception):
                self._stopping.set()  # an interrupt stops the run; a failure here, this grading only
            _stop_together([proc for _unit, proc in procs])
            raise
        finally:
            with self._lock:
                for unit, _proc in procs:
                    self._live.pop(unit.run_id, None)
            for unit in units:
                _make_inert(unit.log)
            # When the daemon is gone, `grader clean` sweeps later and the result says error.
            if not (self.options.keep and not timed_out and not self._stopping.is_set()):
                with contextlib.suppress(GraderError):
                    for unit in units:
                        self.docker.sweep(unit.run_id)
                        remove_build_caches(self.docker, unit.run_id)
            if shared is not None:
                shared.remove()
            if len(units) > 1:
                _join_logs(units, out_dir / "grading.log")
        return self._unit_results(units, timed_out)

    def _shared_cgroup(self, run_id: str) -> cgroups.GradingCgroup | None:
        """The cgroup of a grading whose parts run in several processes (None where this machine's
        cgroups cannot be managed from here: each process then has its per-container limits)."""
        limits = self.assignment.limits
        try:
            if not self.docker.manages_local_cgroups:
                return None
        except GraderError:
            return None  # the engine's trouble shows in the checks, as errors
        return cgroups.create(run_id, limits.grading_memory_bytes, limits.grading_pids)

    def _unit_results(self, units: list[_Unit], timed_out: bool) -> tuple[dict[str, CheckResult], list[str]]:
        """Each unit's checks as its process reported them, or all in ``error`` and why."""
        found: dict[str, CheckResult] = {}
        messages: list[str] = []
        for unit in units:
            if unit.result.is_file() and not timed_out:
                result = SubmissionResult.read(unit.result)
                found.update((check.id, check) for check in result.checks)
                if result.message:
                    messages.append(result.message)
                continue
            if timed_out:
                message = _("La correction a dépassé la limite de {s} secondes et a été arrêtée.").format(
                    s=int(self.assignment.limits.submission_timeout_s)
                )
            elif self._stopping.is_set():
                message = _("La correction a été interrompue.")
            else:
                tail = unit.log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-8:]
                message = _("Le processus de correction a échoué :") + "\n" + "\n".join(tail)
            messages.append(message)
            for check_id in unit.checks:
                found[check_id] = self.assignment.checks[check_id].unrun("error", message)
        return found, messages

    def stop_all(self) -> None:
        """Ask every live grading to stop and clean up (used on Ctrl-C)."""
        self._stopping.set()
        with self._lock:
            live = list(self._live.values())
        _stop_together(live)

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


class _OneGrading(NamedTuple):
    """One submission being graded: its private copy, names, folders and whom to tell."""

    root: Path
    name: str
    run_id: str
    key: str
    workdir: Path  # the grading's temporary folder
    out_dir: Path
    on_check: Callable[[CheckResult], None]
    on_start: Callable[[str], None] | None


class _Unit(NamedTuple):
    """One grading process: a group of checks (or all), its run id and its files."""

    group: str
    checks: tuple[str, ...]
    only: tuple[str, ...]  # its --grader-only (none: every selected check)
    run_id: str
    result: Path
    log: Path
    progress: Path
    workdir: Path


class _InOrder:
    """Hands results on in the assignment's order, each as soon as it and all before it are known."""

    def __init__(self, order: Sequence[str], emit: Callable[[CheckResult], None] | None) -> None:
        self.order = list(order)
        self.emit = emit
        self.known: dict[str, CheckResult] = {}
        self.next = 0

    def add(self, check: CheckResult) -> None:
        if self.emit is None:
            return
        self.known[check.id] = check
        while self.next < len(self.order) and self.order[self.next] in self.known:
            self.emit(self.known[self.order[self.next]])
            self.next += 1


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


def _stop_together(procs: Sequence[subprocess.Popen[bytes]]) -> None:
    """Stop grading processes at the same time (each may take its grace period to clean up)."""
    threads = [threading.Thread(target=stop_grading, args=(proc,)) for proc in procs if proc.poll() is None]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _join_logs(units: Sequence[_Unit], path: Path) -> None:
    """One grading.log for a grading made of several processes: each one's log under its group."""
    with path.open("w", encoding="utf-8") as joined:
        for unit in units:
            joined.write(f"===== {unit.group or '*'} ({', '.join(unit.checks)}) =====\n")
            with contextlib.suppress(OSError):
                joined.write(unit.log.read_text(encoding="utf-8", errors="replace"))
            joined.write("\n")


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


def available_memory(meminfo: Path = Path("/proc/meminfo")) -> int | None:
    """The memory this machine can still give (Linux's MemAvailable), or None where unknown."""
    try:
        for line in meminfo.read_text(encoding="ascii").splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def default_jobs(limits: Limits, cpus: int | None = None, memory: int | None = None) -> int:
    """Gradings at a time when ``--jobs`` is not given: one a core, and no more than the memory
    can hold at each grading's budget (``limits.grading_memory_bytes``). A grading mostly waits on
    the engine (docs/usage.md gives the measurements behind this), so cores are not the bound."""
    cpus = cpus if cpus is not None else os.cpu_count() or 1
    memory = memory if memory is not None else available_memory()
    by_memory = cpus if memory is None else memory // max(1, limits.grading_memory_bytes)
    return max(1, min(cpus, by_memory))
