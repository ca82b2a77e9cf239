"""Dockerfiles as BuildKit reads them: instructions, build flags, variables, image references.

Pure text functions, no engine: :mod:`harness.buildcache` applies them to the Dockerfiles a
Compose project builds. The parser follows BuildKit's own (``frontend/dockerfile/parser``):
parser directives at the top, the escape character and its line continuations, comment lines
inside a continuation, builder flags with quotes (``--mount="type=cache,target=/c"``) or with
their value as the next word, ``ONBUILD`` wrapping another instruction. Heredocs
(``RUN <<EOF``) are read by recent frontends and not by the one built into Docker 20.10, which
takes their lines for instructions: :func:`parse` reads a Dockerfile both ways, and the
analyses take the union, so that whichever frontend runs, nothing escapes them.
"""

from __future__ import annotations

import csv
import json
import os
import platform as _platform
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

#: A parser directive; BuildKit also looks for ``// syntax=`` when it picks the frontend.
#: BuildKit's own pattern; its ``\s`` is Go's: tab, newline, form feed, carriage return and space.
_DIRECTIVE = re.compile(
    r"^(?:#|//)[\t\n\f\r ]*([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*$"
)
_WHITESPACE = re.compile(r"[\t\v\f\r ]+")
_HEREDOC = re.compile(r"^(\d*)<<(-?)([^<]*)$")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BOM = "\ufeff"
#: Instructions whose arguments may open a heredoc (recent frontends).
HEREDOC_INSTRUCTIONS = ("RUN", "COPY", "ADD")


@dataclass(frozen=True)
class Instruction:
    """One instruction: what BuildKit sees once continuation lines are joined."""

    keyword: str  # upper case: RUN, FROM, ...
    written: str  # the keyword as written (its case kept when the line is rewritten)
    flags: tuple[str, ...]  # builder flags, unquoted: "--mount=type=cache,target=/c"
    args: str  # the rest of the joined line
    line: int  # first physical line, from 1
    last: int  # last physical line of the instruction itself (heredoc bodies not included)
    inner: Instruction | None = None  # the instruction an ONBUILD wraps

    @property
    def is_json(self) -> bool:
        """The exec form (``RUN ["a", "b"]``): a JSON array of strings."""
        if not self.args.startswith("["):
            return False
        try:
            value = json.loads(self.args)
        except ValueError:
            return False
        return isinstance(value, list) and all(isinstance(item, str) for item in value)

    def heredocs(self) -> list[tuple[str, bool]]:
        """The heredocs the instruction opens: (terminator, leading tabs stripped)."""
        if self.keyword not in HEREDOC_INSTRUCTIONS or self.is_json or "<<" not in self.args:
            return []
        found = []
        for word in _raw_words(self.args):
            match = _HEREDOC.match(word)
            name = _unquote(match.group(3)) if match else ""
            if match and name and not _WHITESPACE.search(name):
                found.append((name, match.group(2) == "-"))
        return found

    def flag_values(self, name: str) -> list[str]:
        """The values of the builder flag ``--name`` (flag names compared without case)."""
        prefix = f"--{name.lower()}="
        return [flag[len(prefix) :] for flag in self.flags if flag.lower().startswith(prefix)]


@dataclass(frozen=True)
class Dockerfile:
    lines: tuple[str, ...]  # physical lines, each with its line ending
    directives: Mapping[str, str]  # parser directives (syntax, escape, check), names in lower case
    escape: str
    instructions: tuple[Instruction, ...]
    heredoc_lines: frozenset[int] = frozenset()  # lines of heredoc bodies (when read), from 1


