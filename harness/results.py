"""The result model: one CheckResult per check, one SubmissionResult per submission.

``result.json`` is written once, atomically; every other format is an exporter of it.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

CheckStatus = Literal["passed", "failed", "error", "skipped"]
SubmissionStatus = Literal["graded", "error"]
Visibility = Literal["visible", "hidden"]

CHECK_STATUSES: tuple[CheckStatus, ...] = ("passed", "failed", "error", "skipped")


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
