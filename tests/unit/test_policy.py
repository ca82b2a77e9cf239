from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from harness.compose_cli import compose_command
from harness.errors import ComposeUnavailable, PolicyViolation
from harness.policy import MAX_NETWORKS, RULES, enforce, violations

ROOT = Path("/sub/alice")
REPO = Path(__file__).parents[2]


def _model(**service: Any) -> dict[str, Any]:
    return {"services": {"api": {"image": "x", **service}}}


def _found(model: dict[str, Any]) -> list[str]:
    return [message for _rule, message in violations(model, ROOT)]


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        ({"privileged": True}, "privileged"),
        ({"cap_add": ["SYS_ADMIN"]}, "cap_add"),
        ({"devices": ["/dev/kmsg"]}, "devices"),
        ({"network_mode": "host"}, "network_mode: host"),
        ({"network_mode": "someone-elses-network"}, "network_mode: someone-elses-network"),
        ({"pid": "host"}, "pid: host"),
        ({"ipc": "host"}, "ipc: host"),
        ({"userns_mode": "host"}, "userns_mode: host"),
        ({"uts": "host"}, "uts: host"),
        ({"cgroup": "host"}, "cgroup: host"),
        ({"network_mode": "container:someone-else"}, "network_mode: container:someone-else"),
        ({"security_opt": ["seccomp:unconfined"]}, "seccomp:unconfined"),
        ({"security_opt": ["apparmor=unconfined"]}, "apparmor=unconfined"),
        ({"security_opt": ["seccomp=/home/prof/profile.json"]}, "seccomp=/home/prof/profile.json"),
        ({"security_opt": ["label:disable"]}, "label:disable"),
        ({"volumes": [{"type": "bind", "source": "/etc", "target": "/x"}]}, "/etc"),
        ({"volumes": [{"type": "bind", "source": "/sub/alice/../bob", "target": "/x"}]}, "« ../bob » sort"),
        ({"volumes": [{"type": "bind", "source": "/sub", "target": "/x"}]}, "« .. » sort"),
        ({"volumes": [{"type": "bind", "source": "/var/run/docker.sock", "target": "/s"}]}, "docker.sock"),
        ({"volumes": [{"type": "npipe", "source": "x", "target": "/s"}]}, "npipe"),
        ({"volumes": [{"type": "image", "source": "g1-other-web", "target": "/s"}]}, "image"),
        (
            {
                "volumes": [
                    {
                        "type": "bind",
                        "source": "/sub/alice/d",
                        "target": "/d",
                        "bind": {"propagation": "rshared"},
                    }
                ]
            },
            "volumes.bind.propagation: rshared",
        ),
        ({"build": {"context": "/home/prof"}}, "/home/prof"),
        ({"build": {"context": "git@github.com:x/y.git"}}, "git@github.com:x/y.git"),
        ({"build": {"context": "/sub/alice", "dockerfile": "../../etc/passwd"}}, "« ../../etc/passwd »"),
        ({"build": {"context": "/sub/alice", "network": "host"}}, "build.network: host"),
        ({"build": {"context": "/sub/alice", "privileged": True}}, "build.privileged"),
        ({"build": {"context": "/sub/alice", "entitlements": ["network.host"]}}, "build.entitlements"),
        ({"build": {"context": "/sub/alice", "ssh": ["default"]}}, "build.ssh"),
        ({"build": {"context": "/sub/alice", "cache_to": ["type=local,dest=/home/prof"]}}, "build.cache_to"),
        (
            {"build": {"context": "/sub/alice", "cache_from": ["type=local,src=/home/prof"]}},
            "build.cache_from",
        ),
        ({"build": {"context": "/sub/alice", "tags": ["debian:bookworm-slim"]}}, "build.tags"),
        ({"build": {"context": "/sub/alice", "pull": True}}, "build.pull: True"),
        ({"build": {"context": "/sub/alice", "additional_contexts": {"x": "/home/prof"}}}, "/home/prof"),
        ({"provider": {"type": "./pwn.sh"}}, "« provider »"),
        ({"use_api_socket": True}, "use_api_socket"),
        ({"models": {"llm": {}}}, "« models »"),
        ({"gpus": "all"}, "gpus"),
        ({"runtime": "nvidia"}, "runtime"),
        ({"cgroup_parent": "/"}, "cgroup_parent"),
        ({"annotations": {"org.systemd.property.Delegate": "yes"}}, "annotations"),
        ({"oom_kill_disable": True}, "oom_kill_disable"),
        ({"oom_score_adj": -1000}, "oom_score_adj: -1000"),
        ({"cpu_shares": 262144}, "cpu_shares: 262144"),
        ({"cpu_rt_runtime": 950000}, "cpu_rt_runtime"),
        ({"external_links": ["g1-other-db:db"]}, "external_links"),
        ({"credential_spec": {"file": "/home/prof/x.json"}}, "credential_spec"),
        ({"pull_policy": "sometimes"}, "pull_policy: sometimes"),
        ({"scale": 8}, "scale: 8"),
        ({"deploy": {"replicas": 8}}, "deploy.replicas: 8"),
        (
            {"deploy": {"resources": {"reservations": {"devices": [{"capabilities": ["gpu"]}]}}}},
            "deploy.resources.reservations.devices",
        ),
        ({"networks": {"front": {"ipv4_address": "192.168.1.10"}}}, "networks.front.ipv4_address"),
        ({"post_start": [{"command": ["sh"], "privileged": True}]}, "post_start.privileged: True"),
    ],
)
def test_each_sandbox_escape_is_refused_with_its_key(service: dict[str, Any], expected: str) -> None:
    found = _found(_model(**service))
    assert len(found) == 1, found
    assert expected in found[0]
    assert "api" in found[0]


