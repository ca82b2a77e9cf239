"""Every error the grader raises, in one tree.

Catch :class:`GraderError` to catch them all. Which branch an error sits on decides
what the student's grade becomes::

    GraderError
    ├── SubmissionError          the submission's fault: the check fails, 0 points, feedback
    │   ├── IntakeError          unreadable, unsafe or oversized archive or folder
    │   ├── PolicyViolation      asks for something outside the sandbox (privileged, host mounts, ...)
    │   ├── ComposeFileError     Compose rejects the file (bad YAML, unknown keys, ...)
    │   ├── BuildFailed          an image does not build, or not within the time limit
    │   └── ServiceNotReady      a container exits, or never answers, after ``up``
    ├── InfrastructureError      the grader's or the machine's fault: outcome "error", never a zero
    │   ├── DaemonUnavailable    no Docker engine answers
    │   ├── ComposeUnavailable   Docker Compose v2 is missing
    │   ├── GraderTimeout        one of the grader's own operations did not finish in time
    │   ├── EngineCapacity       the engine ran out of network address pools
    │   └── RegistryUnavailable  an image's registry cannot be reached, rate-limits or refuses us
    └── SpecError                the assignment definition is wrong: the instructor's fault

Messages are complete sentences meant for the person who meets them: a student for
:class:`SubmissionError`, an instructor or CI maintainer for the others.
"""

from __future__ import annotations


class GraderError(Exception):
    """Base class of every error raised on purpose by the grader."""

    def __init__(self, message: str, *, details: str = "", locations: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        #: Supporting text (a log tail, a diff) shown under the message.
        self.details = details
        #: Files of the submission ("path" or "path:line") the error is about, when known.
        self.locations = locations

    def __str__(self) -> str:
        return f"{self.message}\n{self.details}" if self.details else self.message


class SubmissionError(GraderError):
    """The submission is at fault: the check fails with 0 points and this feedback."""


class IntakeError(SubmissionError):
    """The submission cannot be turned into a safe private working copy."""


class PolicyViolation(SubmissionError):
    """The submission asks for something the sandbox policy refuses."""


class ComposeFileError(SubmissionError):
    """Docker Compose rejects the submission's Compose file."""


class BuildFailed(SubmissionError):
    """An image of the submission does not build."""


class ServiceNotReady(SubmissionError):
    """A service exited or never became ready."""


class InfrastructureError(GraderError):
    """The grader or the machine failed: the outcome is "error" and the submission is regraded."""


class DaemonUnavailable(InfrastructureError):
    """No Docker engine answers."""


class ComposeUnavailable(InfrastructureError):
    """Docker Compose v2 cannot be run."""


class GraderTimeout(InfrastructureError):
    """One of the grader's own operations did not finish in time."""


class EngineCapacity(InfrastructureError):
    """The engine ran out of a shared resource (network address pools): the machine's limit."""

    MARKERS = ("non-overlapping ipv4 address pool", "address pools have been fully subnetted")

    @classmethod
    def found_in(cls, text: str) -> bool:
        lowered = text.lower()
        return any(marker in lowered for marker in cls.MARKERS)

    def __init__(self) -> None:
        super().__init__(
            "the Docker engine has no address pool left for a new network: run `grader clean`, "
            "lower --jobs, or give the daemon larger default-address-pools."
        )


class RegistryUnavailable(InfrastructureError):
    """An image could not be pulled for a reason that is not the student's: the registry cannot be
    reached, timed out, refused authentication or said "too many requests"."""


class SpecError(GraderError):
    """The assignment definition (assignment.yaml, checks) is inconsistent."""