def parse(text: str, *, heredocs: bool) -> Dockerfile:
    """The instructions of a Dockerfile; with ``heredocs``, heredoc bodies are skipped as recent
    frontends do, without, their lines are read as instructions as Docker 20.10's frontend does."""
    lines = tuple(_physical_lines(text))
    directives: dict[str, str] = {}
    escape = "\\"
    in_directives = True
    instructions: list[Instruction] = []
    bodies: set[int] = set()
    index = 0
    while index < len(lines):
        content = _strip_newline(lines[index])
        if index == 0:
            content = content.removeprefix(_BOM)
        content = content.lstrip()
        index += 1
        if in_directives:
            directive = _DIRECTIVE.match(content)
            if directive and directive.group(1).lower() not in directives:
                directives[directive.group(1).lower()] = directive.group(2)
                if directive.group(1).lower() == "escape" and directive.group(2) in ("\\", "`"):
                    escape = directive.group(2)
                continue
            in_directives = False
        start = index
        logical, ended = _trim_continuation("" if _is_comment(content) else content, escape)
        if ended and not logical:
            continue
        while not ended and index < len(lines):
            piece = _strip_newline(lines[index])
            index += 1
            if _is_comment(piece) or not piece.strip():
                continue
            piece, ended = _trim_continuation(piece, escape)
            logical += piece
        instruction = _instruction(logical, start, index)
        instructions.append(instruction)
        if heredocs:
            for terminator, chomp in (instruction.inner or instruction).heredocs():
                while index < len(lines):
                    body = _strip_newline(lines[index])
                    index += 1
                    bodies.add(index)
                    if (body.lstrip("\t") if chomp else body) == terminator:
                        break
    return Dockerfile(lines, directives, escape, tuple(instructions), frozenset(bodies))


def _physical_lines(text: str) -> Iterator[str]:
    """Lines split on ``\\n`` only, as BuildKit's scanner does, each with its ending."""
    pieces = text.split("\n")
    for piece in pieces[:-1]:
        yield piece + "\n"
    if pieces[-1]:
        yield pieces[-1]


def _strip_newline(line: str) -> str:
    return line.rstrip("\r\n")


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def _trim_continuation(line: str, escape: str) -> tuple[str, bool]:
    """``line`` without its continuation character, and whether the instruction ends there."""
    pattern = re.compile(rf"([^{re.escape(escape)}]){re.escape(escape)}[ \t]*$|^{re.escape(escape)}[ \t]*$")
    if pattern.search(line):
        return pattern.sub(r"\1", line, count=1), False
    return line, True


def _instruction(logical: str, line: int, last: int) -> Instruction:
    parts = _WHITESPACE.split(logical.strip(), maxsplit=1)
    flags: list[str] = []
    args = ""
    if len(parts) == 2:
        args, flags = split_flags(parts[1])
    keyword = parts[0].upper()
    inner = _instruction(args, line, last) if keyword == "ONBUILD" and args.strip() else None
    return Instruction(keyword, parts[0], tuple(flags), args.strip(), line, last, inner)


def split_flags(line: str) -> tuple[str, list[str]]:
    """(the rest of the line, the builder flags in front of it), as BuildKit splits them.

    A flag written ``--name value`` becomes ``--name=value`` (recent frontends; older ones
    refuse it, so reading it this way never misses what a build may do).
    """
    words: list[str] = []
    word: list[str] = []
    quote = ""
    in_word = blank_ok = in_argument = False
    need_argument = True
    position = 0
    while position <= len(line):
        char = line[position] if position < len(line) else ""
        if not in_word:
            if position == len(line):
                break
            if char.isspace():
                position += 1
                continue
            if not in_argument and not line.startswith("--", position):
                return line[position:], words
            in_word = True
        if position == len(line):
            if "".join(word) != "--" and (blank_ok or word):
                words.append("".join(word))
            break
        if quote:
            if char == quote:
                quote = ""
            elif char == "\\" and position + 1 < len(line):
                position += 1
                word.append(line[position])
            elif char != "\\":
                word.append(char)
            position += 1
            continue
        if char.isspace():
            in_word = False
            text = "".join(word)
            if in_argument:
                words[-1] += "=" + text
                in_argument, need_argument = False, True
            else:
                if text == "--":
                    return line[position:], words
                if blank_ok or word:
                    in_argument = need_argument
                    words.append(text)
            word, blank_ok = [], False
            position += 1
            continue
        if char == "=" and need_argument:
            need_argument = False
        if char in "'\"":
            quote, blank_ok = char, True
        elif char == "\\":
            if position + 1 < len(line):
                position += 1
                word.append(line[position])
        else:
            word.append(char)
        position += 1
    return "", words


