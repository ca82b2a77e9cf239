"""An assignment: a folder holding ``assignment.yaml`` and the ``test_*.py`` checks beside it.

The folder may live anywhere. Beside its checks it may hold ``reference/`` (the instructor's
solution), ``samples/`` (submissions with known outcomes) and ``locale/`` (its translations, see
:mod:`harness.i18n`). The bundled assignments live in ``checks/<id>/`` (``harness/_bundled/checks``
in an installed wheel), their references in ``reference/<id>/``.

Defaults live here, in one place; the YAML overrides them per assignment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

import yaml

from .declared import validate as validate_declared
from .errors import SpecError
from .i18n import use_assignment
from .results import CheckResult, CheckStatus, Visibility

PartKind = Literal["dockerfile", "compose"]

_REPO_ROOT = Path(__file__).resolve().parent.parent
_BUNDLED = Path(__file__).resolve().parent / "_bundled"
ASSIGNMENT_FILE = "assignment.yaml"


def _data_root(kind: str) -> Path:
    """Where ``checks/`` or ``reference/`` live: an override, the installed bundle, or the source tree."""
    override = os.environ.get(f"GRADER_{kind.upper()}_DIR")
    if override:
        return Path(override).resolve()
    bundled = _BUNDLED / kind
    return bundled if bundled.is_dir() else _REPO_ROOT / kind


def checks_root() -> Path:
    """Where the bundled assignments live (``GRADER_CHECKS_DIR`` overrides it)."""
    return _data_root("checks")


def reference_root() -> Path:
    """Where the bundled assignments' references live (``GRADER_REFERENCE_DIR`` overrides it)."""
    return _data_root("reference")


def installed_assignments() -> list[str]:
    """The names of the bundled assignments: the folders of :func:`checks_root` with an assignment.yaml."""
    root = checks_root()
    if not root.is_dir():
        return []
    return sorted(folder.name for folder in root.iterdir() if (folder / ASSIGNMENT_FILE).is_file())


@dataclass(frozen=True)
class Limits:
    """Sandbox limits for every build and container of a submission."""

    build_timeout_s: float = 600.0
    up_timeout_s: float = 180.0
    ready_timeout_s: float = 60.0
    command_timeout_s: float = 120.0
    submission_timeout_s: float = 1800.0
    memory_bytes: int = 768 * 1024 * 1024
    cpus: float = 1.0
    pids: int = 512
    log_max_size: str = "1m"
    #: A student's restart policy is kept, with at most this many restarts; one still restarting when
    #: the readiness limit is reached is a crash loop. (Docker's back-off doubles from 0.1 s: 10
    #: restarts take about 100 s, time for a database to initialise.)
    max_restarts: int = 10
    #: How long a stop the grader orders waits for SIGTERM before SIGKILL.
    stop_timeout_s: float = 2.0
    #: What all the containers of one grading share (its cgroup, see harness/cgroups.py).
    grading_memory_bytes: int = 2 * 1024 * 1024 * 1024
    grading_pids: int = 2048
    #: What one container may write into its own layer (checked after each check; see layers.py).
    container_layer_bytes: int = 1024 * 1024 * 1024
    #: The grading process itself (address space it may write to, RLIMIT_DATA).
    grader_process_bytes: int = 1024 * 1024 * 1024


@dataclass(frozen=True)
class IntakeLimits:
    max_bytes: int = 200 * 1024 * 1024
    max_files: int = 10_000


@dataclass(frozen=True)
class CheckSpec:
    id: str
    points: float
    visibility: Visibility = "visible"
    #: A reusable check (harness/declared.py) this check is, with its parameters; "" for a pytest check.
    uses: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)

    def unrun(self, status: CheckStatus, feedback: str) -> CheckResult:
        """This check's result when it could not run (the submission refused, the grading stopped)."""
        return CheckResult(
            id=self.id,
            status=status,
            score=0.0,
            max_score=self.points,
            visibility=self.visibility,
            feedback=feedback,
        )


