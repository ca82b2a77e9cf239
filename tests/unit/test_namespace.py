from __future__ import annotations

from typing import Any

import pytest

from harness.assignment import Limits
from harness.compose import key_lines
from harness.ownership import run_labels
from harness.sandbox import namespace, wrap_dockerfile

LIMITS = Limits(memory_bytes=512 * 1024 * 1024, cpus=1.0, pids=100)


def _student_model() -> dict[str, Any]:
    return {
        "name": "etudiants",
        "services": {
            "api": {
                "build": {"context": "/s/api", "dockerfile": "Dockerfile"},
                "image": "myapi",
                "container_name": "api",
                "mem_limit": "268435456",
                "ports": [{"mode": "ingress", "target": 8080, "published": "8080", "protocol": "tcp"}],
                "networks": {"cours2": {"aliases": ["web"]}},
                "restart": "always",
            },
            "worker": {"image": "myapi", "deploy": {"resources": {"limits": {"memory": "2G", "cpus": "4"}}}},
        },
        "networks": {"cours2": {"name": "cours2"}},
        "volumes": {"data": {"name": "fixedvol"}},
        "secrets": {"db_password": {"name": "etudiants_db_password", "file": "/s/secrets/db_password.txt"}},
    }


def test_fixed_names_are_prefixed_with_the_project() -> None:
    out = namespace(_student_model(), project="gabc-etudiants", run_id="abc", limits=LIMITS)
    assert out["name"] == "gabc-etudiants"
    assert out["networks"]["cours2"]["name"] == "gabc-etudiants_cours2"
    assert out["volumes"]["data"]["name"] == "gabc-etudiants_data"
    assert out["secrets"]["db_password"]["name"] == "gabc-etudiants_db_password"
    assert out["services"]["api"]["container_name"] == "gabc-etudiants-api"
    # Aliases stay: they are per-network and cannot collide across projects.
    assert out["services"]["api"]["networks"]["cours2"]["aliases"] == ["web"]


def test_built_images_get_project_names_everywhere_they_are_used() -> None:
    out = namespace(_student_model(), project="gabc-etudiants", run_id="abc", limits=LIMITS)
    assert out["services"]["api"]["image"] == "gabc-etudiants-api"
    assert out["services"]["worker"]["image"] == "gabc-etudiants-api"
    assert out["services"]["api"]["build"]["labels"]["grader.run"] == "abc"


def test_published_ports_move_to_loopback_ephemeral() -> None:
    out = namespace(_student_model(), project="p", run_id="abc", limits=LIMITS)
    (port,) = out["services"]["api"]["ports"]
    assert port["host_ip"] == "127.0.0.1"
    assert "published" not in port
    assert port["target"] == 8080


def test_everything_is_labelled_and_limited() -> None:
    out = namespace(_student_model(), project="p", run_id="abc", limits=LIMITS)
    for kind in ("services", "networks", "volumes"):
        for spec in out[kind].values():
            assert spec["labels"]["grader.run"] == "abc"
    api, worker = out["services"]["api"], out["services"]["worker"]
    assert api["mem_limit"] == str(256 * 1024 * 1024), "a stricter student limit is kept"
    assert api["memswap_limit"] == api["mem_limit"], "no swap"
    assert worker["mem_limit"] == str(512 * 1024 * 1024), "a looser one is capped"
    assert worker["cpus"] == 1.0
    assert "limits" not in worker["deploy"]["resources"]
    for service in (api, worker):
        assert service["pids_limit"] == 100
        assert "no-new-privileges:true" in service["security_opt"]
        assert service["logging"]["options"]["max-size"] == LIMITS.log_max_size
    assert api["restart"] == f"on-failure:{LIMITS.max_restarts}", "always is kept, with a cap"
    assert worker["restart"] == "no"


def test_the_implicit_default_network_is_declared_named_and_labelled() -> None:
    wrapped = wrap_dockerfile(__import__("pathlib").Path("/s/siteweb"), "Dockerfile", "siteweb", [80])
    out = namespace(wrapped, project="gabc-siteweb", run_id="abc", limits=LIMITS)
    assert out["networks"]["default"] == {"name": "gabc-siteweb_default", "labels": run_labels("abc")}
    assert out["networks"]["default"]["labels"]["grader.run"] == "abc"
    only_declared = namespace(_student_model(), project="p", run_id="abc", limits=LIMITS)
    assert set(only_declared["networks"]) == {"cours2", "default"}, "worker names no network: it uses default"


def test_the_student_model_is_not_modified() -> None:
    model = _student_model()
    namespace(model, project="p", run_id="abc", limits=LIMITS)
    assert model == _student_model()


