"""The images a class's builds and services start from: found in its files, had once per batch.

A submission pulls images through every ``FROM`` (each stage, ``ARG`` defaults applied),
``COPY --from=image``, ``RUN --mount=from=image``, and the ``image:`` of each Compose service
that is not built. Before gradings start, :meth:`harness.runner.Runner.prepare_images` finds
them in the class's private copies (read here, bounded, never through ``docker compose config``:
the files are untrusted), and :class:`ImageSupply` pulls each absent one once, one pull at a
time, so that parallel gradings never race for it. A pull that fails is read by
:mod:`harness.pulls`:

- **unavailable** (the registry could not be reached, timed out, refused authentication,
  rate-limited us): the submissions that need the image end ``error``, graded again later,
  never a zero; the sentence names the image and ``grader images load``;
- **missing** (the registry answered that it has no such image), or anything else: left to the
  grading, whose build fails and says so in the course's terms.

Only images a grading could pull are asked for: names the policy refuses (another registry, a
variable without a value) are the grading's to refuse. ``GRADER_REGISTRY_MIRROR`` (``host:port``)
is asked first for Docker Hub's images, as the daemon's ``registry-mirrors`` setting is.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .assignment import Assignment
from .compose import find_compose_file
from .compose_files import read_sources
from .dockerfile import DOCKER_HUB, image_references, parse, pull_allowed, registry_host
from .errors import GraderError, GraderTimeout, SubmissionError
from .i18n import _, ngettext
from .intake import intake
from .pulls import classify, undeclared_loopback

if TYPE_CHECKING:
    from .docker_api import DockerAPI

#: A registry (host:port) asked first for Docker Hub's images; Docker Hub itself when it fails.
MIRROR_ENV = "GRADER_REGISTRY_MIRROR"
#: What setup's offline stand-ins carry (images/standins/): the tag they stand in for.
STANDIN_LABEL = "grader.standin"
#: Images one submission may have prepared: a file naming thousands is left to its own build.
MAX_IMAGES_PER_SUBMISSION = 16
#: A Dockerfile read to find its images (a lab's is a few hundred bytes).
MAX_DOCKERFILE_BYTES = 1024 * 1024

ImageState = Literal["present", "pulled", "missing", "unavailable", "left"]

# Docker's reference grammar (distribution/reference): [host[:port]/]path[:tag][@digest].
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_HOST = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[a-fA-F0-9:]+\])"
_REFERENCE = re.compile(
    rf"^(?:{_HOST}(?::[0-9]+)?/)?{_COMPONENT}(?:/{_COMPONENT})*"
    r"(?::[\w][\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$"
)
_HUB_PREFIXES = ("docker.io/", "index.docker.io/")
#: Compose's interpolation: $$, ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, $NAME.
_COMPOSE_VARIABLE = re.compile(
    r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?[^}]*\}|([A-Za-z_][A-Za-z0-9_]*))"
)


def valid_reference(image: str) -> bool:
    """Whether Docker would read ``image`` as an image name (``FROM Nginx`` is not one)."""
    name = image.partition("@")[0]
    if name.rfind(":") > name.rfind("/"):
        name = name.rpartition(":")[0]
    return bool(_REFERENCE.match(image)) and len(name) <= 255


def canonical(image: str) -> str:
    """One spelling per image: ``nginx`` and ``docker.io/library/nginx:latest`` are ``nginx:latest``."""
    name, at, digest = image.partition("@")
    tag = ""
    if name.rfind(":") > name.rfind("/"):
        name, _sep, tag = name.rpartition(":")
    for prefix in _HUB_PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix) :]
    if registry_host(name) == DOCKER_HUB and name.startswith("library/"):
        name = name[len("library/") :]
    if not tag and not at:
        tag = "latest"
    return name + (f":{tag}" if tag else "") + (f"@{digest}" if at else "")


def mirror_reference(image: str, mirror: str) -> str:
    """Where a registry mirror keeps Docker Hub's ``image`` (official images under ``library/``)."""
    name = canonical(image)
    path = name if "/" in name.partition(":")[0].partition("@")[0] else f"library/{name}"
    return f"{mirror.rstrip('/')}/{path}"


# -- the images a submission names -------------------------------------------------------------


@dataclass(frozen=True)
class NamedImage:
    """An image a build or a service would pull, and the file that names it."""

    image: str  # canonical
    where: str  # "siteweb/Dockerfile:1", "etudiants/compose.yaml, service db"


def images_named(root: Path, assignment: Assignment) -> list[NamedImage]:
    """The images the parts of the submission at ``root`` would pull, each once, at most
    :data:`MAX_IMAGES_PER_SUBMISSION`; what cannot be known from the files alone is left out."""
    found: dict[str, NamedImage] = {}
    for spec in assignment.parts.values():
        directory = root / spec.directory
        if not _inside(directory, root) or not directory.is_dir():
            continue
        if spec.kind == "dockerfile":
            text = _read_inside(directory / spec.dockerfile, root)
            named = _dockerfile_images(text, {}, f"{spec.directory}/{spec.dockerfile}")
        else:
            named = _compose_images(directory, root)
        for item in named:
            if len(found) >= MAX_IMAGES_PER_SUBMISSION:
                return list(found.values())
            found.setdefault(item.image, item)
    return list(found.values())