def _raw_words(line: str) -> list[str]:
    """Shell-like words of ``line``, quotes kept (enough to find heredoc markers)."""
    return re.findall(r"""(?:[^\s"'\\]|\\.|"(?:[^"\\]|\\.)*"|'[^']*')+""", line)


def _unquote(word: str) -> str:
    return re.sub(r"""\\(.)|["']""", lambda m: m.group(1) or "", word)


# -- variables -------------------------------------------------------------------------------


class Unresolved(Exception):
    """A variable has no value where an image name needs one."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def expand(word: str, values: Mapping[str, str | None], escape: str = "\\") -> str:
    """``word`` with ``$NAME``, ``${NAME}``, ``${NAME:-default}``, ``${NAME:+alt}`` (and their forms
    without ``:``) replaced, quotes removed; a variable without a value raises :class:`Unresolved`."""
    out: list[str] = []
    position = 0
    quote = ""
    while position < len(word):
        char = word[position]
        if char == escape and quote != "'" and position + 1 < len(word):
            out.append(word[position + 1])
            position += 2
        elif char in "'\"" and quote in ("", char):
            quote = "" if quote else char
            position += 1
        elif char == "$" and quote != "'":
            text, position = _variable(word, position, values, escape)
            out.append(text)
        else:
            out.append(char)
            position += 1
    return "".join(out)


def _variable(word: str, position: int, values: Mapping[str, str | None], escape: str) -> tuple[str, int]:
    """The value of the variable at ``word[position]`` (a ``$``), and where the word goes on."""
    if word.startswith("${", position):
        end = word.find("}", position)
        if end < 0:
            raise Unresolved(word[position:])
        body = word[position + 2 : end]
        name = _NAME.match(body)
        if name is None:
            raise Unresolved(body)
        operator = re.match(r":?[-+]", body[name.end() :])
        if name.end() != len(body) and operator is None:
            raise Unresolved(body)  # ${NAME%suffix} and friends: not worth guessing
        value = values.get(name.group())
        if operator is None:
            return _required(name.group(), value), end + 1
        alternative = body[name.end() + len(operator.group()) :]
        is_set = value is not None and (value != "" or not operator.group().startswith(":"))
        if operator.group().endswith("-"):
            return (value if is_set and value is not None else expand(alternative, values, escape)), end + 1
        return (expand(alternative, values, escape) if is_set else ""), end + 1
    name = _NAME.match(word, position + 1)
    if name is None:
        return "$", position + 1
    return _required(name.group(), values.get(name.group())), name.end()


def _required(name: str, value: str | None) -> str:
    if value is None:
        raise Unresolved(name)
    return value


def mount_fields(value: str) -> list[str]:
    """The comma-separated fields of a ``--mount`` value (CSV, as BuildKit reads it)."""
    try:
        return next(csv.reader([value]), [])
    except csv.Error:
        return [value]


def mount_options(value: str) -> dict[str, str]:
    """``--mount`` keys (lower case) and their values; a key given twice keeps its last value."""
    options: dict[str, str] = {}
    for field in mount_fields(value):
        key, _, text = field.partition("=")
        options[key.strip().lower()] = text
    for alias in ("dst", "destination"):
        if alias in options:
            options["target"] = options.pop(alias)
    if "src" in options:
        options["source"] = options.pop("src")
    return options


# -- stages and image references -------------------------------------------------------------

DEFAULT_SHELL: tuple[str, ...] = ("/bin/sh", "-c")


def platform_args() -> dict[str, str | None]:
    """BuildKit's automatic platform arguments, for a build on this (Linux) machine."""
    machine = _platform.machine().lower()
    arch = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}.get(machine, machine)
    values: dict[str, str | None] = {}
    for prefix in ("BUILD", "TARGET"):
        values.update({f"{prefix}PLATFORM": f"linux/{arch}", f"{prefix}OS": "linux", f"{prefix}ARCH": arch})
        values[f"{prefix}VARIANT"] = ""
    return values