@dataclass(frozen=True)
class PartSpec:
    """One graded part of a submission: a folder with a Dockerfile, or a Compose project."""

    name: str
    kind: PartKind
    directory: str
    dockerfile: str = "Dockerfile"
    #: Container ports to publish (Dockerfile parts) and to wait on over HTTP.
    http_ports: tuple[int, ...] = ()
    #: Named volumes mounted into a Dockerfile part's container: name -> container path.
    volumes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Assignment:
    id: str
    title: str
    directory: Path
    checks: dict[str, CheckSpec]
    parts: dict[str, PartSpec]
    limits: Limits = field(default_factory=Limits)
    intake: IntakeLimits = field(default_factory=IntakeLimits)
    #: Named numbers the checks compare against (size ratios, memory caps, ...).
    thresholds: dict[str, float] = field(default_factory=dict)
    #: Sandbox rules this assignment relaxes (``policy: {allow: [...]}``); none by default.
    policy_allow: frozenset[str] = frozenset()
    #: Hidden checks left out of this copy (a student kit): counted, never shipped.
    hidden_checks: int = 0
    #: The images grading needs (``images:``): what ``grader images`` pulls, saves and loads.
    images: tuple[str, ...] = ()

    @property
    def hidden_count(self) -> int:
        """How many checks run only at final grading."""
        return self.hidden_checks + sum(1 for c in self.checks.values() if c.visibility == "hidden")

    def selected(self, visibility: str = "all", only: Sequence[str] = ()) -> list[CheckSpec]:
        """The checks a grading runs, in this file's order: hidden ones only when ``visibility`` is
        "all", and only those named in ``only`` when it names any."""
        return [
            spec
            for spec in self.checks.values()
            if (visibility == "all" or spec.visibility == "visible") and (not only or spec.id in only)
        ]

    def groups(self, checks: Sequence[CheckSpec]) -> list[tuple[str, list[str]]]:
        """``checks`` by the part they grade, in this file's order: a check whose id starts with a
        part's name (``siteweb.builds``) grades that part alone; every other check (``lint.*``,
        ``registry.*``) may read every part and lands in the group named "" (last). Groups are
        what a grading may run at the same time, and what a self-check reuses when unchanged."""
        found: dict[str, list[str]] = {}
        for spec in checks:
            prefix = spec.id.split(".", 1)[0]
            found.setdefault(prefix if prefix in self.parts else "", []).append(spec.id)
        others = found.pop("", None)
        return [*found.items(), *([("", others)] if others else [])]

    def threshold(self, name: str) -> float:
        try:
            return self.thresholds[name]
        except KeyError:
            raise SpecError(f"assignment {self.id} has no threshold {name!r} in assignment.yaml.") from None

    def part(self, name: str) -> PartSpec:
        try:
            return self.parts[name]
        except KeyError:
            raise SpecError(f"assignment {self.id} has no part named {name!r} in assignment.yaml.") from None

    @property
    def bundled(self) -> bool:
        """Whether this is one of the installed assignments (``checks/<id>/``)."""
        return self.directory.resolve().parent == checks_root()

    def reference_dir(self) -> Path:
        """The reference solution: ``GRADER_REFERENCE_DIR/<id>`` when that is set, else ``reference/``
        inside the assignment's folder, else (bundled assignments) ``reference/<id>`` of the project.

        A folder outside the project never borrows a bundled reference of the same id: recording
        its facts would overwrite another assignment's.
        """
        if os.environ.get("GRADER_REFERENCE_DIR"):
            return reference_root() / self.id
        inside = self.directory / "reference"
        if inside.is_dir() or not self.bundled:
            return inside
        return reference_root() / self.id

    def samples_dir(self) -> Path:
        """Submissions whose outcome the instructor knows: ``samples/`` inside the assignment's folder."""
        return self.directory / "samples"

    def locale_dir(self) -> Path:
        """The assignment's own translations (``locale/<lang>/LC_MESSAGES/messages.mo``)."""
        return self.directory / "locale"


def find_assignment(name_or_path: str) -> Path:
    """The folder of an assignment given by path (a folder holding assignment.yaml) or by name."""
    candidate = Path(name_or_path)
    if (candidate / ASSIGNMENT_FILE).is_file():
        return candidate.resolve()
    named = checks_root() / name_or_path
    if candidate.name == name_or_path and (named / ASSIGNMENT_FILE).is_file():
        return named
    installed = ", ".join(installed_assignments()) or "none"
    raise SpecError(
        f"no assignment {name_or_path!r}: it is neither a folder holding {ASSIGNMENT_FILE} nor the name "
        f"of an installed assignment (installed: {installed})."
    )