def class_images(sources: Iterable[Path], assignment: Assignment) -> dict[str, int]:
    """Every image the submissions ``sources`` name, with how many of them name it. Each one is
    read from a private copy made by the intake's rules; one that cannot be taken in names none
    (its grading says why)."""
    needs: dict[str, int] = {}
    parts = [spec.directory for spec in assignment.parts.values()]
    for source in sources:
        with tempfile.TemporaryDirectory(prefix="grader-images-") as tmp:
            try:
                root = intake(source, Path(tmp), assignment.intake, parts)
                named = images_named(root, assignment)
            except Exception:
                named = []  # the grading takes it in again and says what is wrong with it
        for item in named:
            needs[item.image] = needs.get(item.image, 0) + 1
    return needs


def _dockerfile_images(
    text: str | None, build_args: Mapping[str, str | None], where: str
) -> Iterator[NamedImage]:
    if text is None:
        return
    for heredocs in (False, True):  # whichever frontend reads it (see harness.dockerfile)
        for reference in image_references(parse(text, heredocs=heredocs), build_args):
            image = reference.image
            if image and valid_reference(image) and pull_allowed(image):
                yield NamedImage(canonical(image), f"{where}:{reference.line}")


def _compose_images(directory: Path, root: Path) -> Iterator[NamedImage]:
    compose_file = find_compose_file(directory)
    if compose_file is None:
        return
    try:
        sources = read_sources(compose_file, root)
    except SubmissionError:
        return  # the grading says what is wrong with the file
    if sources.refusals:
        return  # the grading refuses the project before anything is pulled
    for origin, document in sources.documents:
        services = document.get("services")
        for name, service in services.items() if isinstance(services, dict) else ():
            if isinstance(service, dict):
                yield from _service_images(service, root / origin, root, f"{origin}, service {name}")


def _service_images(
    service: dict[str, Any], compose_file: Path, root: Path, where: str
) -> Iterator[NamedImage]:
    build = service.get("build")
    if build is None:
        image = _interpolated(service.get("image"))
        if image and valid_reference(image) and pull_allowed(image):
            yield NamedImage(canonical(image), where)
        return
    spec = {"context": build} if isinstance(build, str) else build
    if not isinstance(spec, dict):
        return
    inline = spec.get("dockerfile_inline")
    if isinstance(inline, str):
        yield from _dockerfile_images(inline, _build_args(spec.get("args")), f"{where}, dockerfile_inline")
        return
    context = _interpolated(spec.get("context", "."))
    dockerfile = _interpolated(spec.get("dockerfile", "Dockerfile"))
    if context and dockerfile:
        path = compose_file.parent / context / dockerfile
        shown = os.path.relpath(path, root) if _inside(path, root) else where
        yield from _dockerfile_images(_read_inside(path, root), _build_args(spec.get("args")), shown)


def _interpolated(value: Any) -> str:
    """A Compose value with its variables' defaults applied; "" when one has no default (its value
    comes from an environment the grader does not read here)."""
    if not isinstance(value, str):
        return ""
    unresolved = False

    def replace(match: re.Match[str]) -> str:
        nonlocal unresolved
        if match.group(0) == "$$":
            return "$"
        if match.group(2) is not None:
            return match.group(3)
        unresolved = True
        return ""

    text = _COMPOSE_VARIABLE.sub(replace, value).strip()
    return "" if unresolved else text


def _build_args(raw: Any) -> dict[str, str | None]:
    pairs: Iterable[tuple[Any, Any]]
    if isinstance(raw, dict):
        pairs = raw.items()
    elif isinstance(raw, list):
        pairs = (str(item).partition("=")[::2] if "=" in str(item) else (item, None) for item in raw)
    else:
        return {}
    return {str(key): (_interpolated(str(value)) if value is not None else None) for key, value in pairs}


def _inside(path: Path, root: Path) -> bool:
    try:
        return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(root))
    except (OSError, ValueError):
        return False


def _read_inside(path: Path, root: Path) -> str | None:
    """The text of ``path`` when it is a regular file of the submission, else None: a name that
    leads outside is never read (the grading refuses it in its own words)."""
    if not _inside(path, root) or not path.is_file():
        return None
    try:
        with path.open("rb") as handle:
            return handle.read(MAX_DOCKERFILE_BYTES).decode("utf-8", "replace")
    except OSError:
        return None


# -- having them -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageOutcome:
    image: str
    state: ImageState
    #: What the engine answered, when a pull failed.
    detail: str = ""
    #: The tag a stand-in stands in for (its grader.standin label), "" for any other image.
    standin: str = ""


def standin_of(attrs: Mapping[str, Any] | None) -> str:
    labels = ((attrs or {}).get("Config") or {}).get("Labels") or {}
    return str(labels.get(STANDIN_LABEL, ""))


