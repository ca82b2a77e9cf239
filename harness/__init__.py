"""grader: grades Docker and Compose lab submissions by building and running them for real.

The public API for writing checks: :func:`check` declares one, :func:`_` translates its
feedback, and the errors live in :mod:`harness.errors`.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .i18n import _
from .plugin import check

__all__ = ["_", "__version__", "check"]
