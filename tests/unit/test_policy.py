from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.errors import PolicyViolation
from harness.policy import enforce, enforce_file_references, violations

ROOT = Path("/sub/alice")


def _model(**service: Any) -> dict[str, Any]:
    return {"services": {"api": {"image": "x", **service}}}


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        ({"privileged": True}, "privileged"),
        ({"cap_add": ["SYS_ADMIN"]}, "cap_add"),
        ({"devices": ["/dev/kmsg"]}, "devices"),
        ({"network_mode": "host"}, "network_mode: host"),
        ({"pid": "host"}, "pid: host"),
        ({"ipc": "host"}, "ipc: host"),
        ({"userns_mode": "host"}, "userns_mode: host"),
        ({"network_mode": "container:someone-else"}, "network_mode: container:someone-else"),
        ({"security_opt": ["seccomp:unconfined"]}, "seccomp:unconfined"),
        ({"security_opt": ["apparmor=unconfined"]}, "apparmor=unconfined"),
        ({"volumes": [{"type": "bind", "source": "/etc", "target": "/x"}]}, "/etc"),
        ({"volumes": [{"type": "bind", "source": "/sub/alice/../bob", "target": "/x"}]}, "/sub/alice/../bob"),
        ({"volumes": [{"type": "bind", "source": "/var/run/docker.sock", "target": "/s"}]}, "docker.sock"),
        ({"build": {"context": "/home/prof"}}, "/home/prof"),
        ({"build": {"context": "/sub/alice", "network": "host"}}, "réseau de l'hôte"),
    ],
)
def test_each_sandbox_escape_is_refused_with_its_key(service: dict[str, Any], expected: str) -> None:
    found = [message for _rule, message in violations(_model(**service), ROOT)]
    assert len(found) == 1
    assert expected in found[0]
    assert "api" in found[0]


@pytest.mark.parametrize(
    ("kind", "spec", "expected"),
    [
        ("networks", {"external": True}, "external"),
        ("volumes", {"external": True}, "external"),
        ("volumes", {"driver_opts": {"type": "none", "o": "bind", "device": "/"}}, "driver_opts"),
        ("networks", {"driver": "host"}, "host"),
        ("secrets", {"file": "/etc/shadow"}, "/etc/shadow"),
    ],
)
def test_top_level_escapes_are_refused(kind: str, spec: dict[str, Any], expected: str) -> None:
    model = {"services": {"api": {"image": "x"}}, kind: {"thing": spec}}
    found = [message for _rule, message in violations(model, ROOT)]
    assert len(found) == 1
    assert expected in found[0]


def test_an_ordinary_project_passes() -> None:
    model = {
        "services": {
            "api": {
                "build": {"context": "/sub/alice/etudiants/api"},
                "volumes": [
                    {"type": "bind", "source": "/sub/alice/siteweb/files", "target": "/usr/share/nginx/html"},
                    {"type": "volume", "source": "data", "target": "/data"},
                ],
                "security_opt": ["no-new-privileges:true"],
                "network_mode": "service:db",
            }
        },
        "secrets": {"db_password": {"file": "/sub/alice/etudiants/secrets/db_password.txt"}},
        "volumes": {"data": {}},
        "networks": {"cours2": {"name": "cours2"}},
    }
    assert list(violations(model, ROOT)) == []
    enforce(model, ROOT)


def test_enforce_lists_every_violation_at_once() -> None:
    with pytest.raises(PolicyViolation) as caught:
        enforce(_model(privileged=True, pid="host"), ROOT)
    assert "privileged" in caught.value.details
    assert "pid: host" in caught.value.details


@pytest.mark.parametrize(
    "compose",
    [
        "include:\n  - ../../outside/compose.yaml\nservices: {}\n",
        "include:\n  - path: [/etc/compose.yaml]\nservices: {}\n",
        "services:\n  a:\n    image: x\n    env_file: /etc/environment\n",
        "services:\n  a:\n    image: x\n    env_file:\n      - path: ../../.env\n",
        "services:\n  a:\n    extends:\n      file: /home/prof/compose.yaml\n      service: b\n",
        "services:\n  a:\n    image: x\n    env_file: ${HOME}/.env\n",
    ],
)
def test_files_pulled_in_from_outside_are_refused_before_config_reads_them(
    tmp_path: Path, compose: str
) -> None:
    root = tmp_path / "sub"
    (root / "etudiants").mkdir(parents=True)
    compose_file = root / "etudiants" / "compose.yaml"
    compose_file.write_text(compose)
    with pytest.raises(PolicyViolation, match="rien n'a été lancé") as caught:
        enforce_file_references(compose_file, root)
    assert "hors de la remise" in caught.value.details


def test_files_pulled_in_from_inside_are_fine(tmp_path: Path) -> None:
    root = tmp_path / "sub"
    (root / "etudiants").mkdir(parents=True)
    compose_file = root / "etudiants" / "compose.yaml"
    compose_file.write_text(
        "include:\n  - base.yaml\nservices:\n  a:\n    image: x\n    env_file: [.env, ../commun.env]\n"
    )
    enforce_file_references(compose_file, root)


def test_an_assignment_may_relax_a_named_rule_and_only_that_one() -> None:
    model = _model(cap_add=["NET_ADMIN"], privileged=True)
    with pytest.raises(PolicyViolation) as caught:
        enforce(model, ROOT, allow=frozenset({"cap_add"}))
    assert "privileged" in caught.value.details
    assert "cap_add" not in caught.value.details
    enforce(_model(cap_add=["NET_ADMIN"]), ROOT, allow=frozenset({"cap_add"}))