@dataclass
class ImageSupply:
    """Each image looked up and, when absent, pulled once; the outcome kept for the whole batch."""

    docker: DockerAPI
    #: A pull taking longer is given up and left to the grading's build (and its own time limit).
    pull_timeout_s: float = 600.0
    mirror: str = field(default_factory=lambda: os.environ.get(MIRROR_ENV, "").strip())
    _outcomes: dict[str, ImageOutcome] = field(default_factory=dict)
    # One pull at a time: two gradings asking for one image wait for the same pull.
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def ensure(self, images: Iterable[str]) -> list[ImageOutcome]:
        outcomes = []
        for image in dict.fromkeys(map(canonical, images)):
            with self._lock:
                if image not in self._outcomes:
                    self._outcomes[image] = self._have(image)
                outcomes.append(self._outcomes[image])
        return outcomes

    def _have(self, image: str) -> ImageOutcome:
        if not valid_reference(image):
            return ImageOutcome(image, "left")  # the grading's build says what is wrong with the name
        attrs = self.docker.image_attrs(image)
        if attrs is not None:
            return ImageOutcome(image, "present", standin=standin_of(attrs))
        if self.mirror and registry_host(image) == DOCKER_HUB:
            mirrored = mirror_reference(image, self.mirror)
            if self._pull(mirrored).state == "pulled":
                self.docker.tag_image(mirrored, image)
                self.docker.remove_image(mirrored)  # only the mirror's name: the image keeps its own
                return ImageOutcome(image, "pulled")
        return self._pull(image)

    def _pull(self, image: str) -> ImageOutcome:
        try:
            answer = self.docker.pull_within(image, self.pull_timeout_s)
        except GraderTimeout as exc:
            return ImageOutcome(image, "left", str(exc))
        if not answer:
            return ImageOutcome(image, "pulled")
        # The engine's answer to a pull, written as a build log names it, for harness.pulls to read.
        problem = classify(f"Step 1/1 : FROM {image}\nError response from daemon: {answer}")
        state: ImageState = problem.kind if problem is not None else "left"
        if state == "unavailable" and undeclared_loopback(image):
            state = "left"  # nothing of the grader's there: the grading says it is the student's mistake
        return ImageOutcome(image, state, answer.strip().splitlines()[0][:300] if answer.strip() else "")

    def unavailable_for(self, root: Path, assignment: Assignment) -> list[ImageOutcome]:
        """The images the submission at ``root`` needs that cannot be had today."""
        try:
            outcomes = self.ensure(named.image for named in images_named(root, assignment))
        except GraderError:
            return []  # the engine failed here: the grading meets the failure and says so
        return [outcome for outcome in outcomes if outcome.state == "unavailable"]


def unavailable_message(outcomes: list[ImageOutcome]) -> str:
    """The sentence of a submission that cannot be graded because an image cannot be had."""
    names = ", ".join(f"« {o.image} »" for o in outcomes)
    text = ngettext(
        "L'image {images} n'a pas pu être téléchargée : son registre est injoignable depuis la machine de "
        "correction (ce n'est pas une erreur de la remise). La remise sera corrigée à nouveau ; sur une "
        "machine qui ne peut pas télécharger d'images, chargez-la d'abord avec « grader images load "
        "ARCHIVE ».",
        "Les images {images} n'ont pas pu être téléchargées : leur registre est injoignable depuis la "
        "machine de correction (ce n'est pas une erreur de la remise). La remise sera corrigée à nouveau ; "
        "sur une machine qui ne peut pas télécharger d'images, chargez-les d'abord avec « grader images "
        "load ARCHIVE ».",
        len(outcomes),
    ).format(images=names)
    details = [f"{o.image}: {o.detail}" for o in outcomes if o.detail]
    return "\n".join([text, *details])


# -- an assignment's images (grader images) ----------------------------------------------------


def reference_images(assignment: Assignment) -> list[NamedImage]:
    """The images the assignment's reference solution names (none when it has no reference)."""
    reference = assignment.reference_dir()
    return images_named(reference, assignment) if reference.is_dir() else []


def undeclared_images(assignment: Assignment) -> list[NamedImage]:
    """Images the reference names that ``images:`` in assignment.yaml does not declare."""
    declared = {canonical(image) for image in assignment.images}
    return [named for named in reference_images(assignment) if named.image not in declared]


def needed_images(assignment: Assignment) -> list[str]:
    """What a machine must hold to grade the assignment: the declared images, then any other the
    reference names."""
    declared = [canonical(image) for image in assignment.images]
    return list(dict.fromkeys([*declared, *(named.image for named in undeclared_images(assignment))]))


def save_archive(docker: DockerAPI, images: list[str], archive: Path) -> None:
    """``docker save`` of ``images`` into the one file ``archive``, written whole or not at all."""
    partial = archive.with_name(archive.name + ".partial")
    try:
        with partial.open("wb") as handle:
            docker.save_images(images, handle)
        partial.replace(archive)
    except OSError as exc:
        raise GraderError(
            _("L'archive {path} n'a pas pu être écrite : {error}.").format(
                path=archive, error=exc.strerror or exc
            )
        ) from exc
    finally:
        partial.unlink(missing_ok=True)
