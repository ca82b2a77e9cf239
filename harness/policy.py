"""The sandbox policy: what a submission's Compose model may not ask for.

Checked on the normalized model (``docker compose config``), before anything runs.
Each refusal names the service and the offending key, so the student can find the line.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from .errors import PolicyViolation
from .i18n import _

_HOST_MODES = ("network_mode", "pid", "ipc", "userns_mode", "uts", "cgroup")
_FORBIDDEN_KEYS = ("privileged", "cap_add", "devices", "device_cgroup_rules", "volumes_from")
_DOCKER_SOCKETS = ("docker.sock", "docker.pid", "containerd.sock")


def _inside(path: str, root: Path) -> bool:
    try:
        Path(path).resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


#: The rules an assignment may relax with ``policy: {allow: [...]}``; all apply by default.
RULES = frozenset(
    {"privileged", "cap_add", "devices", "device_cgroup_rules", "volumes_from", "host_namespaces",
     "security_opt", "bind_outside", "docker_socket", "mount_type", "build_context_outside", "build_host",
     "external", "volume_driver_opts", "network_driver", "file_outside", "file_reference"}
)  # fmt: skip


def violations(model: dict[str, Any], root: Path) -> Iterator[tuple[str, str]]:
    """Every reason to refuse ``model``: (rule, a sentence for the student); ``root`` is the submission."""
    for name, service in (model.get("services") or {}).items():
        where = _("service « {service} »").format(service=name)
        for key in _FORBIDDEN_KEYS:
            if service.get(key):
                yield (
                    key,
                    _("{where} : « {key} » est interdit dans le bac à sable.").format(where=where, key=key),
                )
        for key in _HOST_MODES:
            value = str(service.get(key) or "")
            # "container:NAME" joins a container outside the project (another grading's); "service:" is fine.
            if value == "host" or value.startswith("container:"):
                yield (
                    "host_namespaces",
                    _("{where} : « {key}: {value} » est interdit dans le bac à sable.").format(
                        where=where, key=key, value=value
                    ),
                )
        for option in service.get("security_opt") or []:
            if "unconfined" in str(option) or "disable" in str(option):
                yield (
                    "security_opt",
                    _("{where} : « security_opt: {value} » désactive le confinement : interdit.").format(
                        where=where, value=option
                    ),
                )
        for mount in service.get("volumes") or []:
            source = str(mount.get("source") or "")
            socket = any(s in source for s in _DOCKER_SOCKETS)
            if mount.get("type") == "bind" and (not _inside(source, root) or socket):
                yield (
                    "docker_socket" if socket else "bind_outside",
                    _(
                        "{where} : le montage de « {source} » sort de la remise : seuls les dossiers de la "
                        "remise peuvent être montés."
                    ).format(where=where, source=source),
                )
            if mount.get("type") in ("npipe", "cluster"):
                yield (
                    "mount_type",
                    _("{where} : un montage de type « {kind} » est interdit.").format(
                        where=where, kind=mount.get("type")
                    ),
                )
        build = service.get("build") or {}
        if build:
            context = str(build.get("context", ""))
            if "://" in context or not _inside(context, root):
                yield (
                    "build_context_outside",
                    _("{where} : le contexte de construction « {context} » sort de la remise.").format(
                        where=where, context=context
                    ),
                )
            if str(build.get("network", "")) == "host" or build.get("privileged"):
                yield (
                    "build_host",
                    _("{where} : la construction demande le réseau de l'hôte ou le mode privilégié.").format(
                        where=where
                    ),
                )
            for extra in (build.get("additional_contexts") or {}).values():
                if "://" in str(extra) or not _inside(str(extra), root):
                    yield (
                        "build_context_outside",
                        _("{where} : le contexte additionnel « {context} » sort de la remise.").format(
                            where=where, context=extra
                        ),
                    )
    for kind in ("networks", "volumes", "secrets", "configs"):
        for name, spec in (model.get(kind) or {}).items():
            spec = spec or {}
            if spec.get("external"):
                yield (
                    "external",
                    _("{kind} « {name} » : « external » est interdit : déclarez-le dans le projet.").format(
                        kind=kind, name=name
                    ),
                )
            if kind == "volumes" and spec.get("driver_opts"):
                yield (
                    "volume_driver_opts",
                    _("volume « {name} » : « driver_opts » est interdit (montage de l'hôte).").format(
                        name=name
                    ),
                )
            if kind == "networks" and spec.get("driver") in ("host", "macvlan", "ipvlan"):
                yield (
                    "network_driver",
                    _("réseau « {name} » : le pilote « {driver} » est interdit.").format(
                        name=name, driver=spec.get("driver")
                    ),
                )
            file = spec.get("file")
            if kind in ("secrets", "configs") and file and not _inside(str(file), root):
                yield (
                    "file_outside",
                    _("{kind} « {name} » : le fichier « {file} » sort de la remise.").format(
                        kind=kind, name=name, file=file
                    ),
                )


def _referenced_files(raw: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, path) for every file a raw Compose file makes ``config`` read."""

    def paths(value: Any) -> Iterator[str]:
        for item in value if isinstance(value, list) else [value]:
            found = item.get("path", "") if isinstance(item, dict) else item
            if isinstance(found, list):
                yield from (str(i) for i in found)
            elif found:
                yield str(found)

    for entry in raw.get("include") or []:
        yield from (("include", p) for p in paths(entry))
        if isinstance(entry, dict) and entry.get("env_file"):
            yield from (("include.env_file", p) for p in paths(entry["env_file"]))
    for name, service in (raw.get("services") or {}).items():
        if not isinstance(service, dict):
            continue
        extends = service.get("extends")
        if isinstance(extends, dict) and extends.get("file"):
            yield f"{name}.extends.file", str(extends["file"])
        if service.get("env_file"):
            yield from ((f"{name}.env_file", p) for p in paths(service["env_file"]))


def enforce_file_references(compose_file: Path, root: Path, allow: frozenset[str] = frozenset()) -> None:
    """Refuse a Compose file that makes ``config`` read files outside the submission.

    Checked on the raw file, before ``config`` reads (and inlines) them. A malformed file is
    left to ``config``, which says what is wrong with it.
    """
    try:
        raw = yaml.safe_load(compose_file.read_text(encoding="utf-8", errors="replace"))
    except yaml.YAMLError:
        return
    if not isinstance(raw, dict) or "file_reference" in allow:
        return
    found = [
        _("« {where}: {path} » désigne un fichier hors de la remise (ou une variable).").format(
            where=where, path=path
        )
        for where, path in _referenced_files(raw)
        if "$" in path or not _inside(str(compose_file.parent / path), root)
    ]
    if found:
        raise PolicyViolation(
            _("La remise demande ce que le bac à sable refuse ; rien n'a été lancé."),
            details="\n".join(f"- {line}" for line in found),
        )


def enforce(model: dict[str, Any], root: Path, allow: frozenset[str] = frozenset()) -> None:
    """Raise :class:`PolicyViolation` listing every refusal not in ``allow``, if there is any."""
    found = [message for rule, message in violations(model, root) if rule not in allow]
    if found:
        raise PolicyViolation(
            _("La remise demande ce que le bac à sable refuse ; rien n'a été lancé."),
            details="\n".join(f"- {line}" for line in found),
        )