def _override(defaults: Any, raw: Any, where: str) -> Any:
    if raw is None:
        return defaults
    if not isinstance(raw, dict):
        raise SpecError(f"{where} must be a mapping.")
    known = {f.name: f.type for f in fields(defaults)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise SpecError(f"{where} has unknown keys: {', '.join(unknown)}.")
    try:
        values = {key: type(getattr(defaults, key))(value) for key, value in raw.items()}
    except (TypeError, ValueError) as exc:
        raise SpecError(f"{where} has a value of the wrong type: {exc}.") from exc
    return replace(defaults, **values)


#: The keys assignment.yaml may hold, at each level: any other is refused (a typo must not pass
#: silently). ``limits`` and ``intake`` are checked against their dataclasses.
TOP_KEYS = frozenset(
    {"id", "title", "parts", "checks", "limits", "intake", "thresholds", "policy", "hidden_checks", "images"}
)
PART_KEYS = frozenset({"kind", "directory", "dockerfile", "http_ports", "volumes"})
CHECK_KEYS = frozenset({"points", "visibility", "uses", "with"})


def _known_keys(raw: Any, known: frozenset[str], where: str) -> None:
    if not isinstance(raw, dict):
        raise SpecError(f"{where} must be a mapping.")
    unknown = sorted(str(key) for key in set(raw) - known)
    if unknown:
        raise SpecError(
            f"{where} has unknown keys: {', '.join(unknown)} (known: {', '.join(sorted(known))})."
        )


def load_assignment(directory: Path) -> Assignment:
    """The assignment in ``directory``; its translations become the process's (see harness.i18n)."""
    path = directory / ASSIGNMENT_FILE
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SpecError(f"cannot read {path}: {exc}") from exc
    if not isinstance(raw, dict) or "id" not in raw:
        raise SpecError(f"{path} must be a mapping with at least an 'id'.")

    _known_keys(raw, TOP_KEYS, str(path))
    checks: dict[str, CheckSpec] = {}
    for check_id, spec in (raw.get("checks") or {}).items():
        spec = spec or {}
        _known_keys(spec, CHECK_KEYS, f"{path}: check {check_id}")
        visibility = spec.get("visibility", "visible")
        if visibility not in ("visible", "hidden"):
            raise SpecError(f"{path}: check {check_id} has visibility {visibility!r} (visible or hidden).")
        try:
            points = float(spec["points"])
        except (KeyError, TypeError, ValueError):
            raise SpecError(f"{path}: check {check_id} needs a number of points.") from None
        checks[check_id] = CheckSpec(
            id=check_id, points=points, visibility=visibility, uses=str(spec.get("uses") or "")
        )
        if "with" in spec and not spec.get("uses"):
            raise SpecError(f"{path}: check {check_id} has `with` but no `uses`.")

    parts: dict[str, PartSpec] = {}
    for name, spec in (raw.get("parts") or {}).items():
        _known_keys(spec, PART_KEYS, f"{path}: part {name}")
        kind = spec.get("kind")
        if kind not in ("dockerfile", "compose"):
            raise SpecError(f"{path}: part {name} needs kind dockerfile or compose.")
        parts[name] = PartSpec(
            name=name,
            kind=kind,
            directory=str(spec.get("directory", name)),
            dockerfile=str(spec.get("dockerfile", "Dockerfile")),
            http_ports=tuple(int(p) for p in spec.get("http_ports", ())),
            volumes=tuple((str(k), str(v)) for k, v in (spec.get("volumes") or {}).items()),
        )

    for check_id, spec in (raw.get("checks") or {}).items():
        if (spec or {}).get("uses"):
            params = validate_declared(check_id, spec["uses"], spec.get("with"), parts, str(path))
            checks[check_id] = replace(checks[check_id], params=params)

    assignment = Assignment(
        id=str(raw["id"]),
        title=str(raw.get("title", raw["id"])),
        directory=directory,
        checks=checks,
        parts=parts,
        limits=_override(Limits(), raw.get("limits"), f"{path}: limits"),
        intake=_override(IntakeLimits(), raw.get("intake"), f"{path}: intake"),
        thresholds=_thresholds(raw.get("thresholds"), path),
        policy_allow=_policy_allow(raw.get("policy"), path),
        hidden_checks=int(raw.get("hidden_checks", 0)),
        images=_images(raw.get("images"), path),
    )
    use_assignment(assignment.locale_dir())
    return assignment


def _images(raw: Any, path: Path) -> tuple[str, ...]:
    from .base_images import valid_reference  # a local import: it reads Compose files, assignments do not

    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(image, str) for image in raw):
        raise SpecError(f"{path}: images must be a list of image names (nginx, mysql:8, ...).")
    invalid = [image for image in raw if not valid_reference(image)]
    if invalid:
        raise SpecError(f"{path}: images names {invalid}, which Docker would not read as image names.")
    return tuple(raw)


def _policy_allow(raw: Any, path: Path) -> frozenset[str]:
    from .policy import RULES  # a local import: policy's translations need not load with assignments

    if raw is not None:
        _known_keys(raw, frozenset({"allow"}), f"{path}: policy")
    allow = frozenset(str(rule) for rule in ((raw or {}).get("allow") or []))
    unknown = sorted(allow - RULES)
    if unknown:
        raise SpecError(f"{path}: policy.allow names unknown rules {unknown}; known: {sorted(RULES)}.")
    return allow


def _thresholds(raw: Any, path: Path) -> dict[str, float]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: thresholds must be a mapping of names to numbers.")
    try:
        return {str(k): float(v) for k, v in raw.items()}
    except (TypeError, ValueError) as exc:
        raise SpecError(f"{path}: thresholds must be numbers ({exc}).") from exc