@dataclass(frozen=True)
class Step:
    """An instruction with what is known where it runs."""

    instruction: Instruction
    values: Mapping[str, str | None]  # the build arguments in scope (global ones before the first FROM)
    shell: tuple[str, ...]  # the stage's SHELL
    stages: frozenset[str]  # every stage name of the Dockerfile, lower case


def steps(dockerfile: Dockerfile, build_args: Mapping[str, str | None]) -> Iterator[Step]:
    """Walk the instructions keeping track of ARG values (``build_args`` override declared
    defaults), stage names and each stage's shell."""
    stages = frozenset(name for name in map(stage_name, dockerfile.instructions) if name)
    global_values: dict[str, str | None] = platform_args()
    values = global_values
    shell = DEFAULT_SHELL
    shells: dict[str, tuple[str, ...]] = {}  # each stage's shell, by stage name or number
    for number, instruction in enumerate(dockerfile.instructions):
        if instruction.keyword == "FROM":
            yield Step(instruction, global_values, shell, stages)
            base = instruction.args.split()[0].lower() if instruction.args.split() else ""
            shell, values, stage = (
                shells.get(base, DEFAULT_SHELL),
                {},
                stage_name(instruction) or f"#{number}",
            )
            shells[stage] = shell
            continue
        if instruction.keyword == "ARG":
            for name, default in _declared(instruction.args):
                given = build_args.get(name)
                if given is None and default is not None:
                    try:
                        given = expand(default, values, dockerfile.escape)
                    except Unresolved:
                        given = None
                values[name] = (
                    given if given is not None or values is global_values else global_values.get(name)
                )
        if instruction.keyword == "SHELL" and instruction.is_json and values is not global_values:
            shell = shells[stage] = tuple(json.loads(instruction.args))
        yield Step(instruction, values, shell, stages)


def stage_name(instruction: Instruction) -> str:
    words = instruction.args.split() if instruction.keyword == "FROM" else []
    return words[2].lower() if len(words) >= 3 and words[1].lower() == "as" else ""


def _declared(args: str) -> Iterator[tuple[str, str | None]]:
    """``ARG a b=1 "c=two words"``: each name with its default (None when it has none)."""
    for word in _raw_words(args):
        name, equals, default = word.partition("=")
        if _NAME.fullmatch(name):
            yield name, (default if equals else None)


@dataclass(frozen=True)
class ImageReference:
    """An image a build would pull, where the Dockerfile names it."""

    line: int
    written: str  # as written, variables included
    image: str  # with the variables replaced ("" when one has no value)
    missing: str = ""  # the variable without a value


def image_references(
    dockerfile: Dockerfile, build_args: Mapping[str, str | None]
) -> Iterator[ImageReference]:
    """Every image named by a ``FROM``, ``COPY --from`` or ``RUN --mount=from=`` (in an ``ONBUILD``
    too), a stage name or ``scratch`` excepted."""
    for step in steps(dockerfile, build_args):
        instruction = step.instruction.inner or step.instruction
        written: list[str] = []
        if instruction.keyword == "FROM" and instruction.args.split():
            written.append(instruction.args.split()[0])
        if instruction.keyword == "COPY":
            written += instruction.flag_values("from")
        if instruction.keyword == "RUN":
            written += [
                options["from"]
                for options in map(mount_options, instruction.flag_values("mount"))
                if "from" in options
            ]
        for text in written:
            try:
                image = expand(text, step.values, dockerfile.escape).strip()
            except Unresolved as exc:
                yield ImageReference(instruction.line, text, "", exc.name)
                continue
            if image.lower() in step.stages or image.isdigit() or image == "scratch":
                continue
            if not image:  # every variable had a value, and together they name nothing
                names = re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", text)
                yield ImageReference(instruction.line, text, "", ", ".join(names) or text)
                continue
            yield ImageReference(instruction.line, text, image)


