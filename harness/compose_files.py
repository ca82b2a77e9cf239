"""The files ``docker compose config`` would read, proven inside the submission before it runs.

``config`` reads more than the Compose file: ``include`` and ``extends`` bring in other
Compose files, ``env_file`` and ``label_file`` are read into the model, and a ``.env`` beside
each project is read for ``${VAR}``. Any of them may be a link to a host file, a remote source
(an OCI reference, a git URL) or a file too large to parse. This module reads the Compose
files the way Compose would, bounded in size, depth and alias expansion, follows every
reference, and reports each one that leaves the submission; :mod:`harness.policy` then gates
every key of every file it read.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import ComposeFileError, GraderError, PolicyViolation
from .i18n import _

#: Compose files, env files, label files and .env files: none of a lab's comes near this.
MAX_FILE_BYTES = 256 * 1024
#: Compose files one project may read through include and extends.
MAX_FILES = 32
#: Nesting of mappings and lists, anchors and aliases expanded (a lab's file nests about 6 deep).
MAX_DEPTH = 40
#: Values and keys of every file together, anchors and aliases expanded as Compose expands them.
MAX_NODES = 50_000

_REMOTE = re.compile(r"^([a-z][a-z0-9+.-]*://|git@|git::|oci:)", re.IGNORECASE)
RULE = "file_reference"


#: The only YAML tags Compose reads as Compose (compose-go's merge tags): with any other,
#: PyYAML and Compose's Go parser build different values (``!!binary`` is bytes here, a path there).
COMPOSE_TAGS = frozenset({"!reset", "!override"})


class _TooDeep(yaml.YAMLError):
    pass


class _ForeignTag(yaml.YAMLError):
    def __init__(self, tag: str, line: int) -> None:
        super().__init__(tag)
        self.tag = tag.replace("tag:yaml.org,2002:", "!!", 1)
        self.line = line


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader with a nesting limit, reading Compose's own tags (!reset, !override)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        """Merge keys (``<<: [*a, *a]``) as PyYAML does, then drop the keys a later one overrides.

        Older PyYAML releases keep every merged copy, so each level of merges of merges
        multiplies the pairs: 30 short lines would take all the memory of the machine before
        any limit could count them.
        """
        super().flatten_mapping(node)
        last = {
            (key.tag, key.value) if isinstance(key, yaml.ScalarNode) else id(key): index
            for index, (key, _value) in enumerate(node.value)
        }
        if len(last) < len(node.value):
            kept = set(last.values())
            node.value = [pair for index, pair in enumerate(node.value) if index in kept]

    def compose_node(self, parent: Any, index: Any) -> Any:  # the composer recurses once per level
        event = self.peek_event()  # type: ignore[no-untyped-call]
        tag = getattr(event, "tag", None)  # None when the file writes no tag (an alias has none)
        if tag is not None and tag not in COMPOSE_TAGS:
            raise _ForeignTag(tag, event.start_mark.line + 1)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _TooDeep(f"more than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _compose_tag(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    """Compose reads its own tags (``!reset []``, ``!override {...}``) as the value they tag."""
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


for _tag in COMPOSE_TAGS:
    _Loader.add_constructor(_tag, _compose_tag)


def _expanded(value: Any) -> tuple[int, int]:
    """(nodes, depth) of ``value`` with every alias expanded, without expanding it.

    Iterative and memoized by identity: an alias is a shared object, so a billion-laughs
    file costs one visit per anchor. A structure that contains itself never ends: infinite.
    """
    memo: dict[int, tuple[int, int]] = {}
    visiting: set[int] = set()
    stack: list[tuple[Any, bool]] = [(value, False)]
    while stack:
        item, children_done = stack.pop()
        if not isinstance(item, (dict, list)) or (id(item) in memo and not children_done):
            continue
        children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
        if children_done:
            visiting.discard(id(item))
            sizes = [memo.get(id(c), (1, 0)) for c in children]
            memo[id(item)] = (1 + sum(n for n, _ in sizes), 1 + max((d for _, d in sizes), default=0))
            continue
        if id(item) in visiting:
            return (MAX_NODES + 1, MAX_DEPTH + 1)  # contains itself
        visiting.add(id(item))
        stack.append((item, True))
        stack.extend((child, False) for child in children)
    return memo.get(id(value), (1, 0))


@dataclass
class Sources:
    """What ``config`` would read: each Compose document with the file it came from, and every refusal."""

    documents: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    #: (rule, sentence for the student) for every reference that leaves the submission.
    refusals: list[tuple[str, str]] = field(default_factory=list)
    nodes: int = 0


def _cap_error(message: str) -> PolicyViolation:
    return PolicyViolation(
        _("La remise demande ce que le bac à sable refuse ; rien n'a été lancé."), details=f"- {message}"
    )


def _relative(path: Path, root: Path) -> str:
    """``path`` as the student wrote it, relative to the submission (no link followed)."""
    relative = os.path.relpath(path, root)
    return str(path) if relative.startswith("..") else Path(relative).as_posix()


class _Reader:
    def __init__(self, root: Path, top: Path) -> None:
        self.given_root = root
        self.root = Path(os.path.realpath(root))
        self.top = top
        self.sources = Sources()
        self.seen: set[Path] = set()

    def inside(self, path: Path) -> bool:
        try:
            return Path(os.path.realpath(path)).is_relative_to(self.root)
        except (OSError, ValueError):  # a NUL byte, a name too long: not a file Compose could read either
            return False

    def refuse(self, where: str, value: str, sentence: str) -> None:
        self.sources.refusals.append((RULE, sentence.format(where=where, path=value)))

    def text(self, where: str, value: Any) -> bool:
        """Whether ``value``, at a key that names a file, is a string; else a refusal.

        PyYAML and Compose's Go parser read plain scalars differently (``on``, ``1_000``,
        ``2001-01-01`` are a boolean, a number, a date here and a file name there): the grader
        would prove one file while Compose reads another.
        """
        if value is None or isinstance(value, str):
            return True
        self.refuse(where, str(value)[:80], _(
            "« {where} » doit nommer un fichier par un texte, mais YAML y lit « {path} » (un nombre, "
            "une date, un booléen...) : écrivez le chemin entre guillemets, par exemple « \"app.env\" »."
        ))  # fmt: skip
        return False

    def resolve(
        self, where: str, value: Any, bases: tuple[Path, ...], *, folder: bool = False
    ) -> Path | None:
        """The file ``value`` names, when it provably lies inside the submission; else a refusal and None."""
        if not self.text(where, value) or not value:
            return None  # no path at all: Compose says what is wrong with it
        if "$" in value or value.startswith("~"):
            self.refuse(where, value, _(
                "« {where}: {path} » dépend d'une variable ou du dossier personnel (« $ », « ~ ») : "
                "écrivez un chemin relatif, à l'intérieur de la remise."
            ))  # fmt: skip
            return None
        if _REMOTE.match(value):
            self.refuse(where, value, _(
                "« {where}: {path} » est une source distante : le correcteur ne télécharge rien ; "
                "copiez ce fichier dans la remise."
            ))  # fmt: skip
            return None
        # Compose resolves some relative paths from the file, others from the project folder: both must hold.
        candidates = (
            [Path(value)] if Path(value).is_absolute() else list(dict.fromkeys(b / value for b in bases))
        )
        if not all(self.inside(candidate) for candidate in candidates):
            self.refuse(where, value, _(
                "« {where}: {path} » désigne un fichier hors de la remise : seuls les fichiers de la "
                "remise peuvent être lus."
            ))  # fmt: skip
            return None
        found = next((c for c in candidates if os.path.lexists(c)), candidates[0])
        try:
            if folder or not os.path.lexists(found):
                return found
            info = found.stat()
        except OSError:
            info = None
        if info is None or not stat.S_ISREG(info.st_mode):
            self.refuse(where, value, _(
                "« {where}: {path} » n'est pas un fichier ordinaire : remplacez-le par un fichier."
            ))  # fmt: skip
            return None
        if info.st_size > MAX_FILE_BYTES:
            raise _cap_error(
                _(
                    "« {where}: {path} » dépasse {size} Kio : un fichier lu par Compose doit rester petit."
                ).format(where=where, path=value, size=MAX_FILE_BYTES // 1024)
            )
        return found

    def dotenv(self, project_dir: Path) -> None:
        """Compose reads ``.env`` beside each project for ``${VAR}``: it must be a file of the submission."""
        if os.path.lexists(project_dir / ".env"):
            self.resolve(".env", _relative(project_dir / ".env", self.given_root), (self.given_root,))

    def load(self, path: Path, project_dir: Path) -> None:
        """Read one Compose file, then every file it makes Compose read."""
        real = Path(os.path.realpath(path))
        if real in self.seen:
            return
        self.seen.add(real)
        if len(self.seen) > MAX_FILES:
            raise _cap_error(
                _(
                    "Le projet Compose lit plus de {count} fichiers (include, extends) : simplifiez-le."
                ).format(count=MAX_FILES)
            )
        origin = _relative(path, self.given_root)
        if real.stat().st_size > MAX_FILE_BYTES:
            raise _cap_error(
                _("Le fichier {file} dépasse {size} Kio : un fichier Compose doit rester petit.").format(
                    file=origin, size=MAX_FILE_BYTES // 1024
                )
            )
        with real.open("rb") as handle:
            text = handle.read(MAX_FILE_BYTES + 1)[:MAX_FILE_BYTES]
        for document in self.parse(text.decode("utf-8", errors="replace"), origin):
            self.sources.documents.append((origin, document))
            self.follow(document, path, project_dir, origin)

    def parse(self, text: str, origin: str) -> list[dict[str, Any]]:
        try:
            documents: list[Any] = list(yaml.load_all(text, Loader=_Loader))
        except _TooDeep:
            raise _cap_error(
                _("Le fichier {file} imbrique plus de {depth} niveaux : simplifiez sa structure.").format(
                    file=origin, depth=MAX_DEPTH
                )
            ) from None
        except _ForeignTag as exc:
            raise _cap_error(
                _(
                    "Le fichier {file} (ligne {line}) porte l'étiquette YAML « {tag} », que Docker Compose ne "
                    "lit pas comme le correcteur : seules « !reset » et « !override » sont permises ; "
                    "écrivez la valeur sans étiquette."
                ).format(file=origin, line=exc.line, tag=exc.tag)
            ) from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (ligne {mark.line + 1})" if mark is not None else ""
            problem = getattr(exc, "problem", None) or (str(exc).splitlines() or [""])[0]
            raise ComposeFileError(
                _("Docker Compose refuse le fichier {file}.").format(file=origin), details=f"{problem}{where}"
            ) from None
        except Exception as exc:  # PyYAML's constructors raise more than YAMLError on odd values
            raise ComposeFileError(
                _("Docker Compose refuse le fichier {file}.").format(file=origin),
                details=f"{type(exc).__name__}: {exc}"[:200],
            ) from None
        for document in documents:
            nodes, depth = _expanded(document)
            self.sources.nodes += nodes
            if depth > MAX_DEPTH or self.sources.nodes > MAX_NODES:
                raise _cap_error(
                    _(
                        "Le fichier {file} se déploie en plus de {count} éléments ou {depth} niveaux "
                        "(ancres et alias YAML compris) : simplifiez-le."
                    ).format(file=origin, count=MAX_NODES, depth=MAX_DEPTH)
                )
        return [d for d in documents if isinstance(d, dict)]

    def follow(self, document: dict[str, Any], path: Path, project_dir: Path, origin: str) -> None:
        bases = (path.parent, project_dir)
        prefix = "" if path == self.top else f"{origin} › "
        self.dotenv(project_dir)
        for entry in _as_list(document.get("include")):
            spec = entry if isinstance(entry, dict) else {"path": entry}
            for value in _as_list(spec.get("env_file")):
                self.resolve(f"{prefix}include.env_file", value, bases)
            self.include(spec, bases, prefix)
        for name, service in _mapping(document.get("services")):
            self.build_paths(f"{prefix}{name}", service.get("build"))
            for key in ("env_file", "label_file"):
                for item in _as_list(service.get(key)):
                    value = item.get("path") if isinstance(item, dict) else item
                    self.resolve(f"{prefix}{name}.{key}", value, bases)
            extends = service.get("extends")
            if isinstance(extends, dict) and "file" in extends:
                found = self.resolve(f"{prefix}{name}.extends.file", extends["file"], bases)
                if found is not None and found.is_file():
                    self.load(found, found.parent)
        for kind in ("secrets", "configs"):
            for name, item in _mapping(document.get(kind)):
                self.text(f"{prefix}{kind}.{name}.file", item.get("file"))

    def include(self, spec: dict[str, Any], bases: tuple[Path, ...], prefix: str) -> None:
        """Load the files of one ``include`` entry from the one folder Compose resolves them from.

        Compose resolves every relative path of an included project (``extends.file``, nested
        ``include``, ``env_file``) from its project folder: ``project_directory``, else the folder
        of its first file, even for the files listed after it. The grader proves paths from each
        file's own folder, so an included project must live in one folder: a ``project_directory``
        elsewhere, or a later file in another folder, is refused.
        """
        own_dir: Path | None = None
        directory = spec.get("project_directory")
        if directory is not None:
            own_dir = self.resolve(f"{prefix}include.project_directory", directory, bases, folder=True)
            if own_dir is None:
                return
        for value in _as_list(spec.get("path")):
            found = self.resolve(f"{prefix}include", value, bases)
            if found is None:
                continue
            folder = Path(os.path.realpath(found.parent))
            if own_dir is None:
                own_dir = folder
            elif Path(os.path.realpath(own_dir)) != folder:
                self.refuse(f"{prefix}include", str(value), _(
                    "« {where}: {path} » n'est pas dans le dossier de projet de l'inclusion "
                    "(project_directory, ou le dossier du premier fichier) : Compose y chercherait ses "
                    "chemins relatifs ; placez le fichier dans ce dossier ou retirez project_directory."
                ))  # fmt: skip
                continue
            if found.is_file():
                self.load(found, found.parent)

    def build_paths(self, where: str, build: Any) -> None:
        """The folders and Dockerfile a build names, as strings (the resolved model proves them inside)."""
        if not isinstance(build, dict):
            self.text(f"{where}.build", build)
            return
        for key in ("context", "dockerfile"):
            self.text(f"{where}.build.{key}", build.get(key))
        extra = build.get("additional_contexts")
        for item in extra.values() if isinstance(extra, dict) else _as_list(extra):
            self.text(f"{where}.build.additional_contexts", item)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _mapping(value: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(value, dict):
        for name, item in value.items():
            if isinstance(item, dict):
                yield str(name), item


def read_sources(compose_file: Path, root: Path) -> Sources:
    """Every Compose document ``config`` would read from ``compose_file``, and every refusal.

    Raises :class:`ComposeFileError` for a file that is not YAML, and :class:`PolicyViolation`
    for one over a size, count, depth or expansion limit (no assignment relaxes those).
    """
    reader = _Reader(root, compose_file)
    shown = _relative(compose_file, root)
    try:
        if reader.resolve(shown, shown, (root,), folder=True) is not None:  # its size: load() says
            reader.load(compose_file, compose_file.parent)
    except GraderError:
        raise
    except Exception as exc:  # a file Compose cannot read either: the submission's fault, never a crash
        raise ComposeFileError(
            _("Docker Compose refuse le fichier {file}.").format(file=shown),
            details=f"{type(exc).__name__}: {exc}"[:200],
        ) from None
    return reader.sources
