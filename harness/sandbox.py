"""Namespace and limit: the rewrite that lets gradings run side by side, inside limits.

Pure functions on Compose models (dicts as ``docker compose config --format json`` prints
them); :mod:`harness.compose` runs the result.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .assignment import Limits
from .ownership import run_labels
from .policy import PULLING_POLICIES


def wrap_dockerfile(
    context: Path,
    dockerfile: str,
    service: str,
    ports: Sequence[int],
    volumes: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A one-service Compose model for a part given as a folder with a Dockerfile.

    ``volumes`` maps named volumes to the container paths they are mounted at.
    """
    spec: dict[str, Any] = {
        "build": {"context": str(context), "dockerfile": dockerfile},
        "ports": [{"target": p, "protocol": "tcp"} for p in ports],
    }
    model: dict[str, Any] = {"services": {service: spec}}
    if volumes:
        spec["volumes"] = [
            {"type": "volume", "source": name, "target": path} for name, path in volumes.items()
        ]
        model["volumes"] = {name: {} for name in volumes}
    return model


def _memory_bytes(value: Any) -> int | None:
    if value in (None, ""):
        return None
    text = str(value).strip().lower().rstrip("b")
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(float(text))


def namespace(
    model: dict[str, Any],
    *,
    project: str,
    run_id: str,
    limits: Limits,
    cgroup_parent: str | None = None,
    writable_binds: bool = False,
) -> dict[str, Any]:
    """A copy of ``model`` that cannot collide with any other grading and runs under ``limits``.

    Fixed names get the project as prefix, published ports move to 127.0.0.1 on an
    ephemeral port, everything carries ``grader.run=<run_id>`` and its owner (:mod:`harness.ownership`), and every service gets
    memory (no swap), CPU, pids, privilege and log limits. A limit the submission sets
    itself is kept when it is stricter than ours. Bind mounts become read-only unless
    ``writable_binds``, and pull policies that pull on every run become ``missing``.
    """
    out = copy.deepcopy(model)
    out["name"] = project
    # Compose creates a `default` network for services that name none; declared, it gets our
    # name and label like any other (undeclared, a killed grading would leave it unswept).
    if any(not s.get("networks") and not s.get("network_mode") for s in (out.get("services") or {}).values()):
        out.setdefault("networks", {}).setdefault("default", {})
    labels = run_labels(run_id)
    renamed_images: dict[str, str] = {}

    for kind in ("networks", "volumes"):
        for key, spec in list((out.get(kind) or {}).items()):
            spec = dict(spec or {})
            spec["name"] = f"{project}_{key}"
            spec["labels"] = {**(spec.get("labels") or {}), **labels}
            out[kind][key] = spec
    for kind in ("secrets", "configs"):
        for key, spec in list((out.get(kind) or {}).items()):
            out[kind][key] = {**(spec or {}), "name": f"{project}_{key}"}

    for name, service in (out.get("services") or {}).items():
        if service.get("build"):
            built = f"{project}-{name}".lower()
            if service.get("image"):
                renamed_images[service["image"]] = built
            service["image"] = built
            service["build"]["labels"] = {**(service["build"].get("labels") or {}), **labels}
            service["pull_policy"] = "build"
        if service.get("container_name"):
            service["container_name"] = f"{project}-{service['container_name']}"
        service["labels"] = {**(service.get("labels") or {}), **labels}
        for port in service.get("ports") or []:
            port["host_ip"] = "127.0.0.1"
            port.pop("published", None)
        _limit(service, limits)
        # `environment: [NAME]` (no value) would take NAME from the environment Compose runs in,
        # the grader's: such a variable is left unset in the container instead.
        environment = service.get("environment")
        if isinstance(environment, dict):
            service["environment"] = {k: v for k, v in environment.items() if v is not None}
        if not writable_binds:
            # The grader reads and writes the submission's copy: a container must not plant a file or
            # a link there (a writable bind of `..` could turn a file the grader writes into a link).
            for mount in service.get("volumes") or []:
                if mount.get("type") == "bind":
                    mount["read_only"] = True
        if PULLING_POLICIES.fullmatch(str(service.get("pull_policy") or "")):
            service["pull_policy"] = "missing"  # pulled once, from the allowed registries only
        if cgroup_parent:  # the grading's cgroup: one budget for all of its containers
            service["cgroup_parent"] = cgroup_parent

    for service in (out.get("services") or {}).values():
        if not service.get("build") and service.get("image") in renamed_images:
            service["image"] = renamed_images[service["image"]]
    return out


def _limit(service: dict[str, Any], limits: Limits) -> None:
    deploy_limits = ((service.get("deploy") or {}).get("resources") or {}).pop("limits", None) or {}
    asked = _memory_bytes(service.get("mem_limit")) or _memory_bytes(deploy_limits.get("memory"))
    memory = min(asked, limits.memory_bytes) if asked else limits.memory_bytes
    service["mem_limit"] = str(memory)
    service["memswap_limit"] = str(memory)  # equal to the memory limit: no swap
    asked_cpus = float(service.get("cpus") or deploy_limits.get("cpus") or 0)
    service["cpus"] = min(asked_cpus, limits.cpus) if asked_cpus else limits.cpus
    asked_pids = int(service.get("pids_limit") or deploy_limits.get("pids") or 0)
    service["pids_limit"] = min(asked_pids, limits.pids) if asked_pids > 0 else limits.pids
    service["security_opt"] = sorted({*(service.get("security_opt") or []), "no-new-privileges:true"})
    service["logging"] = {
        "driver": "json-file",
        "options": {"max-size": limits.log_max_size, "max-file": "1"},
    }
    service["restart"] = capped_restart(service, limits.max_restarts)
    (service.get("deploy") or {}).pop("restart_policy", None)


def capped_restart(service: dict[str, Any], cap: int) -> str:
    """The student's restart policy (``restart`` or ``deploy.restart_policy``), with at most ``cap``
    restarts: a service that relies on Docker restarting it (an api started before its database)
    works as with ``docker compose up``, and a crash loop still ends, and is reported as one."""
    policy = (service.get("deploy") or {}).get("restart_policy") or {}
    asked = str(service.get("restart") or "")
    if not asked and policy:
        condition = str(policy.get("condition") or "any")
        asked = "no" if condition == "none" else f"on-failure:{policy.get('max_attempts') or cap}"
    if asked in ("", "no"):
        return "no"
    name, _, count = asked.partition(":")
    if name == "on-failure" and count.strip().isdigit() and int(count) > 0:
        return f"on-failure:{min(int(count), cap)}"
    return f"on-failure:{cap}"  # always, unless-stopped: stop restarting after the cap