def final_base(dockerfile: Dockerfile, build_args: Mapping[str, str | None], target: str = "") -> str | None:
    """The image the built stage (``target``, else the last one) starts from, stage names followed:
    ``scratch`` for an empty one, None when a variable leaves it unknown or ``target`` names no stage."""
    bases: list[tuple[str, str]] = []  # each stage's name (or "#n") and what its FROM names
    for step in steps(dockerfile, build_args):
        instruction = step.instruction
        if instruction.keyword != "FROM" or not instruction.args.split():
            continue
        try:
            image = expand(instruction.args.split()[0], step.values, dockerfile.escape).strip()
        except Unresolved:
            image = ""
        bases.append((stage_name(instruction) or f"#{len(bases)}", image))
    by_name = {name: image for name, image in bases}
    by_number = {str(number): name for number, (name, _) in enumerate(bases)}
    stage = target.lower() if target else (bases[-1][0] if bases else "")
    for _ in range(len(bases)):
        followed = by_name.get(stage)
        if not followed:
            return None
        name = followed.lower()
        if name not in by_name and name not in by_number:
            return followed
        stage = by_number.get(name, name)
    return None


# -- registries --------------------------------------------------------------------------------

#: Registries the grader may pull from besides Docker Hub (host or host:port, comma-separated).
#: Loopback by default: grading reaches no other registry unless the instructor names it.
REGISTRY_HOSTS_ENV = "GRADER_REGISTRY_HOSTS"
DEFAULT_REGISTRY_HOSTS = "127.0.0.1,localhost"
DOCKER_HUB = "docker.io"
_DOCKER_HUB_NAMES = frozenset({DOCKER_HUB, "index.docker.io", "registry-1.docker.io"})


def registry_host(image: str) -> str:
    """The registry an image reference pulls from, as Docker reads the name (``nginx`` and
    ``user/app`` are Docker Hub's; a first part with a dot, a port or ``localhost`` is a host)."""
    first, slash, _ = image.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        return first.lower()
    return DOCKER_HUB


def official_image(image: str) -> bool:
    """Whether ``image`` names one of Docker Hub's official images (``nginx``, ``library/mysql:8``,
    ``docker.io/library/golang:1.19``): never a user's (``user/app``) nor another registry's."""
    name = image.partition("@")[0]
    first, slash, rest = name.partition("/")
    if slash and first in _DOCKER_HUB_NAMES:
        name = rest
    if registry_host(name) != DOCKER_HUB:
        return False
    return "/" not in name.removeprefix("library/")


def listed_registries() -> tuple[str, ...]:
    """The hosts named in ``GRADER_REGISTRY_HOSTS``."""
    value = os.environ.get(REGISTRY_HOSTS_ENV, DEFAULT_REGISTRY_HOSTS)
    return tuple(host.strip().lower() for host in value.split(",") if host.strip())


def registry_listed(host: str) -> bool:
    """Whether ``host`` is named in ``GRADER_REGISTRY_HOSTS`` (a host without a port allows any port)."""
    host = host.lower()
    bare = (
        host[: host.index("]") + 1]
        if host.startswith("[") and "]" in host
        else host.rpartition(":")[0] or host
    )
    return any(host == listed or bare == listed for listed in listed_registries())


def pull_allowed(image: str) -> bool:
    """Whether a build or a service may pull ``image``: from Docker Hub, or a listed registry."""
    host = registry_host(image)
    return host in _DOCKER_HUB_NAMES or registry_listed(host)


def allowed_registries_text() -> str:
    return ", ".join(("Docker Hub", *listed_registries()))