def test_a_dockerfile_part_becomes_a_one_service_project() -> None:
    model = wrap_dockerfile(__import__("pathlib").Path("/s/siteweb"), "Dockerfile", "siteweb", [80])
    assert model["services"]["siteweb"]["build"]["context"] == "/s/siteweb"
    assert model["services"]["siteweb"]["ports"] == [{"target": 80, "protocol": "tcp"}]


def test_key_lines_keeps_the_errors_once_and_short() -> None:
    log = "\n".join(
        [
            "#5 [2/3] RUN apt-get update",
            "#5 0.551 Get:1 http://deb.debian.org bookworm InRelease",
            "#5 1.145 E: Unable to locate package ngnix",
            "#5 ERROR: process did not complete successfully: exit code: 100",
            "1.145 E: Unable to locate package ngnix",
            "failed to solve: " + "x" * 500,
        ]
    )
    lines = key_lines(log).splitlines()
    assert lines[0] == "E: Unable to locate package ngnix"
    assert len([x for x in lines if "ngnix" in x]) == 1
    assert all(len(x) <= 200 for x in lines)
    assert "Get:1" not in key_lines(log)


def test_grader_built_projects_join_the_gradings_network_only_when_it_is_their_only_one() -> None:
    from harness.compose import _join_network

    alone = {"services": {"web": {}}, "networks": {"default": {"name": "p_default"}}}
    _join_network(alone, "g1-grading")
    assert alone["networks"] == {"default": {"name": "g1-grading", "external": True}}
    declared = {"services": {"web": {"networks": ["back"]}}, "networks": {"back": {"name": "p_back"}}}
    _join_network(declared, "g1-grading")
    assert declared["networks"] == {"back": {"name": "p_back"}}


def _with_bind_and_pull(policy: str) -> dict[str, Any]:
    return {
        "services": {
            "web": {
                "image": "nginx:latest",
                "pull_policy": policy,
                "volumes": [
                    {"type": "bind", "source": "/copy/submission/etudiants/..", "target": "/src"},
                    {"type": "volume", "source": "data", "target": "/data"},
                ],
            }
        },
        "volumes": {"data": {}},
    }


def test_bind_mounts_of_the_submission_become_read_only_unless_the_assignment_allows() -> None:
    out = namespace(_with_bind_and_pull("missing"), project="p", run_id="abc", limits=LIMITS)
    bind, volume = out["services"]["web"]["volumes"]
    assert bind["read_only"] is True, "a container must not plant links in the grader's copy"
    assert "read_only" not in volume
    writable = namespace(
        _with_bind_and_pull("missing"), project="p", run_id="abc", limits=LIMITS, writable_binds=True
    )
    assert "read_only" not in writable["services"]["web"]["volumes"][0]


@pytest.mark.parametrize(
    ("asked", "runs"), [("always", "missing"), ("every_2h", "missing"), ("never", "never")]
)
def test_pull_policies_that_pull_every_run_become_missing(asked: str, runs: str) -> None:
    out = namespace(_with_bind_and_pull(asked), project="p", run_id="abc", limits=LIMITS)
    assert out["services"]["web"]["pull_policy"] == runs


@pytest.mark.parametrize(
    ("service", "runs"),
    [
        ({}, "no"),
        ({"restart": "no"}, "no"),
        ({"restart": "always"}, "on-failure:5"),
        ({"restart": "unless-stopped"}, "on-failure:5"),
        ({"restart": "on-failure"}, "on-failure:5"),
        ({"restart": "on-failure:2"}, "on-failure:2"),
        ({"restart": "on-failure:50"}, "on-failure:5"),
        ({"deploy": {"restart_policy": {"condition": "on-failure", "max_attempts": 3}}}, "on-failure:3"),
        ({"deploy": {"restart_policy": {"condition": "any"}}}, "on-failure:5"),
        ({"deploy": {"restart_policy": {"condition": "none"}}}, "no"),
    ],
)
def test_a_restart_policy_is_kept_with_a_cap_on_restarts(service: dict[str, Any], runs: str) -> None:
    model = {"services": {"api": {"image": "x", **service}}}
    out = namespace(model, project="p", run_id="abc", limits=Limits(max_restarts=5))
    assert out["services"]["api"]["restart"] == runs
    assert "restart_policy" not in (out["services"]["api"].get("deploy") or {})


def test_a_variable_named_without_a_value_is_not_taken_from_the_graders_environment() -> None:
    model = {"services": {"api": {"image": "x", "environment": {"DOCKER_PASSWORD": None, "MODE": "prod"}}}}
    out = namespace(model, project="p", run_id="abc", limits=LIMITS)
    assert out["services"]["api"]["environment"] == {"MODE": "prod"}
