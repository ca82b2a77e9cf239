"""Why an image could not be had, read from what the engine, BuildKit or Compose said.

Two answers are possible, and the difference decides a student's grade:

- **missing**: the registry answered that the repository or the tag does not exist (``FROM
  nginx:9.99-typo``, ``image: mysqll:8``): the student's mistake, the check fails and names the
  image as written;
- **unavailable**: the registry could not be reached, timed out, refused authentication, said
  "too many requests" or failed on its side: the machine's problem, the check is ``error``
  (graded again later), never a zero.

Only the build system's own error lines are read, never a build step's output: a ``RUN`` step that
prints a registry error must not turn the student's failed build into a regraded ``error``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Literal

from .dockerfile import listed_registries, registry_host

PullKind = Literal["missing", "unavailable"]

#: A BuildKit step's own output: "#7 0.532 text" (timestamped). Such lines are the student's.
_STEP_OUTPUT = re.compile(r"^#\d+ \d+\.\d+ ")
#: Lines in which the engine, BuildKit or Compose speaks for itself.
_OWN_LINE = re.compile(
    r"^(#\d+ ERROR:|ERROR:|failed to solve:|error:|Error response from daemon:|Error |"
    r"\S+ Error |\S+ Warning |Get \"|Head \"|manifest for |pull access denied|toomanyrequests|"
    r"error pulling|Error: |Step \d+/\d+ : FROM |#\d+ \[.*\] load metadata for | > \[.*\] load metadata for )",
    re.IGNORECASE,
)

_MISSING = (
    re.compile(r"manifest for (?P<image>\S+) not found", re.I),
    re.compile(r"pull access denied for (?P<image>[^,\s]+), repository does not exist", re.I),
    re.compile(
        r"failed to resolve source metadata for (?P<image>\S+): pull access denied, repository does not exist",
        re.I,
    ),
    re.compile(r"failed to resolve source metadata for (?P<image>\S+): (?:\S+: )?not found", re.I),
    re.compile(
        r"(?:failed to create LLB definition|failed to load cache key): (?P<image>\S+): not found", re.I
    ),
    re.compile(r"repository (?P<image>\S+) not found", re.I),
    re.compile(r"failed to resolve reference \"(?P<image>[^\"]+)\": \S+: not found", re.I),
    re.compile(r"manifest unknown", re.I),
)
#: A build step that failed (its command line may quote anything), or a file missing from the context.
_NOT_A_PULL = re.compile(
    r"executor failed running|did not complete successfully|failed to compute cache key|"
    r"failed to calculate checksum|failed to read dockerfile|dockerfile parse error",
    re.I,
)
_UNAVAILABLE = re.compile(
    r"failed to do request|dial tcp|no such host|connection refused|connection reset|i/o timeout|"
    r"TLS handshake timeout|context deadline exceeded|request canceled|server misbehaving|"
    r"network is unreachable|toomanyrequests|too many requests|\b429\b|failed to authorize|"
    r"unauthorized|authentication required|\b40[13] |\b5\d\d (?:Internal Server Error|Bad Gateway|"
    r"Service Unavailable|Gateway Timeout)|timeout exceeded|registry[^\n]*unavailable",
    re.I,
)
#: Where a log names the image it was pulling when the error came.
_IMAGE_CONTEXT = (
    # The reference ends at ": " (a registry's port and the tag both follow a colon).
    re.compile(r"failed to resolve source metadata for (?P<image>\S+?):(?:\s|$)", re.I),
    re.compile(r"load metadata for (?P<image>\S+?):?$", re.I),
    re.compile(r"Step \d+/\d+ : FROM (?P<image>\S+)", re.I),
    re.compile(r"failed to resolve reference \"(?P<image>[^\"]+)\"", re.I),
    re.compile(
        r"^(?:#\d+ ERROR: |ERROR: )?(?:failed to solve: )?(?P<image>[^\s\"]+?): failed to ",
        re.I,
    ),
)
#: Compose names the service whose pull failed: " db Error ...".
_SERVICE_LINE = re.compile(r"^(?P<service>[\w.-]+) Error ")


@dataclass(frozen=True)
class PullProblem:
    kind: PullKind
    #: The image as the log names it ("" when it does not).
    image: str
    #: The Compose service whose image it is, when Compose says ("" otherwise).
    service: str = ""


def classify(log: str) -> PullProblem | None:
    """What the log says about a pull that failed, or None if no pull failed in it."""
    lines = [line.strip() for line in log.splitlines()]
    own = [
        line
        for line in lines
        if line and not _STEP_OUTPUT.match(line) and _OWN_LINE.match(line) and not _NOT_A_PULL.search(line)
    ]
    context = service = ""
    for line in own:
        for pattern in _IMAGE_CONTEXT:
            found = pattern.search(line)
            if found:
                context = found["image"]
        named = _SERVICE_LINE.match(line)
        service = named["service"] if named else service
        for missing in _MISSING:
            hit = missing.search(line)
            if hit:
                image = hit.groupdict().get("image") or context
                return PullProblem("missing", _clean(image), service)
    for line in own:
        if _UNAVAILABLE.search(line) and _about_a_registry(line, context):
            return PullProblem("unavailable", _clean(context or _image_in(line)), service)
    return None


def _about_a_registry(line: str, context: str) -> bool:
    """A network failure counts only when it is about a registry, not anything else a build does."""
    lowered = line.lower()
    return bool(context) or "/v2/" in lowered or "registry" in lowered or "toomanyrequests" in lowered


def _image_in(line: str) -> str:
    found = re.search(r"https?://[^/\s\"]+/v2/(?P<repo>[^\s\"]+?)/manifests/(?P<tag>[^\s\"?]+)", line)
    return f"{found['repo']}:{found['tag']}" if found else ""


def _clean(image: str) -> str:
    """The image without BuildKit's normalisation (``docker.io/library/``) nor trailing punctuation."""
    image = image.strip().rstrip(":,.\"'")
    for prefix in ("docker.io/library/", "docker.io/"):
        if image.startswith(prefix):
            return image[len(prefix) :]
    return image


def undeclared_loopback(image: str) -> bool:
    """Whether ``image`` names a registry on this machine's loopback that the instructor did not name
    with its port (``GRADER_REGISTRY_HOSTS``, ``GRADER_REGISTRY_MIRROR``): nothing of the grader's
    listens there, so a registry that does not answer is the student's mistake, not the machine's."""
    host = registry_host(image)
    bare = (
        host[: host.index("]") + 1]
        if host.startswith("[") and "]" in host
        else host.rpartition(":")[0] or host
    )
    loopback = bare in ("localhost", "[::1]") or bare.startswith("127.")
    declared = host in listed_registries() or host == os.environ.get("GRADER_REGISTRY_MIRROR", "").strip()
    return loopback and not declared
