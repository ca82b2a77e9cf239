"""The pytest plugin that turns a checks folder into a grading.

Loaded with ``-p harness.plugin`` by :mod:`harness.runner`, with our own ini file and
rootdir, so nothing in the submission configures pytest or runs on the host.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import pytest

from . import __version__, cgroups, declared
from .assignment import ASSIGNMENT_FILE, Assignment, CheckSpec, find_assignment, load_assignment
from .errors import GraderError, InfrastructureError, SpecError, SubmissionError
from .grading import Grading
from .i18n import _, set_language
from .results import CheckResult, CheckStatus, SubmissionResult, write_json_atomic

F = TypeVar("F", bound=Callable[..., Any])
MARKER = "grader_check"
PLUGIN_NAME = "grader-session"
#: Set when the session's cleanup starts (see _stop_when_orphaned).
_FINISHING = threading.Event()


def check(check_id: str) -> Callable[[F], F]:
    """Declare a test function as the check ``check_id`` (points and visibility: assignment.yaml)."""
    return pytest.mark.grader_check(check_id)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("grader")
    group.addoption("--grader-submission", help="the private working copy of the submission")
    group.addoption("--grader-name", default="", help="the submission's name in results")
    group.addoption("--grader-assignment", help="assignment name or folder")
    group.addoption("--grader-result", help="where to write result.json")
    group.addoption("--grader-run-id", help="the run id every Docker object is labelled with")
    group.addoption("--grader-key", default="", help="what the result depends on (see harness.fingerprint)")
    group.addoption("--grader-workdir", help="a private folder for generated files")
    group.addoption("--grader-lang", default="fr", choices=("fr", "en"))
    group.addoption("--grader-visibility", default="all", choices=("visible", "all"))
    group.addoption("--grader-only", action="append", default=[], help="run only this check id")
    group.addoption("--grader-record", help="record the reference's facts into this file")
    group.addoption("--grader-progress", help="append each finished check to this file (JSON lines)")
    group.addoption("--grader-keep", action="store_true", help="leave the stacks running afterwards")
    group.addoption(
        "--grader-cgroup", default="", help="the cgroup the runner made for the grading, shared by its parts"
    )


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _cap_own_memory(limit: int) -> None:
    """Bound the memory this grading process (and Compose, which inherits it) may write to.

    Whatever a submission sends back (answers, logs, files) is read with caps of its own; this is
    the backstop, so that no submission can make the grader's process the machine's problem.
    """
    try:
        import resource
    except ImportError:  # not on Windows
        return
    _soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard == resource.RLIM_INFINITY or hard > limit:
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit if hard == resource.RLIM_INFINITY else hard))


class GraderPlugin:
    def __init__(self, config: pytest.Config) -> None:
        opt = config.getoption
        self.assignment: Assignment = load_assignment(find_assignment(opt("grader_assignment")))
        _cap_own_memory(self.assignment.limits.grader_process_bytes)
        self.submission = Path(opt("grader_submission"))
        self.result_path = Path(opt("grader_result"))
        self.language: str = opt("grader_lang")
        self.visibility: str = opt("grader_visibility")
        self.only: list[str] = opt("grader_only")
        self.session_grading = Grading(
            submission=self.submission,
            name=opt("grader_name") or self.submission.name,
            assignment=self.assignment,
            run_id=opt("grader_run_id"),
            workdir=Path(opt("grader_workdir")),
            cgroup=cgroups.GradingCgroup.parse(opt("grader_cgroup")) if opt("grader_cgroup") else None,
        )
        record = opt("grader_record")
        self.record_path = Path(record) if record else None
        if self.record_path is not None:
            self.session_grading.recorded = {}
        self.keep: bool = opt("grader_keep")
        self.key: str = opt("grader_key")
        progress = opt("grader_progress")
        self.progress_path = Path(progress) if progress else None
        self._node_ids: dict[str, str] = {}
        self.results: dict[str, CheckResult] = {}
        self.selected: list[str] = []
        self.fatal = ""
        self._reported: dict[int, str] = {}  # id of a SubmissionError -> the check that reported it
        self._started = time.monotonic()

    # -- collection ----------------------------------------------------------------

    def pytest_collect_file(self, file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
        """The checks assignment.yaml declares with ``uses:`` become items of its own file."""
        if (
            file_path.name != ASSIGNMENT_FILE
            or file_path.parent.resolve() != self.assignment.directory.resolve()
        ):
            return None
        if not any(spec.uses for spec in self.assignment.checks.values()):
            return None
        return DeclaredChecks.from_parent(parent, path=file_path, assignment=self.assignment)

    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        try:
            ids = self._check_ids(items)
        except SpecError as exc:
            self.fatal = str(exc)
            config.hook.pytest_deselected(items=list(items))
            items[:] = []
            return
        selected = {spec.id for spec in self.assignment.selected(self.visibility, self.only)}
        keep: list[pytest.Item] = []
        drop: list[pytest.Item] = []
        for item in items:
            (keep if ids[item.nodeid] in selected else drop).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
        order = {check_id: position for position, check_id in enumerate(self.assignment.checks)}
        keep.sort(key=lambda item: order[ids[item.nodeid]])  # assignment.yaml's order, not the files'
        items[:] = keep
        self.selected = [ids[item.nodeid] for item in keep]
        self._node_ids = {item.nodeid: ids[item.nodeid] for item in keep}

    def _check_ids(self, items: list[pytest.Item]) -> dict[str, str]:
        ids: dict[str, str] = {}
        seen: dict[str, str] = {}
        for item in items:
            marker = item.get_closest_marker(MARKER)
            if marker is None:
                raise SpecError(f"{item.nodeid} is not declared with @check(ID).")
            check_id = str(marker.args[0])
            if check_id in seen:
                raise SpecError(f"check {check_id} is declared twice ({seen[check_id]}, {item.nodeid}).")
            if check_id not in self.assignment.checks:
                raise SpecError(f"check {check_id} ({item.nodeid}) is missing from assignment.yaml.")
            seen[check_id] = item.nodeid
            ids[item.nodeid] = check_id
        missing = sorted(set(self.assignment.checks) - set(seen))
        if missing:
            raise SpecError(f"assignment.yaml lists checks that no test implements: {', '.join(missing)}.")
        unknown = sorted(set(self.only) - set(seen))
        if unknown:
            raise SpecError(f"--only names unknown checks: {', '.join(unknown)}.")
        return ids

    # -- outcomes --------------------------------------------------------------------

    def _progress(self, event: dict[str, Any]) -> None:
        if self.progress_path is not None:
            with self.progress_path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(event, ensure_ascii=False) + "\n")

    def pytest_runtest_logstart(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        """Tell whoever follows the grading live which check runs now."""
        check_id = self._node_ids.get(nodeid)
        if check_id:
            self._progress({"event": "start", "id": check_id})

    def pytest_runtest_logfinish(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        """A check is final once torn down: tell whoever follows the grading live."""
        result = self.results.get(self._node_ids.get(nodeid) or "")
        if result is not None:
            self._progress({"event": "result", **result.to_dict()})

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        marker = item.get_closest_marker(MARKER)
        self.session_grading.current_check = str(marker.args[0]) if marker else ""

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        marker = item.get_closest_marker(MARKER)
        if marker is None:
            return report
        check_id = str(marker.args[0])
        # The call's outcome counts, unless setup or teardown failed: the first failure is kept.
        first_failure = check_id not in self.results or self.results[check_id].status == "passed"
        if (report.when == "call" or report.outcome != "passed") and first_failure:
            exc = call.excinfo.value if call.excinfo else None
            self.results[check_id] = self._result(check_id, report, exc)
        if report.when == "call":
            self._fail_on_oversized_layers(check_id)
        return report

    def _fail_on_oversized_layers(self, current: str | None) -> None:
        """A container that filled its own layer fails the check running now and every check that
        used its part (it is stopped at once): measured after each check and at the end."""
        try:
            oversized = self.session_grading.oversized_layers()
        except GraderError:
            return  # the engine's trouble shows in the next check, as an error
        limit = self.assignment.limits.container_layer_bytes
        sentence = _(
            "Le conteneur du service « {name} » a écrit {mb} Mo dans sa propre couche (limite : {limit} Mo) : il a été "
            "arrêté. Un conteneur ne doit écrire que ce dont il a besoin (notion : couche inscriptible)."
        )
        for name, used, users in oversized:
            line = sentence.format(name=name, mb=used // 10**6, limit=limit // 10**6)
            for check_id in users | ({current} if current else set()):
                result = self.results.get(check_id)
                if result is None or result.status in ("error", "skipped"):
                    continue
                feedback = "\n".join(
                    part for part in (line, result.feedback if result.status == "failed" else "") if part
                )
                self.results[check_id] = replace(result, status="failed", score=0.0, feedback=feedback)

    def _result(self, check_id: str, report: pytest.TestReport, exc: BaseException | None) -> CheckResult:
        spec = self.assignment.checks[check_id]
        status: CheckStatus
        feedback = ""
        if report.passed:
            status = "passed"
        elif report.skipped:
            status = "skipped"
            feedback = str(exc.msg if isinstance(exc, pytest.skip.Exception) else report.longrepr)
        elif isinstance(exc, SubmissionError) and id(exc) in self._reported:
            status = "failed"
            feedback = _(
                "Impossible de vérifier, car un prérequis a échoué (voir {check}) : {message}"
            ).format(message=exc.message, check=self._reported[id(exc)])
        elif isinstance(exc, AssertionError | SubmissionError):
            status = "failed"
            feedback = str(exc) or _("La vérification a échoué.")
            if isinstance(exc, SubmissionError):
                self._reported[id(exc)] = check_id
        elif isinstance(exc, InfrastructureError | SpecError):
            status = "error"
            feedback = _("Le correcteur n'a pas pu faire cette vérification : {error}").format(error=exc)
        else:
            status = "error"
            feedback = _("Erreur interne du correcteur ({kind}) : {error}").format(
                kind=type(exc).__name__ if exc else "?", error=exc
            )
        if isinstance(exc, GraderError) and status == "failed":
            for where in exc.locations:
                self.session_grading.locations.setdefault(check_id, []).append(where)
        advice = self.session_grading.advice.get(check_id, [])
        feedback = "\n\n".join(part for part in (feedback, *advice) if part)
        return CheckResult(
            id=check_id,
            status=status,
            score=spec.points if status == "passed" else 0.0,
            max_score=spec.points,
            visibility=spec.visibility,
            feedback=feedback,
            duration_s=round(report.duration, 3),
            locations=tuple(self.session_grading.locations.get(check_id, ())) if status != "passed" else (),
        )

    def _write_facts(self, checks: list[CheckResult]) -> str:
        """In record mode, store the reference's facts if it passed everything; else say why not."""
        recorded = self.session_grading.recorded
        if self.record_path is None or recorded is None:
            return ""
        failing = [c.id for c in checks if c.status not in ("passed", "skipped")]
        if failing:
            return f"the reference does not pass {', '.join(failing)}: its facts were not recorded."
        write_json_atomic(self.record_path, _facts_document(self.assignment.id, recorded))
        return ""

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        _FINISHING.set()
        self._fail_on_oversized_layers(None)  # what was written after the last check
        cleanup_error = ""
        try:
            if not (self.keep and exitstatus != pytest.ExitCode.INTERRUPTED):
                self.session_grading.close()
        except GraderError as exc:
            cleanup_error = str(exc)
        checks = []
        for check_id in self.selected:
            checks.append(
                self.results.get(check_id)
                or self.assignment.checks[check_id].unrun(
                    "error", _("La correction a été interrompue avant cette vérification.")
                )
            )
        result = SubmissionResult(
            submission=self.session_grading.name,
            assignment=self.assignment.id,
            checks=checks,
            run_id=self.session_grading.run_id,
            # An orphaned grading that still finishes leaves a result a rerun can keep.
            key=self.key,
            language=self.language,
            grader_version=__version__,
            duration_s=time.monotonic() - self._started,
        )
        fatal = self.fatal or cleanup_error or self._write_facts(checks)
        if fatal:
            result.message = fatal
            result.infrastructure_error = True
        result.write(self.result_path)


