"""Every key of the Compose model, decided: allowed, capped, checked, replaced, ignored or refused.

An allowlist, not a denylist: :mod:`harness.policy` refuses any key this table does not
name, at every level, so a key that a later Compose release adds (as ``provider`` once ran a
host program) is refused until someone decides it here. ``tests/unit/test_compose_keys.py``
walks Compose's own JSON schema against this table and fails on a key it does not decide;
``docs/security.md`` shows the table (:func:`markdown_table`).

A level is one kind of object in the model (a service, its ``build``, one of its mounts...).
A key whose value holds objects names their level in ``children``; ``shape`` says whether the
value is that object, a list of them, or a map from names to them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

Decision = Literal["allowed", "capped", "checked", "replaced", "ignored", "refused"]
Shape = Literal["object", "list", "map"]


@dataclass(frozen=True)
class Key:
    decision: Decision
    #: Why, for the instructor reading docs/security.md (English).
    why: str
    #: The level of the objects the value holds; "" for a plain value or a map of plain values.
    children: str = ""
    shape: Shape = "object"
    #: The rule an assignment names in ``policy.allow`` to lift this refusal or check.
    rule: str = ""


def _allowed(why: str, children: str = "", shape: Shape = "object") -> Key:
    return Key("allowed", why, children, shape)


def _capped(why: str, rule: str = "", children: str = "", shape: Shape = "object") -> Key:
    return Key("capped", why, children, shape, rule)


def _checked(why: str, rule: str = "", children: str = "", shape: Shape = "object") -> Key:
    return Key("checked", why, children, shape, rule)


def _replaced(why: str) -> Key:
    return Key("replaced", why)


def _ignored(why: str) -> Key:
    return Key("ignored", why)


def _refused(why: str, rule: str = "") -> Key:
    return Key("refused", why, rule=rule)


#: Containers per service (``scale``, ``deploy.replicas``): each one has the full per-container limits.
MAX_REPLICAS = 3
_REPLICAS = f"At most {MAX_REPLICAS} containers per service: each has the full per-container limits."
#: Networks per project (the default one included): a lab needs two or three.
MAX_NETWORKS = 8
_SWARM = "Swarm only: Compose ignores it."
_LIMIT = "The grader's limit applies; the submission's own value is kept when it is stricter."
_FIXED_ADDRESS = (
    "Fixed subnets and addresses can overlap the machine's own networks (cutting it off from them) "
    "or another grading's network; Docker picks free ones instead."
)
_FILE = (
    "Read by `compose config`: must be a bounded file inside the submission, named by a plain string "
    "(not a number, date or boolean, which PyYAML and Compose read differently) without `$` or `~`."
)

#: The levels of the model and their keys. "top" is the file itself.
LEVELS: dict[str, dict[str, Key]] = {
    "top": {
        "version": _ignored("Obsolete; Compose ignores it."),
        "name": _replaced("The grader names every project after its run id."),
        "include": _checked(
            "Each included file is read from the submission only (no remote OCI or git source) "
            "and gated like the top-level file.",
            "file_reference",
            "include",
            "list",
        ),
        "services": _allowed("The services.", "service", "map"),
        "networks": _capped(
            f"At most {MAX_NETWORKS} networks per project: each takes a subnet from the address pools "
            "every grading on the engine shares.",
            "networks",
            "network",
            "map",
        ),
        "volumes": _allowed("Named volumes.", "volume", "map"),
        "secrets": _allowed("Secrets.", "secret", "map"),
        "configs": _allowed("Configs.", "config", "map"),
        "models": _refused("AI models run by Docker Model Runner outside the containers."),
    },
    "include": {
        "path": _checked(_FILE, "file_reference"),
        "env_file": _checked(_FILE, "file_reference"),
        "project_directory": _checked(
            "Must be the folder of the included file: Compose resolves every relative path of the "
            "included project (extends, nested include, env_file) from it, for each of its files, "
            "and the grader proves them from each file's own folder. For the same reason every file "
            "of one include entry must sit in that folder.",
            "file_reference",
        ),
    },
    "service": {
        # What the course's services are made of.
        "build": _allowed("Builds are how submissions make their images.", "build"),
        "image": _allowed("Registry pulls are limited to GRADER_REGISTRY_HOSTS elsewhere."),
        "command": _allowed("Runs inside the container."),
        "entrypoint": _allowed("Runs inside the container."),
        "environment": _allowed("Container environment."),
        "env_file": _checked(_FILE, "file_reference", "env_file", "list"),
        "label_file": _checked(_FILE, "file_reference"),
        "labels": _allowed("The grader adds its own run labels beside them."),
        "user": _allowed("A user inside the container."),
        "working_dir": _allowed("A folder inside the container."),
        "ports": _allowed("Published on 127.0.0.1 only, on a free port.", "port", "list"),
        "expose": _allowed("Container ports, not published."),
        "volumes": _allowed("Mounts; each is checked.", "mount", "list"),
        "tmpfs": _allowed("Memory-backed, counted in the container's memory limit."),
        "networks": _allowed("Project networks only.", "attachment", "map"),
        "secrets": _allowed("Project secrets, whose sources are checked.", "grant", "list"),
        "configs": _allowed("Project configs, whose sources are checked.", "grant", "list"),
        "depends_on": _allowed("Start order within the project.", "dependency", "map"),
        "links": _allowed("Legacy links between the project's own services."),
        "healthcheck": _allowed("Runs inside the container.", "healthcheck"),
        "extends": _checked("The extended file must lie inside the submission.", "file_reference", "extends"),
        "profiles": _allowed("Selects services of the project."),
        "hostname": _allowed("Inside the container."),
        "domainname": _allowed("Inside the container."),
        "extra_hosts": _allowed("The container's /etc/hosts."),
        "dns": _allowed("The container's resolver."),
        "dns_opt": _allowed("The container's resolver."),
        "dns_search": _allowed("The container's resolver."),
        "mac_address": _allowed("Unique per network; networks belong to one grading."),
        "init": _allowed("An init process inside the container."),
        "read_only": _allowed("Only restricts the container."),
        "cap_drop": _allowed("Only restricts the container."),
        "group_add": _allowed("Groups inside the container."),
        "tty": _allowed("Container terminal."),
        "stdin_open": _allowed("Container terminal."),
        "attach": _allowed("Log attachment."),
        "stop_signal": _allowed("Inside the container."),
        "stop_grace_period": _allowed("`down` is run with its own short timeout."),
        "platform": _allowed("Image platform."),
        "sysctls": _allowed("Docker accepts only sysctls namespaced to the container."),
        "ulimits": _allowed("Bounded by the container's cgroup limits.", "ulimit", "map"),
        "shm_size": _allowed("Memory-backed, counted in the container's memory limit."),
        "storage_opt": _allowed("Can only restrict the container's writable layer."),
        "cpuset": _allowed("CPU pinning; the CPU quota still applies."),
        "mem_reservation": _allowed("A soft limit below the hard one."),
        "mem_swappiness": _allowed("Swap is disabled by the memory limit anyway."),
        "post_start": _allowed("Commands run inside the container.", "hook", "list"),
        "pre_stop": _allowed("Commands run inside the container.", "hook", "list"),
        # Limits: the grader's apply.
        "mem_limit": _capped(_LIMIT),
        "memswap_limit": _replaced("Set equal to the memory limit: no swap."),
        "cpus": _capped(_LIMIT),
        "pids_limit": _capped(_LIMIT),
        "deploy": _allowed("Resources and replicas, capped.", "deploy"),
        "scale": _capped(_REPLICAS, "replicas"),
        "cpu_shares": _capped("At most 1024 (the default weight): no priority over other gradings."),
        "oom_score_adj": _capped("Only 0 or more: the host's OOM killer must not spare it over the grader."),
        "pull_policy": _capped(
            "Policies that pull on every run (always, daily, weekly, every_*, refresh) become missing: "
            "images are pulled once, from the allowed registries only.",
        ),
        # Replaced by the grader.
        "container_name": _replaced("Prefixed with the run id."),
        "restart": _capped(
            "Kept, with at most `max_restarts` restarts (limits): `always` and `unless-stopped` become "
            "`on-failure:N`, so a crash loop ends and is reported as one."
        ),
        "logging": _replaced("Replaced by a size-capped json-file log."),
        # Host namespaces and privileges.
        "network_mode": _checked(
            "Only none, bridge, default or service:NAME: host, container:NAME or a network by name "
            "would join the machine's or another grading's network.",
            "host_namespaces",
        ),
        "pid": _checked("Only private or service:NAME.", "host_namespaces"),
        "ipc": _checked("Only private, shareable, none or service:NAME.", "host_namespaces"),
        "uts": _checked("Not host.", "host_namespaces"),
        "userns_mode": _checked("Not host.", "host_namespaces"),
        "cgroup": _checked("Only private.", "host_namespaces"),
        "security_opt": _checked(
            "Only no-new-privileges (which the grader sets anyway): other options disable confinement "
            "or make Compose read a profile from the machine.",
            "security_opt",
        ),
        "privileged": _refused("Full access to the machine.", "privileged"),
        "cap_add": _refused("Kernel capabilities beyond Docker's defaults.", "cap_add"),
        "devices": _refused("The machine's devices.", "devices"),
        "device_cgroup_rules": _refused("Access to the machine's devices.", "device_cgroup_rules"),
        "gpus": _refused("The machine's GPUs.", "devices"),
        "volumes_from": _refused("Mounts taken from another container.", "volumes_from"),
        "use_api_socket": _refused(
            "Mounts the Docker engine's socket: control of the machine.", "docker_socket"
        ),
        "provider": _refused("Runs a program on the machine, outside any container."),
        "models": _refused("AI models run by Docker Model Runner outside the containers."),
        "credential_spec": _refused("Windows credentials, read from the machine."),
        "runtime": _refused("Only Docker's default runtime is confined as documented."),
        "isolation": _refused("Windows isolation modes."),
        "cgroup_parent": _refused("The grader places each grading's containers in its own cgroup."),
        "annotations": _refused("Read by the container runtime (systemd properties, for one)."),
        "blkio_config": _refused("Names the machine's block devices; not needed by a lab."),
        "oom_kill_disable": _refused("A container at its memory limit would hang instead of being stopped."),
        "cpu_count": _refused("Windows only; use cpus."),
        "cpu_percent": _refused("Windows only; use cpus."),
        "cpu_period": _refused("The grader sets the CPU quota; use cpus."),
        "cpu_quota": _refused("The grader sets the CPU quota; use cpus."),
        "cpu_rt_period": _refused("Real-time scheduling can starve the machine."),
        "cpu_rt_runtime": _refused("Real-time scheduling can starve the machine."),
        "external_links": _refused("Links to containers outside the project: another grading's."),
        "pull_refresh_after": _refused("Goes with pull_policy refresh, which pulls on every run."),
        "develop": _ignored("Used only by `compose watch`, which the grader never runs."),
    },
    "build": {
        "context": _checked(
            "A folder inside the submission (no URL): the context is sent to the engine.",
            "build_context_outside",
        ),
        "dockerfile": _checked(
            "Inside the submission: a Dockerfile outside the context is read from the machine "
            "and its first lines shown in the build log.",
            "build_context_outside",
        ),
        "additional_contexts": _checked("Folders inside the submission only.", "build_context_outside"),
        "dockerfile_inline": _allowed("Text in the Compose file."),
        "args": _allowed("Build arguments."),
        "labels": _allowed("The grader adds its own run labels beside them."),
        "target": _allowed("A stage of the Dockerfile."),
        "no_cache": _allowed("Only slows the build down, within its time limit."),
        "shm_size": _allowed("Memory of the build step."),
        "extra_hosts": _allowed("The build's /etc/hosts."),
        "ulimits": _allowed("Bounded by the build's limits.", "ulimit", "map"),
        "platforms": _allowed("Image platforms."),
        "provenance": _allowed("Attestation metadata."),
        "secrets": _allowed("Project secrets, whose sources are checked.", "grant", "list"),
        "network": _checked("Not host: the build would share the machine's network stack.", "build_host"),
        "privileged": _refused("Privileged build steps.", "build_host"),
        "entitlements": _refused("Grants builds host networking or insecure privileges.", "build_host"),
        "ssh": _refused("Forwards the grader's SSH agent or keys into the build."),
        "cache_from": _refused("Local cache sources are folders of the machine; registry ones pull."),
        "cache_to": _refused("Local cache exports write to folders of the machine."),
        "tags": _refused("Extra image names on the shared engine could replace another grading's image."),
        "pull": _capped("Only false: the grader decides which registries are pulled from.", "pull_policy"),
        "sbom": _refused("Runs a scanner image pulled from a registry."),
        "isolation": _refused("Windows isolation modes."),
    },
    "deploy": {
        "resources": _allowed("Limits and reservations, capped.", "resources"),
        "replicas": _capped(_REPLICAS, "replicas"),
        "mode": _allowed("replicated or global: one engine, so at most the replicas."),
        "labels": _allowed("Service labels."),
        "restart_policy": _capped(
            "Becomes `restart: on-failure:N`, N at most `max_restarts` (limits).", children="restart_policy"
        ),
        "endpoint_mode": _ignored(_SWARM),
        "placement": _ignored(_SWARM),
        "update_config": _ignored(_SWARM),
        "rollback_config": _ignored(_SWARM),
    },
    "restart_policy": {
        "condition": _capped("none, on-failure or any: any becomes on-failure, so a crash loop ends."),
        "max_attempts": _capped("At most `max_restarts` (limits)."),
        "delay": _ignored("Docker's own back-off applies."),
        "window": _ignored("Docker's own back-off applies."),
    },
    "resources": {
        "limits": _allowed("Capped by the grader's limits.", "limits"),
        "reservations": _allowed("Reservations; devices refused.", "reservations"),
    },
    "limits": {
        "memory": _capped(_LIMIT),
        "cpus": _capped(_LIMIT),
        "pids": _capped(_LIMIT),
    },
    "reservations": {
        "memory": _allowed("A soft reservation below the hard limit."),
        "cpus": _allowed("A reservation below the CPU quota."),
        "devices": _refused("The machine's devices (GPUs).", "devices"),
        "generic_resources": _refused("Swarm resources of the machine.", "devices"),
    },
    "healthcheck": {
        "test": _allowed("Runs inside the container."),
        "interval": _allowed("Readiness waits have their own wall-clock limit."),
        "timeout": _allowed("Readiness waits have their own wall-clock limit."),
        "retries": _allowed("Readiness waits have their own wall-clock limit."),
        "start_period": _allowed("Readiness waits have their own wall-clock limit."),
        "start_interval": _allowed("Readiness waits have their own wall-clock limit."),
        "disable": _allowed("Turns the image's health check off."),
    },
    "hook": {
        "command": _allowed("Runs inside the container."),
        "environment": _allowed("Inside the container."),
        "user": _allowed("Inside the container."),
        "working_dir": _allowed("Inside the container."),
        "privileged": _checked("Only false: a privileged hook has full access to the machine.", "privileged"),
    },
    "port": {
        "target": _allowed("The container port."),
        "protocol": _allowed("tcp or udp."),
        "mode": _allowed("host or ingress: the same on one engine."),
        "name": _allowed("A label."),
        "app_protocol": _allowed("A label."),
        "host_ip": _replaced("Always 127.0.0.1."),
        "published": _replaced("A free port the grader discovers."),
    },
    "mount": {
        "type": _checked("bind, volume or tmpfs.", "mount_type"),
        "source": _checked(
            "A bind mount's source lies inside the submission and is not the Docker socket.", "bind_outside"
        ),
        "target": _allowed("A path inside the container."),
        "read_only": Key(
            "replaced",
            "Forced on for bind mounts: a container must not plant files or links in the submission's copy, "
            "which the grader reads and writes (rule bind_writable keeps them writable).",
            rule="bind_writable",
        ),
        "consistency": _allowed("macOS only; no effect."),
        "bind": _allowed("Bind options.", "bind"),
        "volume": _allowed("Volume options.", "volume_options"),
        "tmpfs": _allowed("tmpfs options.", "tmpfs"),
        "image": _refused("Mounts an image of the shared engine.", "mount_type"),
    },
    "bind": {
        "propagation": _checked("Only private or rprivate: mounts must not propagate to the machine."),
        "create_host_path": _allowed("The source lies inside the submission's private copy."),
        "selinux": _allowed("Relabels the submission's private copy only."),
        "recursive": _allowed("Submounts of the submission's private copy."),
    },
    "volume_options": {
        "nocopy": _allowed("Volume population."),
        "subpath": _allowed("A folder of the project's own volume."),
        "labels": _allowed("Volume labels."),
    },
    "tmpfs": {
        "size": _allowed("Counted in the container's memory limit."),
        "mode": _allowed("File mode inside the container."),
    },
    "attachment": {
        "aliases": _allowed("Names on the project's network."),
        "mac_address": _allowed("Unique per network; networks belong to one grading."),
        "interface_name": _allowed("Inside the container."),
        "priority": _allowed("Order of the container's networks."),
        "gw_priority": _allowed("Which network is the container's gateway."),
        "ipv4_address": _refused(_FIXED_ADDRESS, "subnets"),
        "ipv6_address": _refused(_FIXED_ADDRESS, "subnets"),
        "link_local_ips": _refused(_FIXED_ADDRESS, "subnets"),
        "driver_opts": _refused("Options of the machine's network driver."),
    },
    "dependency": {
        "condition": _allowed("Start order."),
        "required": _allowed("Start order."),
        "restart": _allowed("Restarts within the project."),
    },
    "grant": {
        "source": _allowed("A secret or config of the project, whose source is checked."),
        "target": _allowed("A path inside the container."),
        "uid": _allowed("Inside the container."),
        "gid": _allowed("Inside the container."),
        "mode": _allowed("Inside the container."),
    },
    "ulimit": {
        "soft": _allowed("Bounded by the cgroup limits."),
        "hard": _allowed("Bounded by the cgroup limits."),
    },
    "extends": {
        "file": _checked(_FILE, "file_reference"),
        "service": _allowed("A service of that file."),
    },
    "env_file": {
        "path": _checked(_FILE, "file_reference"),
        "required": _allowed("Whether a missing file is an error."),
        "format": _allowed("How the file is parsed."),
    },
    "network": {
        "name": _replaced("Prefixed with the run id."),
        "driver": _checked(
            "Only bridge: host, macvlan, ipvlan and others reach the machine's network.", "network_driver"
        ),
        "driver_opts": _refused(
            "Bridge options name interfaces and addresses of the machine.", "network_driver"
        ),
        "ipam": _allowed("Address management; fixed subnets refused.", "ipam"),
        "external": _refused(
            "Joins a network outside the project: another grading's or the machine's.", "external"
        ),
        "internal": _allowed("Only restricts the network."),
        "attachable": _allowed("Swarm only."),
        "enable_ipv4": _allowed("Addressing of the project's own network."),
        "enable_ipv6": _allowed("Addressing of the project's own network."),
        "labels": _allowed("The grader adds its own run labels beside them."),
    },
    "ipam": {
        "driver": _checked("Only default.", "subnets"),
        "config": _refused(_FIXED_ADDRESS, "subnets"),
        "options": _refused("Options of the machine's address management.", "subnets"),
    },
    "volume": {
        "name": _replaced("Prefixed with the run id."),
        "driver": _checked(
            "Only local: other drivers mount from the machine or elsewhere.", "volume_driver_opts"
        ),
        "driver_opts": _refused(
            "With the local driver, mounts any folder or device of the machine.", "volume_driver_opts"
        ),
        "external": _refused("A volume outside the project: another grading's.", "external"),
        "labels": _allowed("The grader adds its own run labels beside them."),
    },
    "secret": {
        "file": _checked("A file inside the submission.", "file_outside"),
        "environment": _refused("Reads a variable of the grader's environment."),
        "external": _refused("A secret outside the project.", "external"),
        "name": _replaced("Prefixed with the run id."),
        "labels": _allowed("Labels."),
        "driver": _refused(_SWARM + " Swarm secret drivers run on the machine."),
        "driver_opts": _refused(_SWARM + " Swarm secret drivers run on the machine."),
        "template_driver": _refused(_SWARM),
    },
    "config": {
        "file": _checked("A file inside the submission.", "file_outside"),
        "content": _allowed("Text in the Compose file."),
        "environment": _refused("Reads a variable of the grader's environment."),
        "external": _refused("A config outside the project.", "external"),
        "name": _replaced("Prefixed with the run id."),
        "labels": _allowed("Labels."),
        "template_driver": _refused(_SWARM),
    },
}

#: How a key's place reads in a student's sentence, per level: "build.ssh", "deploy.replicas".
PREFIXES = {
    "build": "build.",
    "deploy": "deploy.",
    "resources": "deploy.resources.",
    "limits": "deploy.resources.limits.",
    "reservations": "deploy.resources.reservations.",
    "healthcheck": "healthcheck.",
    "extends": "extends.",
    "ipam": "ipam.",
}


def _with_default_rules(levels: dict[str, dict[str, Key]]) -> dict[str, dict[str, Key]]:
    """A refused or checked key without a shared rule is relaxed by its own name (``build.ssh``)."""
    out: dict[str, dict[str, Key]] = {}
    for level, keys in levels.items():
        prefix = PREFIXES.get(level, "" if level in ("top", "service") else f"{level}.")
        out[level] = {
            name: key if key.rule or key.decision not in ("refused", "checked", "capped")
            else replace(key, rule=f"{prefix}{name}")
            for name, key in keys.items()
        }  # fmt: skip
    return out


LEVELS = _with_default_rules(LEVELS)

#: Every rule an assignment may relax; a key no level names has none: it cannot be allowed.
RULES = frozenset(key.rule for keys in LEVELS.values() for key in keys.values() if key.rule)


def markdown_table() -> str:
    """The table of docs/security.md: one row per key."""
    rows = ["| where | key | decision | why | rule |", "|---|---|---|---|---|"]
    for level, keys in LEVELS.items():
        for name, key in keys.items():
            rule = f"`{key.rule}`" if key.rule else ""
            rows.append(f"| {level} | `{name}` | {key.decision} | {key.why} | {rule} |")
    return "\n".join(rows) + "\n"