@pytest.mark.parametrize(
    ("kind", "spec", "expected"),
    [
        ("networks", {"external": True}, "external"),
        ("volumes", {"external": True}, "external"),
        ("volumes", {"driver_opts": {"type": "none", "o": "bind", "device": "/"}}, "driver_opts"),
        ("volumes", {"driver": "sshfs"}, "driver: sshfs"),
        ("networks", {"driver": "host"}, "host"),
        ("networks", {"driver_opts": {"com.docker.network.bridge.name": "eth0"}}, "driver_opts"),
        ("networks", {"ipam": {"config": [{"subnet": "192.168.1.0/24"}]}}, "ipam.config"),
        ("secrets", {"file": "/etc/shadow"}, "/etc/shadow"),
        ("secrets", {"environment": "HOME"}, "environment"),
        ("configs", {"file": "/etc/passwd"}, "/etc/passwd"),
    ],
)
def test_top_level_escapes_are_refused(kind: str, spec: dict[str, Any], expected: str) -> None:
    model = {"services": {"api": {"image": "x"}}, kind: {"thing": spec}}
    found = _found(model)
    assert len(found) == 1, found
    assert expected in found[0]
    assert "thing" in found[0]


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ({"services": {"api": {"image": "x", "teleport": "/"}}}, "service « api » : la clé « teleport »"),
        (
            {"services": {"api": {"build": {"context": "/sub/alice", "host_cache": 1}}}},
            "« build.host_cache »",
        ),
        (
            {"services": {"api": {"image": "x", "deploy": {"resources": {"limits": {"gpus": 1}}}}}},
            "« deploy.resources.limits.gpus »",
        ),
        (
            {"services": {"api": {"image": "x", "ports": [{"target": 80, "bind_host": "0.0.0.0"}]}}},
            "« ports.bind_host »",
        ),
        ({"services": {}, "agents": {"a": {}}}, "le fichier Compose : la clé « agents »"),
        (
            {"services": {}, "networks": {"n": {"gateway_host": True}}},
            "réseau « n » : la clé « gateway_host »",
        ),
    ],
)
def test_a_key_the_grader_does_not_know_is_refused_at_every_level(
    model: dict[str, Any], expected: str
) -> None:
    (found,) = _found(model)
    assert expected in found
    assert "inconnue" in found


def test_an_unknown_key_cannot_be_allowed() -> None:
    assert "" not in RULES
    with pytest.raises(PolicyViolation, match="rien n'a été lancé"):
        enforce(_model(teleport=True), ROOT, allow=RULES)


