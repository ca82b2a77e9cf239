"""The reusable checks themselves (see :mod:`harness.declared` for how assignment.yaml names them):
functions of the grading and their parameters, written with the public API only (the grading is
passed in), so that they read as examples of checks."""

from __future__ import annotations

import json
import re
import secrets
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import SubmissionError
from .i18n import _

if TYPE_CHECKING:
    from .grading import Grading
    from .http_client import HttpResponse
    from .target import Stack


def _stack(grading: Grading, part: str) -> Stack:
    return grading.stack(part)


def _declared_service(grading: Grading, part: str, service: str) -> dict[str, Any]:
    return _stack(grading, part).service(service).declared


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


def _comparable(response: HttpResponse, compare: str) -> Any:
    """The answer in the form the comparison needs, JSON-serializable (it is recorded as a fact).
    JSON is read by the response, which bounds its depth (a hostile answer fails the check)."""
    if compare == "body":
        return response.text
    value = response.json()
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
        got = _comparable(response, compare)
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


#: The image of the grader's own probe containers (resolver, listings): the course's base image.
PROBE_IMAGE = "debian:bookworm-slim"
_ANONYMOUS = re.compile(r"[0-9a-f]{64}")
#: Paths that show a compiler or a language toolchain left in a final image.
_TOOLCHAINS = re.compile(
    r"(^|/)(go/bin/go|bin/go|bin/gofmt|bin/gcc(-\d+)?|bin/cc|bin/rustc|bin/cargo|bin/javac|bin/tsc)$"
)


def volume_persists(grading: Grading, *, check_id: str, part: str, service: str, path: str) -> None:
    stack = _stack(grading, part)
    web = stack.up(services=[service]).service(service)
    mounts = [m for m in web.inspect().get("Mounts") or [] if m.get("Destination") == path]
    named = [
        m for m in mounts if m.get("Type") == "volume" and not _ANONYMOUS.fullmatch(str(m.get("Name") or ""))
    ]
    assert named, _(
        "Le service « {service} » ne monte pas de volume nommé sur {path} : ses données disparaîtraient avec "
        "son conteneur (notion : volumes nommés)."
    ).format(service=service, path=path)
    token = secrets.token_hex(8)
    marker = f"{path.rstrip('/')}/.correcteur-{token}"
    wrote = web.exec("sh", "-c", 'echo "$1" > "$2"', "sh", token, marker)
    if wrote.exit_code != 0:
        raise SubmissionError(
            _("Impossible d'écrire dans {path} du service « {service} » : {output}").format(
                path=path, service=service, output=wrote.output.strip()[:200]
            )
        )
    again = stack.recreate(service)
    kept = again.exec("cat", marker)
    survived = kept.exit_code == 0 and kept.output.strip() == token
    assert survived, _(
        "Un fichier écrit dans {path} disparaît quand le conteneur du service « {service} » est remplacé : "
        "{path} doit être sur un volume nommé (notion : volumes nommés)."
    ).format(path=path, service=service)
    again.exec("rm", "-f", marker)


def alias_resolves(
    grading: Grading, *, check_id: str, part: str, service: str, network: str, alias: str
) -> None:
    stack = _stack(grading, part)
    key = next(
        (
            str(k)
            for k, spec in (stack.declared.get("networks") or {}).items()
            if k == network or (spec or {}).get("name") == network
        ),
        None,
    )
    assert key is not None, _("Aucun réseau nommé « {network} » dans le fichier Compose.").format(
        network=network
    )
    stack.up(services=[service])
    namespaced = stack.network_name(key)
    address = stack.service(service).ip_on(namespaced)
    inside, outside = grading.probes(
        PROBE_IMAGE, "getent", "ahosts", alias, networks=[namespaced, grading.network(f"{part}-dehors")]
    )
    resolved = inside.output.split()[0] if inside.exit_code == 0 and inside.output.strip() else ""
    found = bool(resolved) and resolved == address
    assert found, _(
        "Un conteneur sur le réseau {network} résout « {alias} » en « {got} » au lieu de l'adresse de "
        "{service} ({ip}) (notion : alias réseau)."
    ).format(network=network, alias=alias, got=resolved or _("rien"), service=service, ip=address or "?")
    assert outside.exit_code != 0, _(
        "Un conteneur hors du réseau {network} résout quand même « {alias} » : l'alias doit être propre au réseau."
    ).format(network=network, alias=alias)


