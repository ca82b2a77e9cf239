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

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import SpecError
from .i18n import _

if TYPE_CHECKING:
    from .grading import Grading
    from .target import Stack


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


def _stack(grading: Grading, part: str) -> Stack:
    return grading.stack(part)


def _declared_service(grading: Grading, part: str, service: str) -> dict[str, Any]:
    stack = _stack(grading, part)
    declared = (stack.declared.get("services") or {}).get(service)
    if declared is None:
        raise AssertionError(_("Le projet n'a pas de service « {service} ».").format(service=service))
    return dict(declared)


# -- the checks ------------------------------------------------------------------------------------


def builds(grading: Grading, *, check_id: str, part: str, services: list[str] | None = None) -> None:
    _stack(grading, part).build(services or ())


def healthy(grading: Grading, *, check_id: str, part: str, service: str) -> None:
    _stack(grading, part).up(services=[service]).service(service).wait_healthy()


def non_root(grading: Grading, *, check_id: str, part: str, service: str) -> None:
    uid = _stack(grading, part).up(services=[service]).service(service).process_uid()
    assert uid != 0, _(
        "Le processus principal du service « {service} » tourne en root (uid 0) : ajoutez USER dans son "
        "Dockerfile ou user: dans le fichier Compose (notion : utilisateur non root)."
    ).format(service=service)


def port_not_published(
    grading: Grading, *, check_id: str, part: str, service: str, port: int | None = None
) -> None:
    published = [
        entry
        for entry in _declared_service(grading, part, service).get("ports") or []
        if isinstance(entry, dict) and (port is None or int(entry.get("target") or 0) == port)
    ]
    assert not published, _(
        "Le service « {service} » publie {ports} sur l'hôte : il ne doit être joint que par les autres "
        "services, sur leur réseau (notion : ports publiés)."
    ).format(
        service=service,
        ports=", ".join(
            f"{p['published']}:{p.get('target')}" if p.get("published") else str(p.get("target"))
            for p in published
        ),
    )


def memory_limited(grading: Grading, *, check_id: str, part: str, service: str, max_mb: int) -> None:
    declared = _declared_service(grading, part, service)
    asked = declared.get("mem_limit") or (
        ((declared.get("deploy") or {}).get("resources") or {}).get("limits") or {}
    ).get("memory")
    running = _stack(grading, part).up(services=[service]).service(service)
    memory = int((running.inspect().get("HostConfig") or {}).get("Memory") or 0)
    within = bool(asked) and 0 < memory <= max_mb * 2**20
    assert within, _(
        "La mémoire du service « {service} » doit être limitée à {max} Mio au plus (mem_limit ou "
        "deploy.resources.limits.memory) ; observé : {got}."
    ).format(
        service=service,
        max=max_mb,
        got=f"{memory // 2**20} Mio" if asked else _("aucune limite déclarée"),
    )


def image_size(grading: Grading, *, check_id: str, part: str, service: str, ratio: float) -> None:
    size = _stack(grading, part).image_size(service)
    reference = float(grading.fact(f"{check_id}.size_bytes", size))
    assert size <= ratio * reference, _(
        "L'image du service « {service} » fait {size} Mo, plus de {ratio} fois celle de la solution de "
        "référence ({reference} Mo) : partez d'une image plus légère et ne copiez que le nécessaire "
        "(notion : taille des images)."
    ).format(
        service=service, size=f"{size / 1e6:.0f}", ratio=f"{ratio:g}", reference=f"{reference / 1e6:.0f}"
    )


def _comparable(body: bytes, compare: str) -> Any:
    """The answer in the form the comparison needs, JSON-serializable (it is recorded as a fact)."""
    if compare == "body":
        return body.decode("utf-8", "replace")
    value = json.loads(body)
    if compare == "json_set":
        if not isinstance(value, list):
            raise ValueError("not a list")
        return sorted(json.dumps(item, sort_keys=True, ensure_ascii=False) for item in value)
    return value


def http_equals_reference(
    grading: Grading,
    *,
    check_id: str,
    part: str,
    service: str,
    port: int,
    path: str = "/",
    compare: str = "body",
) -> None:
    response = _stack(grading, part).up(services=[service]).service(service).get(path, port=port)
    assert response.status == 200, _("GET {path} répond {status} au lieu de 200.").format(
        path=path, status=response.status
    )
    try:
        got = _comparable(response.body, compare)
    except (ValueError, UnicodeDecodeError):
        raise AssertionError(
            _("GET {path} doit répondre en JSON ; reçu : {body}").format(path=path, body=response.text[:200])
        ) from None
    expected = grading.fact(f"{check_id}.answer", got)
    how = {
        "body": _("le même contenu"),
        "json": _("le même JSON"),
        "json_set": _("les mêmes éléments JSON (dans n'importe quel ordre)"),
    }[compare]
    assert got == expected, _(
        "GET {path} ne renvoie pas {how} que la solution de référence ; reçu : {body}"
    ).format(path=path, how=how, body=response.text[:200])


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
