"""Reusable checks an assignment declares in ``assignment.yaml`` instead of coding them::

    checks:
      proxy.app_healthy: {points: 2, uses: healthy, with: {part: proxy, service: app}}

Each reusable check is a function of the grading and its parameters, written with the public API
only (:class:`~harness.grading.Grading`, stacks and services), with the parameters it accepts.
An unknown name, an unknown parameter, a missing one or one of the wrong type is refused when the
assignment is loaded, with a sentence (the grader runs nothing it does not understand).

This module is light on purpose (the CLI loads assignments for every command): the grading is
passed in, nothing heavy is imported.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import SpecError
from .reusable import (
    alias_resolves,
    builds,
    dockerignore,
    healthy,
    http_equals_reference,
    image_size,
    memory_limited,
    multistage,
    non_root,
    port_not_published,
    secret_not_leaked,
    volume_persists,
)

if TYPE_CHECKING:
    from .grading import Grading


@dataclass(frozen=True)
class Param:
    name: str
    kind: type
    required: bool = True
    default: Any = None
    help: str = ""


@dataclass(frozen=True)
class Reusable:
    name: str
    run: Callable[..., None]
    params: tuple[Param, ...]
    summary: str
    #: The reference facts the check records, from its check id (they ship in kits when it is visible).
    facts: Callable[[str], tuple[str, ...]] = lambda check_id: ()


_PART = Param("part", str, help="the part (a key of `parts`)")
_SERVICE = Param("service", str, help="the service of the part's Compose project")


REUSABLE: dict[str, Reusable] = {
    r.name: r
    for r in (
        Reusable(
            "builds",
            builds,
            (_PART, Param("services", list, required=False, help="only these services' images")),
            "The part's images build (all, or those of `services`).",
        ),
        Reusable(
            "healthy",
            healthy,
            (_PART, _SERVICE),
            "The service starts (with what it depends on) and its healthcheck says healthy.",
        ),
        Reusable("non_root", non_root, (_PART, _SERVICE), "The service's main process does not run as root."),
        Reusable(
            "port_not_published",
            port_not_published,
            (_PART, _SERVICE, Param("port", int, required=False, help="only this container port")),
            "The service, as declared, publishes no port on the host (or not `port`).",
        ),
        Reusable(
            "memory_limited",
            memory_limited,
            (_PART, _SERVICE, Param("max_mb", int, help="the highest limit accepted, in MiB")),
            "The service declares a memory limit, and its container runs with at most `max_mb` MiB.",
        ),
        Reusable(
            "image_size",
            image_size,
            (_PART, _SERVICE, Param("ratio", float, help="how many times the reference's image at most")),
            "The service's image is at most `ratio` times the reference's (fact `<check>.size_bytes`).",
            facts=lambda check_id: (f"{check_id}.size_bytes",),
        ),
        Reusable(
            "http_equals_reference",
            http_equals_reference,
            (
                _PART,
                _SERVICE,
                Param("port", int, help="the container port"),
                Param("path", str, required=False, default="/"),
                Param("compare", str, required=False, default="body", help="body, json or json_set"),
            ),
            "GET `path` answers 200 with the reference's answer (fact `<check>.answer`): the same body, "
            "the same JSON, or the same JSON list in any order.",
            facts=lambda check_id: (f"{check_id}.answer",),
        ),
        Reusable(
            "volume_persists",
            volume_persists,
            (_PART, _SERVICE, Param("path", str, help="where the service keeps its data")),
            "A named volume is mounted at `path`, and a file written there survives the container's removal.",
        ),
        Reusable(
            "alias_resolves",
            alias_resolves,
            (
                _PART,
                _SERVICE,
                Param("network", str, help="the network (its key or its name)"),
                Param("alias", str, help="the name others use"),
            ),
            "On `network`, `alias` resolves to the service; outside it, it does not.",
        ),
        Reusable(
            "secret_not_leaked",
            secret_not_leaked,
            (
                _PART,
                Param("secret", str, help="the secret's name"),
                Param("services", list, help="the services that need it"),
            ),
            "The secret is mounted at /run/secrets/`secret` in `services`, and its content is nowhere else "
            "(the Compose file's environment and build arguments, the containers' environment, image history, "
            "and the layers the build added over the image its final stage starts from).",
        ),
        Reusable(
            "multistage",
            multistage,
            (
                _PART,
                _SERVICE,
                Param("added_max_mb", int, help="what the final stage may add over its base, in MB"),
            ),
            "The service's Dockerfile has several stages; its image holds no compiler or toolchain, and its "
            "final stage adds at most `added_max_mb` MB over the image it starts from.",
        ),
        Reusable(
            "dockerignore",
            dockerignore,
            (
                _PART,
                Param("context", str, required=False, default=".", help="the build context, in the part"),
                Param(
                    "planted", list, required=False, default=[".git", "brouillon.tmp"], help="files planted"
                ),
            ),
            "A `.dockerignore` keeps the files the grader plants in the build context (`planted`) out of it.",
        ),
    )
}

_CHOICES = {("http_equals_reference", "compare"): ("body", "json", "json_set")}


def validate(check_id: str, uses: Any, params: Any, parts: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The parameters of a declared check, checked against what its reusable check accepts."""
    reusable = REUSABLE.get(str(uses))
    if reusable is None:
        raise SpecError(
            f"{where}: check {check_id} uses {uses!r}, which is not a reusable check ({', '.join(sorted(REUSABLE))})."
        )
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise SpecError(f"{where}: check {check_id}: `with` must be a mapping of parameters.")
    known = {p.name: p for p in reusable.params}
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise SpecError(
            f"{where}: check {check_id} ({uses}) has unknown parameters {unknown}; it takes {sorted(known)}."
        )
    values: dict[str, Any] = {}
    for param in reusable.params:
        if param.name not in params:
            if param.required:
                raise SpecError(f"{where}: check {check_id} ({uses}) needs the parameter {param.name!r}.")
            if param.default is not None:
                values[param.name] = param.default
            continue
        value = params[param.name]
        if param.kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, param.kind) or isinstance(value, bool):
            raise SpecError(
                f"{where}: check {check_id} ({uses}): {param.name} must be a {param.kind.__name__}, not {value!r}."
            )
        if isinstance(value, list) and not all(isinstance(item, str) for item in value):
            raise SpecError(f"{where}: check {check_id} ({uses}): {param.name} must be a list of names.")
        choices = _CHOICES.get((reusable.name, param.name))
        if choices and value not in choices:
            raise SpecError(
                f"{where}: check {check_id} ({uses}): {param.name} must be one of {list(choices)}."
            )
        values[param.name] = value
    if values["part"] not in parts:
        raise SpecError(
            f"{where}: check {check_id} ({uses}) names the part {values['part']!r}, which is not in `parts`."
        )
    return values


def run(grading: Grading, check_id: str, uses: str, params: Mapping[str, Any]) -> None:
    """Run the declared check ``check_id``."""
    REUSABLE[uses].run(grading, check_id=check_id, **params)


def facts_of(check_id: str, uses: str) -> tuple[str, ...]:
    """The reference facts a declared check records."""
    return REUSABLE[uses].facts(check_id)


def markdown_table() -> str:
    """The reusable checks as docs/authoring.md shows them (a unit test keeps the two equal)."""
    rows = ["| uses | parameters | what it checks |", "|---|---|---|"]
    for reusable in REUSABLE.values():
        params = ", ".join(
            f"`{p.name}`"
            + ("" if p.required else f" (optional{', ' + repr(p.default) if p.default is not None else ''})")
            + (f": {p.help}" if p.help else "")
            for p in reusable.params
        )
        rows.append(f"| `{reusable.name}` | {params} | {reusable.summary} |")
    return "\n".join(rows)
