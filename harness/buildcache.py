"""Builds inside the sandbox: what a build may pull, and cache mounts that no other grading sees.

:func:`prepare_builds` runs on a project's namespaced model right before it is built:

- every image a build or a service would pull (``FROM``, ``COPY --from``, ``RUN --mount=from=``,
  a service's ``image:``) must come from Docker Hub or a registry of ``GRADER_REGISTRY_HOSTS``;
  a name whose variables have no value is refused too, since nobody can tell what it pulls;
- ``# syntax=`` may only name Docker's own Dockerfile frontend: another frontend is a program
  that reads the Dockerfile in the grader's place and could ignore everything below;
- every ``RUN --mount=type=cache`` gets an id of the grading's own (BuildKit shares a cache
  mount between every build on the engine that uses the same id, or the same target when it has
  none) and its command ends with :func:`cache_marker`; ``BUILDKIT_CACHE_MOUNT_NS`` puts every
  cache mount of the build, even one this module cannot see (an ``ONBUILD`` of a base image),
  under the grading's namespace as well.

BuildKit names a cache mount's record after the command that used it, and Docker 20.10 can
list the records and remove one by its id, not by its description (``docs/security-builds.md``):
:func:`remove_build_caches` lists them, keeps those whose command ends with the grading's
marker, and removes them by id, and only them, after the grading.
"""

from __future__ import annotations

import posixpath
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .dockerfile import (
    Instruction,
    Unresolved,
    allowed_registries_text,
    expand,
    image_references,
    mount_options,
    parse,
    pull_allowed,
    registry_host,
    steps,
)
from .errors import PolicyViolation
from .i18n import _

if TYPE_CHECKING:
    from .docker_api import DockerAPI