def test_an_ordinary_project_passes() -> None:
    model = {
        "name": "whatever",
        "x-common": {"anything": {"goes": True}},
        "services": {
            "api": {
                "build": {
                    "context": "/sub/alice/etudiants/api",
                    "dockerfile": "Dockerfile",
                    "args": {"GO": "1.22"},
                    "target": "final",
                    "secrets": [{"source": "db_password"}],
                },
                "volumes": [
                    {"type": "bind", "source": "/sub/alice/siteweb/files", "target": "/usr/share/nginx/html",
                     "read_only": True, "bind": {"create_host_path": True, "propagation": "rprivate"}},
                    {"type": "volume", "source": "data", "target": "/data", "volume": {"nocopy": True}},
                    {"type": "tmpfs", "target": "/tmp", "tmpfs": {"size": 1048576}},
                ],
                "security_opt": ["no-new-privileges:true"],
                "network_mode": "service:db",
                "depends_on": {"db": {"condition": "service_healthy", "required": True, "restart": True}},
                "healthcheck": {"test": ["CMD", "true"], "interval": "5s", "retries": 3, "start_period": "1s"},
                "restart": "unless-stopped",
                "command": ["./api"],
                "entrypoint": None,
                "environment": {"DB_HOST": "mysql"},
                "user": "1000:1000",
                "working_dir": "/app",
                "mem_limit": "256m",
                "deploy": {"replicas": 2, "resources": {"limits": {"memory": "256M", "cpus": "0.5", "pids": 64}},
                           "restart_policy": {"condition": "on-failure"}, "placement": {"constraints": []}},
                "pull_policy": "build",
                "labels": {"cours": "2"},
                "secrets": [{"source": "db_password", "target": "/run/secrets/db_password", "mode": 0o400}],
                "ports": [{"target": 8080, "published": "8080", "protocol": "tcp", "mode": "ingress"}],
                "expose": ["8080"],
                "init": True,
                "read_only": False,
                "cap_drop": ["ALL"],
                "stop_grace_period": "1m30s",
                "develop": {"watch": [{"path": "/sub/alice", "action": "rebuild"}]},
                "ulimits": {"nofile": {"soft": 1024, "hard": 2048}},
                "logging": {"driver": "json-file", "options": {"max-size": "1m"}},
                "post_start": [{"command": ["true"], "user": "root"}],
                "x-note": "ignored",
            },
            "db": {
                "image": "mariadb:11",
                "networks": {"cours2": {"aliases": ["mysql"]}},
                "ipc": "shareable",
                "scale": 1,
            },
        },
        "secrets": {"db_password": {"file": "/sub/alice/etudiants/secrets/db_password.txt"}},
        "configs": {"nginx": {"content": "server {}"}},
        "volumes": {"data": {"driver": "local", "labels": {"a": "b"}}},
        "networks": {"cours2": {"name": "cours2", "ipam": {}, "driver": "bridge", "internal": False}},
    }  # fmt: skip
    assert _found(model) == []
    enforce(model, ROOT)


def test_enforce_lists_every_violation_at_once() -> None:
    with pytest.raises(PolicyViolation) as caught:
        enforce(_model(privileged=True, pid="host", provider={"type": "x"}), ROOT)
    assert "privileged" in caught.value.details
    assert "pid: host" in caught.value.details
    assert "provider" in caught.value.details


def test_an_assignment_may_relax_a_named_rule_and_only_that_one() -> None:
    model = _model(cap_add=["NET_ADMIN"], privileged=True)
    with pytest.raises(PolicyViolation) as caught:
        enforce(model, ROOT, allow=frozenset({"cap_add"}))
    assert "privileged" in caught.value.details
    assert "cap_add" not in caught.value.details
    enforce(_model(cap_add=["NET_ADMIN"]), ROOT, allow=frozenset({"cap_add"}))
    enforce(_model(networks={"n": {"ipv4_address": "10.9.0.2"}}), ROOT, allow=frozenset({"subnets"}))


def _resolved(compose_file: Path) -> dict[str, Any]:
    try:
        command = compose_command()
    except ComposeUnavailable:
        pytest.skip("Docker Compose v2 is not installed")
    result = subprocess.run(
        [*command, "-f", compose_file.name, "-p", "x", "config", "--format", "json"],
        cwd=compose_file.parent,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin:/usr/local/bin"},
    )
    return json.loads(result.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "part",
    sorted(
        p.parent
        for p in [
            *REPO.glob("submissions/*/etudiants/compose.yaml"),
            REPO / "reference/cours2/etudiants/compose.yaml",
        ]
    ),
    ids=lambda p: p.parent.name,
)
def test_the_course_samples_pass_the_allowlist_as_compose_resolves_them(part: Path) -> None:
    """Every key ``compose config`` writes for the course's files is known (no Docker engine needed)."""
    found = _found_in(_resolved(part / "compose.yaml"), part.parent)
    expected = ["privileged"] if part.parent.name == "karim" else []  # karim's db is privileged on purpose
    assert [rule for rule, _message in found] == expected, found


def _found_in(model: dict[str, Any], root: Path) -> list[tuple[str, str]]:
    return list(violations(model, root))


def test_a_project_may_declare_a_few_networks_but_not_many() -> None:
    """Each network takes a subnet from the address pools every grading on the engine shares."""
    few = {"services": {"api": {"image": "x"}}, "networks": {f"n{i}": {} for i in range(MAX_NETWORKS)}}
    assert _found(few) == []
    many = {**few, "networks": {f"n{i}": {} for i in range(100)}}
    assert _found(many) == [
        f"le fichier Compose : le projet déclare 100 réseaux ; le bac à sable en permet au plus {MAX_NETWORKS}, "
        "le réseau « default » compris : regroupez vos services sur moins de réseaux."
    ]
    enforce(many, ROOT, frozenset({"networks"}))
