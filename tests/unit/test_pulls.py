"""Pull failures read from real logs: a registry that answers "no such image" is the student's
mistake; one that cannot be reached, rate-limits or refuses authentication is the machine's."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.pulls import PullProblem, classify, undeclared_loopback

LOGS = Path(__file__).parent / "pull_logs"


@pytest.mark.parametrize(
    ("log", "expected"),
    [
        # Recorded here, Engine 20.10.24 with Compose 2.40.3 (BuildKit for builds).
        ("engine20-buildkit-unreachable.txt", PullProblem("unavailable", "httpd:2.4")),
        ("engine20-buildkit-missing.txt", PullProblem("missing", "127.0.0.1:5055/nope/absente:1.0")),
        ("engine20-compose-up-unreachable.txt", PullProblem("unavailable", "", "b")),
        ("engine20-compose-up-missing.txt", PullProblem("missing", "127.0.0.1:5055/nope/absente:2.0", "b")),
        # Recorded here, Engine 26.1.5 (Debian trixie) with the same Compose.
        ("engine26-buildkit-unreachable.txt", PullProblem("unavailable", "httpd:2.4")),
        ("engine26-buildkit-missing.txt", PullProblem("missing", "127.0.0.1:5055/nope/absente:1.0")),
        ("engine26-compose-up-unreachable.txt", PullProblem("unavailable", "", "b")),
        ("engine26-compose-up-missing.txt", PullProblem("missing", "127.0.0.1:5055/nope/absente:2.0", "b")),
        ("engine26-buildkit-refused-port.txt", PullProblem("unavailable", "127.0.0.1:9/cours2/site:1")),
    ],
)
def test_recorded_logs(log: str, expected: PullProblem) -> None:
    assert classify((LOGS / log).read_text(encoding="utf-8")) == expected


def test_a_build_step_that_prints_a_registry_error_is_no_pull_problem() -> None:
    log = (LOGS / "engine20-buildkit-run-prints-a-registry-error.txt").read_text(encoding="utf-8")
    assert classify(log) is None


@pytest.mark.parametrize(
    ("line", "kind", "image"),
    [
        # Current BuildKit (Docker 25+, buildx), as users report them.
        (
            "ERROR: failed to solve: nginx:9.99-typo: failed to resolve source metadata for "
            "docker.io/library/nginx:9.99-typo: docker.io/library/nginx:9.99-typo: not found",
            "missing",
            "nginx:9.99-typo",
        ),
        (
            "ERROR: failed to solve: ngnix: failed to resolve source metadata for docker.io/library/ngnix:latest: "
            "pull access denied, repository does not exist or may require authorization: server message: "
            "insufficient_scope: authorization failed",
            "missing",
            "ngnix:latest",
        ),
        (
            "ERROR: failed to solve: busybox:1.34.1-musl: failed to copy: httpReadSeeker: failed open: unexpected "
            "status code https://registry-1.docker.io/v2/library/busybox/manifests/sha256:0497: 429 Too Many "
            "Requests - Server message: toomanyrequests: You have reached your pull rate limit.",
            "unavailable",
            "busybox:1.34.1-musl",
        ),
        (
            "ERROR: failed to solve: freesurfer/freesurfer:7.4.1: failed to resolve source metadata for "
            "docker.io/freesurfer/freesurfer:7.4.1: failed to authorize: failed to fetch oauth token: unexpected "
            "status from GET request to https://auth.docker.io/token: 401 Unauthorized",
            "unavailable",
            "freesurfer/freesurfer:7.4.1",
        ),
        (
            "failed to solve: golang:1.23.6-alpine3.20: failed to resolve source metadata for "
            "docker.io/library/golang:1.23.6-alpine3.20: failed to copy: httpReadSeeker: failed open: unexpected "
            "status code https://registry-1.docker.io/v2/library/golang/blobs/sha256:d945: 500 Internal Server Error",
            "unavailable",
            "golang:1.23.6-alpine3.20",
        ),
        # Engines with the containerd image store (Engine 26+, Docker Desktop), through Compose.
        (
            'Error response from daemon: failed to resolve reference "docker.io/library/mysql:9.99": '
            "docker.io/library/mysql:9.99: not found",
            "missing",
            "mysql:9.99",
        ),
        (
            "Error response from daemon: pull access denied for mysqll, repository does not exist or may "
            "require 'docker login': denied: requested access to the resource is denied",
            "missing",
            "mysqll",
        ),
        (
            "Error response from daemon: toomanyrequests: You have reached your pull rate limit. You may "
            "increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit",
            "unavailable",
            "",
        ),
        (
            'Error response from daemon: Get "https://registry-1.docker.io/v2/": net/http: request canceled '
            "while waiting for connection (Client.Timeout exceeded while awaiting headers)",
            "unavailable",
            "",
        ),
        (
            ' db Error failed to resolve reference "docker.io/library/mysql:8.0": failed to do request: Head '
            '"https://registry-1.docker.io/v2/library/mysql/manifests/8.0": dial tcp: lookup registry-1.docker.io: '
            "no such host",
            "unavailable",
            "mysql:8.0",
        ),
        # The classic builder (`docker build` on Engine 20.10).
        (
            'Step 1/2 : FROM httpd:2.4\nGet "https://registry-1.docker.io/v2/": dial tcp: lookup '
            "registry-1.docker.io on 127.0.0.53:53: no such host",
            "unavailable",
            "httpd:2.4",
        ),
        (
            "manifest for nginx:9.99-typo not found: manifest unknown: manifest unknown",
            "missing",
            "nginx:9.99-typo",
        ),
    ],
)
def test_messages_of_current_releases(line: str, kind: str, image: str) -> None:
    found = classify(line)
    assert found is not None
    assert (found.kind, found.image) == (kind, image)


@pytest.mark.parametrize(
    "log",
    [
        'failed to solve: failed to compute cache key: failed to calculate checksum of ref x: "/site": not found',
        '#7 0.321 E: Unable to locate package nginxx\nfailed to solve: process "/bin/sh -c apt-get install '
        'nginxx" did not complete successfully: exit code: 100',
        "#5 2.1 curl: (6) Could not resolve host: example.com",
        "",
    ],
)
def test_other_build_failures_are_no_pull_problem(log: str) -> None:
    assert classify(log) is None


def test_a_loopback_registry_is_the_students_unless_the_instructor_named_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GRADER_REGISTRY_HOSTS", "127.0.0.1,localhost,127.0.0.1:5000")
    assert undeclared_loopback("127.0.0.1:9/x:1")
    assert undeclared_loopback("localhost:5001/x")
    assert undeclared_loopback("[::1]:5000/x")
    assert not undeclared_loopback("127.0.0.1:5000/x:1"), "named with its port: the machine's registry"
    assert not undeclared_loopback("nginx:latest")
    monkeypatch.setenv("GRADER_REGISTRY_MIRROR", "127.0.0.1:5002")
    assert not undeclared_loopback("127.0.0.1:5002/library/nginx:latest")