#: The build argument with which BuildKit's Dockerfile frontend prefixes every cache mount id.
CACHE_NAMESPACE_ARG = "BUILDKIT_CACHE_MOUNT_NS"
#: The build argument that, like ``# syntax=``, chooses the Dockerfile frontend.
SYNTAX_ARG = "BUILDKIT_SYNTAX"
#: Docker's own Dockerfile frontends (on Docker Hub), the only ones ``# syntax=`` may name.
OFFICIAL_FRONTENDS = ("docker/dockerfile", "docker/dockerfile-upstream")
#: Shells in which `` # ...`` after a command is a comment: the marker changes nothing there.
COMMENT_SHELLS = frozenset(
    {"sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "busybox", "pwsh", "powershell"}
)
_CACHE_RECORD = "exec.cachemount"
#: The marker at the end of a cache record's description. BuildKit 0.12+ (Engine 25+) appends the
#: mount's id (`` with id "g<run>/..."``), which then must be in the same run's namespace.
_MARKER = re.compile(r' # grader\.run=([0-9A-Za-z_.-]+)(?: with id "g([0-9A-Za-z_.-]+)/[^"]*")?$')


def cache_marker(run_id: str) -> str:
    """What ends the command of every ``RUN`` with a cache mount in the grading ``run_id``."""
    return f" # grader.run={run_id}"


def cache_namespace(run_id: str) -> str:
    return f"g{run_id}"


# -- before the build ----------------------------------------------------------------------------


def prepare_builds(model: dict[str, Any], root: Path, run_id: str, workdir: Path) -> None:
    """Check what the project's builds and services would pull, and namespace their cache mounts.

    ``model`` is the namespaced Compose model about to be built (changed in place), ``root`` the
    submission's private copy (for the file names in messages); a Dockerfile that needs
    rewriting is written under ``workdir`` and the model points at it, so the submission's own
    file stays as the student wrote it. Raises :class:`PolicyViolation`.
    """
    for name, service in (model.get("services") or {}).items():
        where = _("service « {service} »").format(service=name)
        build = service.get("build")
        if not isinstance(build, dict):
            image = str(service.get("image") or "")
            if image and not pull_allowed(image):
                raise _refused_image(where, image)
            continue
        args: dict[str, Any] = build["args"] if isinstance(build.get("args"), dict) else {}
        build["args"] = args
        frontend = args.get(SYNTAX_ARG)
        if frontend:
            _check_frontend(str(frontend), where, ())
        args[CACHE_NAMESPACE_ARG] = cache_namespace(run_id)
        inline = build.get("dockerfile_inline")
        if isinstance(inline, str):
            build["dockerfile_inline"] = _prepared(inline, args, run_id, _Source(where, ""))
            continue
        path = Path(str(build.get("context") or ".")) / str(build.get("dockerfile") or "Dockerfile")
        if not path.is_file():
            continue  # Compose says so in its own words when it builds
        text = path.read_bytes().decode("utf-8", "surrogateescape")
        prepared = _prepared(text, args, run_id, _Source(where, _shown(path, root)))
        if prepared != text:
            copy = workdir / "dockerfiles" / f"{model.get('name', 'project')}-{name}" / path.name
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(prepared.encode("utf-8", "surrogateescape"))
            ignore = path.with_name(path.name + ".dockerignore")  # BuildKit reads it beside the Dockerfile
            if ignore.is_file():
                shutil.copyfile(ignore, copy.with_name(copy.name + ".dockerignore"))
            build["dockerfile"] = str(copy)


def _shown(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.name


@dataclass(frozen=True)
class _Source:
    """Where a Dockerfile comes from: a file of the submission, or a service's dockerfile_inline."""

    service: str  # "service « web »"
    file: str  # relative to the submission; "" for dockerfile_inline

    def at(self, line: int | None = None) -> tuple[str, tuple[str, ...]]:
        """How a message names the place, and the locations of the error."""
        if not self.file:
            where = _("{service}, dockerfile_inline").format(service=self.service)
            return (where if line is None else _("{where}, ligne {line}").format(where=where, line=line)), ()
        place = self.file if line is None else f"{self.file}:{line}"
        return place, (place,)


def _prepared(text: str, args: Mapping[str, Any], run_id: str, source: _Source) -> str:
    """The Dockerfile ``text`` once checked, with its cache mounts namespaced and marked."""
    build_args = {key: None if value is None else str(value) for key, value in args.items()}
    build_args.pop(CACHE_NAMESPACE_ARG, None)
    for heredocs in (False, True):  # whichever frontend reads it: see harness.dockerfile
        dockerfile = parse(text, heredocs=heredocs)
        if "syntax" in dockerfile.directives:
            _check_frontend(dockerfile.directives["syntax"], *source.at())
        for reference in image_references(dockerfile, build_args):
            where, locations = source.at(reference.line)
            if not reference.image:
                raise PolicyViolation(
                    _(
                        "{where} : le nom d'image « {text} » dépend de la variable {name}, qui n'a pas de "
                        "valeur : le correcteur ne peut pas savoir quelle image serait tirée. Donnez-lui une "
                        "valeur par défaut (ARG {name}=...)."
                    ).format(where=where, text=reference.written, name=reference.missing),
                    locations=locations,
                )
            if not pull_allowed(reference.image):
                raise _refused_image(where, reference.image, locations)
    rewritten, refusals = namespace_cache_mounts(text, run_id, build_args)
    if refusals:
        where, locations = source.at(refusals[0].line)
        raise PolicyViolation(_refusal_text(refusals[0], where), locations=locations)
    return rewritten


def _check_frontend(image: str, where: str, locations: tuple[str, ...]) -> None:
    name = re.sub(r"^(docker\.io/|index\.docker\.io/)", "", image.strip()).split("@")[0].rsplit(":", 1)[0]
    if name not in OFFICIAL_FRONTENDS or registry_host(image.strip()) != "docker.io":
        raise PolicyViolation(
            _(
                "{where} : « syntax={image} » ferait lire le Dockerfile par un autre programme (un frontend) "
                "que celui de Docker ; seul docker/dockerfile est permis : retirez cette ligne."
            ).format(where=where, image=image),
            locations=locations,
        )


def _refused_image(where: str, image: str, locations: tuple[str, ...] = ()) -> PolicyViolation:
    return PolicyViolation(
        _(
            "{where} : l'image « {image} » viendrait du registre {registry}, que le correcteur n'autorise pas ; "
            "prenez-la d'un registre permis : {allowed}."
        ).format(where=where, image=image, registry=registry_host(image), allowed=allowed_registries_text()),
        locations=locations,
    )


def _refusal_text(refusal: CacheMountRefusal, where: str) -> str:
    if refusal.reason == "variable":
        return _(
            "{where} : le type du montage (--mount) dépend de la variable {name}, qui n'a pas de valeur ; "
            "écrivez le type en clair (type=cache, type=bind...)."
        ).format(where=where, name=refusal.detail)
    if refusal.reason == "shell":
        return _(
            "{where} : un cache de construction (--mount=type=cache) n'est accepté qu'avec un shell de type "
            "sh ou bash, pas avec SHELL {shell}."
        ).format(where=where, shell=refusal.detail)
    return _(
        "{where} : un cache de construction (--mount=type=cache) n'est accepté que sur un RUN écrit en "
        'forme shell (RUN commande ...), sans forme exec ["..."] ni heredoc (<<EOF).'
    ).format(where=where)


# -- cache mounts, namespaced and marked ---------------------------------------------------------


@dataclass(frozen=True)
class CacheMountRefusal:
    """A cache mount that cannot be marked, why ("exec_form", "heredoc", "shell", "variable"), where."""

    line: int
    reason: str
    detail: str = ""


def namespace_cache_mounts(
    text: str, run_id: str, build_args: Mapping[str, str | None]
) -> tuple[str, list[CacheMountRefusal]]:
    """``text`` with every ``RUN --mount=type=cache`` (in an ``ONBUILD`` too) given an id of the
    grading's own, ``g<run_id>-<its id, or its target>``, and the :func:`cache_marker` after the command.

    A rewritten instruction is written on its first line and the lines it spanned are left
    empty, so every line keeps its number (BuildKit's errors name lines); every other line is
    kept byte for byte.
    """
    dockerfile = parse(text, heredocs=False)
    # Read as recent frontends do, a line may lie in a heredoc: left as written, and refused.
    heredoc_lines = parse(text, heredocs=True).heredoc_lines
    lines = list(dockerfile.lines)
    refusals: list[CacheMountRefusal] = []
    for step in steps(dockerfile, build_args):
        instruction = step.instruction.inner or step.instruction
        if instruction.keyword != "RUN" or not instruction.args:
            continue
        flags = list(instruction.flags)
        for index, flag in enumerate(flags):
            if not flag.lower().startswith("--mount="):
                continue
            value = flag.partition("=")[2]
            try:
                kind = expand(mount_options(value).get("type", "bind"), step.values, dockerfile.escape)
            except Unresolved as exc:
                refusals.append(CacheMountRefusal(instruction.line, "variable", exc.name))
                continue
            if kind.strip().lower() == "cache":
                flags[index] = "--mount=" + with_cache_id(value, f"{cache_namespace(run_id)}-")
        if flags == list(instruction.flags):
            continue
        reason = "heredoc" if step.instruction.line in heredoc_lines else _unmarkable(instruction, step.shell)
        if reason:
            refusals.append(CacheMountRefusal(instruction.line, reason, " ".join(step.shell)))
            continue
        first, last = step.instruction.line - 1, step.instruction.last
        lines[first] = rendered(step.instruction, flags, cache_marker(run_id)) + (
            _ending(lines[first]) or "\n"
        )
        for number in range(first + 1, last):
            lines[number] = _ending(lines[number]) or "\n"
    return "".join(lines), refusals


def _ending(line: str) -> str:
    return line[len(line.rstrip("\r\n")) :]


def _unmarkable(instruction: Instruction, shell: tuple[str, ...]) -> str:
    """Why the marker cannot end this command without changing it ("" when it can)."""
    if instruction.is_json:
        return "exec_form"
    if instruction.heredocs():
        return "heredoc"
    program = posixpath.basename(shell[0]) if shell else ""
    if program not in COMMENT_SHELLS and not program.startswith(("python", "perl", "ruby")):
        return "shell"
    return ""


def with_cache_id(value: str, prefix: str) -> str:
    """A cache ``--mount`` value with the id it had (by default, its target) behind ``prefix``,
    appended last: BuildKit keeps the last value of a key given twice."""
    options = mount_options(value)
    original = options.get("id") or _clean_path(options.get("target", ""))
    return value + "," + csv_field(f"id={prefix}{original}")


def _clean_path(path: str) -> str:
    """Go's ``path.Clean``: what BuildKit makes of a target to use it as the default id."""
    cleaned = posixpath.normpath(path) if path else "."
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def csv_field(text: str) -> str:
    """One CSV field, quoted where a comma, a quote or an edge space would split or change it."""
    if re.search(r'[,"\r\n]', text) or text != text.strip():
        return '"' + text.replace('"', '""') + '"'
    return text


def quote_flag(flag: str) -> str:
    """``flag`` written so that BuildKit reads it back as one word, unchanged: a flag starts
    with ``--`` outside quotes, its value may be quoted."""
    name, equals, value = flag.partition("=")
    if not re.search(r"""[\s"'\\]""", value):
        return flag
    return name + equals + '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rendered(instruction: Instruction, flags: list[str], suffix: str = "") -> str:
    """``instruction`` on one line, with ``flags`` in place of its own and ``suffix`` at the end."""
    target = instruction.inner or instruction
    line = " ".join([target.written, *(quote_flag(flag) for flag in flags), target.args]) + suffix
    return f"{instruction.written} {line}" if instruction.inner else line


# -- after the grading ---------------------------------------------------------------------------


def _cache_records(docker: DockerAPI) -> list[dict[str, Any]]:
    """The engine's cache-mount records."""
    return [r for r in docker.build_cache_records() if r.get("Type") == _CACHE_RECORD]


def build_cache_runs(docker: DockerAPI) -> dict[str, list[str]]:
    """The cache-mount records on the engine that gradings left, by run id."""
    runs: dict[str, list[str]] = {}
    for record in _cache_records(docker):
        found = _MARKER.search(str(record.get("Description") or ""))
        if found and found.group(2) in (None, found.group(1)):
            runs.setdefault(found.group(1), []).append(str(record["ID"]))
    return runs


def remove_build_caches(docker: DockerAPI, run_id: str) -> list[str]:
    """Remove the cache-mount records of the grading ``run_id``, and only them; return their ids.

    A record still in use (a build of that grading still running) is left to the next call.
    """
    removed: list[str] = []
    for record_id in build_cache_runs(docker).get(run_id, []):
        if re.fullmatch(r"[0-9a-z]+", record_id):
            removed += docker.remove_build_cache_record(record_id)
    return removed
