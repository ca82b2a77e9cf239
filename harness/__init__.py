"""grader: grades Docker and Compose lab submissions by building and running them for real.

The public API for writing checks is what this package exports (``__all__``); every other module
is private and may change. ``docs/authoring.md`` describes it with examples:

- :func:`check` declares a check, :func:`_` translates its feedback (French is the source);
- :class:`Grading` is the submission being graded (its files, parts, facts, thresholds, probes);
- :class:`Stack` is a part run as a Compose project, :class:`Service` one of its services,
  :class:`HttpResponse` an answer read from one;
- the errors a check raises: :class:`SubmissionError` (the student's mistake: the check fails),
  :class:`ServiceNotReady` (one of those), :class:`InfrastructureError` (the machine's: the check is
  an error, graded again, never a zero);
- helpers for common questions: :class:`BuildSteps` (what a build log says each step did),
  :func:`go_toolchain_paths`, :func:`registry_host`, :func:`registry_listed`.

Names load on first use, so that importing the package (every command does) costs neither pytest
nor the Docker SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .buildlog import BuildSteps
    from .docker_api import ExecResult
    from .dockerfile import registry_host, registry_listed
    from .errors import InfrastructureError, ServiceNotReady, SubmissionError
    from .grading import Grading
    from .http_client import HttpResponse
    from .i18n import _
    from .images import ImageScan, go_toolchain_paths
    from .plugin import check
    from .target import Service, Stack

#: Public name -> the private module that defines it.
_EXPORTS = {
    "_": "i18n",
    "check": "plugin",
    "Grading": "grading",
    "Stack": "target",
    "Service": "target",
    "HttpResponse": "http_client",
    "ExecResult": "docker_api",
    "ImageScan": "images",
    "SubmissionError": "errors",
    "ServiceNotReady": "errors",
    "InfrastructureError": "errors",
    "BuildSteps": "buildlog",
    "go_toolchain_paths": "images",
    "registry_host": "dockerfile",
    "registry_listed": "dockerfile",
}

__all__ = [
    "BuildSteps",
    "ExecResult",
    "Grading",
    "HttpResponse",
    "ImageScan",
    "InfrastructureError",
    "Service",
    "ServiceNotReady",
    "Stack",
    "SubmissionError",
    "_",
    "__version__",
    "check",
    "go_toolchain_paths",
    "registry_host",
    "registry_listed",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
