"""The result model: one CheckResult per check, one SubmissionResult per submission.

``result.json`` is written once, atomically; every other format is an exporter of it.

Every field that can carry a submission's text (feedback, logs quoted in it, file names, the
submission's name, messages) is made inert when it is set: see :func:`inert`.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

CheckStatus = Literal["passed", "failed", "error", "skipped"]
SubmissionStatus = Literal["graded", "error"]
Visibility = Literal["visible", "hidden"]

CHECK_STATUSES: tuple[CheckStatus, ...] = ("passed", "failed", "error", "skipped")

#: What a terminal, a spreadsheet or a reader's eye could take for something else: C0 controls
#: but tab and newline (a lone CR rewrites the line it ends), DEL, C1 controls (0x9b is a CSI),
#: bidirectional marks and overrides (they reorder what is shown), the Unicode line separators
#: (``str.splitlines`` splits on them), lone surrogates (not encodable) and U+FFFE/U+FFFF (not XML).
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
    "\u2066-\u2069\ud800-\udfff\ufffe\uffff]"
)


def _escaped(found: re.Match[str]) -> str:
    code = ord(found.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def inert(text: str) -> str:
    """``text`` with every control character shown as its escape (ESC becomes the four characters
    ``\\x1b``), so that nothing a submission wrote acts on a terminal or a viewer. CRLF becomes LF.

    Idempotent: the escapes are plain characters, so inert text stays as it is.
    """
    return _UNSAFE.sub(_escaped, text.replace("\r\n", "\n"))


@dataclass(frozen=True)
class CheckResult:
    id: str
    status: CheckStatus
    score: float
    max_score: float
    visibility: Visibility = "visible"
    feedback: str = ""
    duration_s: float = 0.0
    #: Where in the submission the problem is, when known: "path/to/file:line" (or just a path).
    locations: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "feedback", inert(self.feedback))
        object.__setattr__(self, "locations", tuple(inert(where) for where in self.locations))

    @property
    def file(self) -> str:
        """The first file the check points at (without its line), or "" when none is known."""
        return self.locations[0].rsplit(":", 1)[0] if self.locations else ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["locations"] = list(self.locations)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckResult:
        return cls(
            id=str(data["id"]),
            status=data["status"],
            score=float(data["score"]),
            max_score=float(data["max_score"]),
            visibility=data.get("visibility", "visible"),
            feedback=str(data.get("feedback", "")),
            duration_s=float(data.get("duration_s", 0.0)),
            locations=tuple(str(x) for x in data.get("locations", ())),
        )


@dataclass
class SubmissionResult:
    submission: str
    assignment: str
    checks: list[CheckResult] = field(default_factory=list)
    #: Why the whole grading failed, when it did (intake refused, grader crashed, ...).
    message: str = ""
    #: The grading as a whole failed for the grader's or the machine's reasons.
    infrastructure_error: bool = False
    run_id: str = ""
    #: Submission content, assignment and grader version this result was computed from.
    key: str = ""
    language: str = "fr"
    grader_version: str = ""
    duration_s: float = 0.0

    def __setattr__(self, name: str, value: Any) -> None:
        # Also when set after construction (a grading's fatal message is).
        if name in ("submission", "message") and isinstance(value, str):
            value = inert(value)
        super().__setattr__(name, value)

    @property
    def score(self) -> float:
        return round(sum(c.score for c in self.checks), 4)

    @property
    def max_score(self) -> float:
        """Points of the checks that ran: a skipped check (optional part absent) does not count."""
        return round(sum(c.max_score for c in self.checks if c.status != "skipped"), 4)

    @property
    def status(self) -> SubmissionStatus:
        """``error`` when any check could not be graded: such a result is regraded, never a zero."""
        if self.infrastructure_error or any(c.status == "error" for c in self.checks):
            return "error"
        return "graded"

    def to_dict(self) -> dict[str, Any]:
        return {
            "submission": self.submission,
            "assignment": self.assignment,
            "score": self.score,
            "max_score": self.max_score,
            "status": self.status,
            "message": self.message,
            "run_id": self.run_id,
            "key": self.key,
            "language": self.language,
            "grader_version": self.grader_version,
            "duration_s": round(self.duration_s, 3),
            "checks": [c.to_dict() for c in self.checks],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SubmissionResult:
        checks = [CheckResult.from_dict(c) for c in data.get("checks", [])]
        return cls(
            submission=str(data["submission"]),
            assignment=str(data["assignment"]),
            checks=checks,
            message=str(data.get("message", "")),
            infrastructure_error=data.get("status") == "error"
            and not any(c.status == "error" for c in checks),
            run_id=str(data.get("run_id", "")),
            key=str(data.get("key", "")),
            language=str(data.get("language", "fr")),
            grader_version=str(data.get("grader_version", "")),
            duration_s=float(data.get("duration_s", 0.0)),
        )

    def write(self, path: Path) -> None:
        write_json_atomic(path, self.to_dict())

    @classmethod
    def read(cls, path: Path) -> SubmissionResult:
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON so that readers see either the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, ensure_ascii=False, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