class DeclaredChecks(pytest.File):
    """assignment.yaml, as pytest sees it: one item a declared check."""

    def __init__(self, *, assignment: Assignment, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.assignment = assignment

    def collect(self) -> Iterator[pytest.Item]:
        for spec in self.assignment.checks.values():
            if spec.uses:
                item = DeclaredCheck.from_parent(self, name=spec.id, spec=spec)
                item.add_marker(pytest.mark.grader_check(spec.id))
                yield item


class DeclaredCheck(pytest.Item):
    """A reusable check (harness/declared.py) run with the parameters assignment.yaml gives it."""

    def __init__(self, *, spec: CheckSpec, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec

    def runtest(self) -> None:
        plugin = self.config.pluginmanager.get_plugin(PLUGIN_NAME)
        if not isinstance(plugin, GraderPlugin):
            raise pytest.UsageError("a declared check needs a grading: run checks through the grader.")
        declared.run(plugin.session_grading, self.spec.id, self.spec.uses, self.spec.params)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.spec.id} ({self.spec.uses})"


@pytest.fixture(scope="session")
def grading(request: pytest.FixtureRequest) -> Grading:
    """The submission under grading: its parts, its files, the reference's facts."""
    plugin = request.config.pluginmanager.get_plugin(PLUGIN_NAME)
    if not isinstance(plugin, GraderPlugin):
        raise pytest.UsageError("the grading fixture needs a grading: run checks through the grader.")
    return plugin.session_grading


def _facts_document(assignment: str, facts: dict[str, Any]) -> dict[str, Any]:
    return {"assignment": assignment, "grader_version": __version__, "facts": dict(sorted(facts.items()))}


def _stop_when_orphaned() -> None:
    """A grader killed outright (SIGKILL) cannot stop its gradings: each notices and cleans up."""
    if not hasattr(os, "getppid") or os.name != "posix":
        return  # elsewhere the runner's own cleanup and `grader clean` are the remedy
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        if not _FINISHING.is_set():  # once cleanup has begun, an interrupt would only cut it short
            os.kill(os.getpid(), signal.SIGINT)  # pytest's cleanup runs, as on Ctrl-C

    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}(id): a graded check, declared with harness.check(ID)")
    if not config.getoption("grader_submission"):
        return
    set_language(config.getoption("grader_lang"))
    # The runner stops a grading with SIGTERM or SIGINT: both must run the fixtures' cleanup. SIGINT
    # too is set here: a grader started where SIGINT is ignored (a shell's background job, nohup)
    # hands that on, and its gradings would then wait out the stop's grace period and be killed.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGINT, _raise_interrupt)
    _stop_when_orphaned()
    try:
        plugin = GraderPlugin(config)
    except GraderError as exc:
        raise pytest.UsageError(str(exc)) from exc
    config.pluginmanager.register(plugin, PLUGIN_NAME)