def secret_not_leaked(
    grading: Grading, *, check_id: str, part: str, secret: str, services: list[str]
) -> None:
    stack = _stack(grading, part)
    declared = (stack.declared.get("secrets") or {}).get(secret) or {}
    assert declared.get("file"), _(
        "Le fichier Compose ne déclare pas le secret « {secret} » (secrets: {secret}: file: ...) (notion : secrets)."
    ).format(secret=secret)
    value = grading.read_bytes(Path(str(declared["file"]))).decode("utf-8", "replace").strip()
    stack.up(services=services)
    target = f"/run/secrets/{secret}"
    unmounted = [
        name
        for name in services
        if not any(m.get("Destination") == target for m in stack.service(name).inspect().get("Mounts") or [])
    ]
    assert not unmounted, _("{path} n'est pas monté dans : {services} (notion : secrets Compose).").format(
        path=target, services=", ".join(unmounted)
    )
    if len(value) < 6:  # a shorter one would be found everywhere by chance
        return
    found: list[str] = []
    for name, spec in (stack.declared.get("services") or {}).items():
        if any(value in str(v) for v in (spec.get("environment") or {}).values() if v is not None):
            found.append(_("l'environnement de « {s} » dans le fichier Compose").format(s=name))
        if any(
            value in str(v) for v in ((spec.get("build") or {}).get("args") or {}).values() if v is not None
        ):
            found.append(_("les arguments de construction de « {s} »").format(s=name))
    for name in services:
        if any(value in e for e in stack.service(name).inspect().get("Config", {}).get("Env") or []):
            found.append(_("l'environnement du conteneur « {s} »").format(s=name))
    for name in [built for built in stack.built_services() if built in services]:
        if any(value in line for line in stack.image_history(name)):
            found.append(_("l'historique (docker history) de l'image de « {s} »").format(s=name))
        if stack.scan_image(name, [value.encode()]).where(value.encode()):
            found.append(_("une couche de l'image de « {s} »").format(s=name))
    assert not found, _(
        "Le contenu du secret « {secret} » se trouve aussi dans : {places}. Il ne doit arriver que par le "
        "fichier monté {path} (notion : secrets)."
    ).format(secret=secret, places=" ; ".join(found), path=target)


def multistage(grading: Grading, *, check_id: str, part: str, service: str, added_max_mb: int) -> None:
    stack = _stack(grading, part)
    path = stack.dockerfile(service)
    assert path is not None, _(
        "Le service « {service} » doit être construit depuis un Dockerfile (build:)."
    ).format(service=service)
    text = grading.read_bytes(path).decode("utf-8", "replace")
    stages = [line for line in text.splitlines() if re.match(r"\s*FROM\s", line, re.I)]
    assert len(stages) >= 2, _(
        "Le Dockerfile du service « {service} » n'a qu'une étape (FROM) : construisez dans une étape et copiez "
        "le résultat dans une image finale légère (notion : construction multi-étapes)."
    ).format(service=service)
    toolchain = sorted(p for p in stack.scan_image(service).paths if _TOOLCHAINS.search(p))
    assert not toolchain, _(
        "L'image finale du service « {service} » contient des outils de compilation ({paths}) : ils doivent "
        "rester dans l'étape de construction (notion : construction multi-étapes)."
    ).format(service=service, paths=", ".join(toolchain[:2]))
    added, base = stack.added_size(service)
    assert added <= added_max_mb * 1e6, _(
        "L'étape finale de l'image du service « {service} » ajoute {added} Mo à son image de base ({base}) ; "
        "la limite est {limit} Mo : ne copiez que le résultat de la construction (notion : construction "
        "multi-étapes)."
    ).format(service=service, added=f"{added / 1e6:.0f}", base=base or "?", limit=added_max_mb)


def dockerignore(grading: Grading, *, check_id: str, part: str, context: str, planted: list[str]) -> None:
    folder = grading.part_dir(part) / context
    assert (folder / ".dockerignore").is_file(), _(
        "{folder}/.dockerignore est absent : tout le dossier part dans le contexte de construction "
        "(notion : .dockerignore)."
    ).format(folder=f"{grading.assignment.part(part).directory}/{context}".rstrip("/."))
    probe = grading.scratch_dir(f"dockerignore-{check_id}") / "contexte"
    shutil.copytree(folder, probe, symlinks=True)
    for name in planted:
        target = grading.private_path(probe / name)
        target.parent.mkdir(parents=True, exist_ok=True)
        grading.write_bytes(target, b"fichier plante par le correcteur\n")
    model = {
        "services": {
            "contexte": {
                "build": {
                    "context": str(probe),
                    "dockerfile_inline": f"FROM {PROBE_IMAGE}\nCOPY . /contexte/\n",
                }
            }
        }
    }
    stack = grading.custom_stack(f"{part}-contexte", model).build()
    listing = grading.probe(stack.image_name("contexte"), "find", "/contexte", "-mindepth", "1").output + "\n"
    leaked = [name for name in planted if f"/contexte/{name}\n" in listing]
    assert not leaked, _(
        "Le .dockerignore laisse entrer dans le contexte de construction : {names} (notion : .dockerignore)."
    ).format(names=", ".join(leaked))
