"""The official images the course names, as scripts/standins.sh provides them (pulled, present, or
an offline stand-in from images/standins/), keep their documented interface: run for real.

Every container, volume and image a test creates carries grader.standin-test=<token> and is
removed by that label afterwards (the engine is shared: nothing else is touched).
"""

from __future__ import annotations

import gzip
import os
import secrets
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "standins.sh"
TEST_LABEL = "grader.standin-test"
TAGS = ["nginx:latest", "mysql:8", "mariadb:latest", "mariadb:10.11", "golang:1.19", "python:3.11-slim"]

# The real module's lines, as every go.sum that uses the driver at v1.5.0 has them.
DRIVER_GO_SUM = (
    "github.com/go-sql-driver/mysql v1.5.0 h1:ozyZYNQW3x3HtqT1jira07DN2PArx2v7/mN66gGcHOs=\n"
    "github.com/go-sql-driver/mysql v1.5.0/go.mod h1:DCzpHaOWr8IXmIStZouvnhqoel9Qv2LBy8hT2VhHyBg=\n"
)


@pytest.fixture(scope="module")
def standins() -> str:
    """The images, ensured once for the module; the script's messages."""
    done = subprocess.run(
        ["bash", str(SCRIPT), *TAGS], capture_output=True, text=True, timeout=1800, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stderr


@dataclass
class Docker:
    """The docker CLI, with a label on everything it creates so that exactly that is removed."""

    token: str = field(default_factory=lambda: secrets.token_hex(4))

    @property
    def label(self) -> str:
        return f"{TEST_LABEL}={self.token}"

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 180, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["docker", *args], input=stdin, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check:
            assert done.returncode == 0, f"docker {' '.join(args)}: {done.stdout}{done.stderr}"
        return done

    def start(self, *args: str) -> str:
        """`docker run -d` with the label; returns the container id."""
        return self("run", "-d", "--label", self.label, *args).stdout.strip()

    def run(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """`docker run --rm` with the label, in the foreground."""
        return self("run", "--rm", "--label", self.label, *args, check=check, timeout=timeout)

    def volume(self) -> str:
        return self("volume", "create", "--label", self.label).stdout.strip()

    def published_port(self, container: str, port: str) -> int:
        mapping = self("port", container, port).stdout.splitlines()[0]
        return int(mapping.rsplit(":", 1)[1])

    def logs(self, container: str) -> str:
        done = self("logs", container)
        return done.stdout + done.stderr

    def inspect(self, obj: str, template: str) -> str:
        return self("inspect", "-f", template, obj).stdout.strip()

    def remove_everything_labelled(self) -> None:
        selector = f"label={self.label}"
        containers = self("ps", "-aq", "--filter", selector).stdout.split()
        if containers:
            self("rm", "-f", "-v", *containers)
        volumes = self("volume", "ls", "-q", "--filter", selector).stdout.split()
        if volumes:
            self("volume", "rm", "-f", *volumes)
        images = self("images", "-q", "--filter", selector).stdout.split()
        if images:
            self("rmi", "-f", *sorted(set(images)))


@pytest.fixture
def docker(standins: str) -> Iterator[Docker]:
    cli = Docker()
    try:
        yield cli
    finally:
        cli.remove_everything_labelled()


def is_standin(tag: str) -> bool:
    done = subprocess.run(
        ["docker", "image", "inspect", "-f", '{{index .Config.Labels "grader.standin"}}', tag],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() == tag


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.5)


# --- the script ----------------------------------------------------------------------------


def test_a_second_run_leaves_every_image_as_it_is_and_is_quick(standins: str) -> None:
    def image_ids() -> list[str]:
        return [
            subprocess.run(
                ["docker", "image", "inspect", "-f", "{{.Id}}", tag],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            for tag in TAGS
        ]

    before = image_ids()
    started = time.monotonic()
    done = subprocess.run(
        ["bash", str(SCRIPT), *TAGS], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 30
    assert image_ids() == before
    assert done.stderr.count(": present") == len(TAGS), done.stderr
    assert "STAND-IN" not in done.stderr, "nothing is built on a second run"


def test_a_standin_says_what_it_stands_in_for(standins: str) -> None:
    for tag in TAGS:
        if not is_standin(tag):
            continue  # pulled or present before: the official image
        description = subprocess.run(
            [
                "docker",
                "image",
                "inspect",
                "-f",
                '{{index .Config.Labels "org.opencontainers.image.description"}}',
                tag,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "stand-in" in description, description
        assert tag in description, description


def test_an_unknown_image_is_refused_with_the_list_of_known_ones() -> None:
    done = subprocess.run(["bash", str(SCRIPT), "httpd:2.4"], capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert "no stand-in for httpd:2.4" in done.stderr
    assert "nginx:latest" in done.stderr


# --- nginx ---------------------------------------------------------------------------------


def test_nginx_serves_a_mounted_folder_on_port_80_and_stops_on_sigquit(
    docker: Docker, tmp_path: Path
) -> None:
    html = tmp_path / "html"
    html.mkdir()
    (html / "index.html").write_text("<h1>Bonjour du cours 2</h1>\n")
    container = docker.start("-p", "127.0.0.1::80", "-v", f"{html}:/usr/share/nginx/html:ro", "nginx:latest")
    url = f"http://127.0.0.1:{docker.published_port(container, '80/tcp')}/"

    def answers() -> bool:
        try:
            return requests.get(url, timeout=2).status_code == 200
        except requests.RequestException:
            return False

    wait_until(answers, 30, "nginx answering on port 80")
    assert requests.get(url, timeout=5).text == "<h1>Bonjour du cours 2</h1>\n"
    assert requests.get(url + "absent.html", timeout=5).status_code == 404
    logs = docker.logs(container)
    assert '"GET / HTTP/1.1" 200' in logs, "the access log goes to the container's output"
    assert "absent.html" in logs, "the error log goes to the container's output"
    assert docker.inspect("nginx:latest", "{{.Config.StopSignal}} {{json .Config.Cmd}}") == (
        'SIGQUIT ["nginx","-g","daemon off;"]'
    )
    assert "80/tcp" in docker.inspect("nginx:latest", "{{json .Config.ExposedPorts}}")
    started = time.monotonic()
    docker("stop", "-t", "20", container)
    assert time.monotonic() - started < 10, "a graceful stop, not a kill after the timeout"
    assert docker.inspect(container, "{{.State.ExitCode}}") == "0"


def test_nginx_default_page_and_configuration_templates(docker: Docker, tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "cours.conf.template").write_text(
        "server {\n  listen ${NGINX_PORT};\n  location / { root /usr/share/nginx/html; }\n"
        '  location = /hote { return 200 "$host ${COURS}"; }\n}\n'
    )
    container = docker.start(
        "-p",
        "127.0.0.1::80",
        "-p",
        "127.0.0.1::8080",
        "-e",
        "NGINX_PORT=8080",
        "-e",
        "COURS=cours2",
        "-v",
        f"{templates}:/etc/nginx/templates:ro",
        "nginx:latest",
    )
    default = f"http://127.0.0.1:{docker.published_port(container, '80/tcp')}/"
    templated = f"http://127.0.0.1:{docker.published_port(container, '8080/tcp')}/hote"

    def answers() -> bool:
        try:
            return requests.get(templated, timeout=2).status_code == 200
        except requests.RequestException:
            return False

    wait_until(answers, 30, "the server rendered from a template")
    assert requests.get(templated, timeout=5).text.endswith(" cours2"), "$host is nginx's, ${COURS} the env's"
    assert "Welcome to nginx!" in requests.get(default, timeout=5).text


# --- mysql and mariadb ---------------------------------------------------------------------

ROOT_PASSWORD = "mot'de\"passe\\racine"


def mysql_answers(
    docker: Docker, container: str, client: str, *sql_args: str, password: str
) -> subprocess.CompletedProcess[str]:
    """A query over TCP from inside the container (so the server listens on the network)."""
    return docker(
        "exec", container, client, "-uroot", f"-p{password}", "-h127.0.0.1", "--protocol=tcp", "-N", "-B",
        *sql_args, check=False,
    )  # fmt: skip


def wait_for_server(docker: Docker, container: str, client: str, password: str) -> None:
    def ready() -> bool:
        state = docker.inspect(container, "{{.State.Running}}")
        assert state == "true", "the server exited:\n" + docker.logs(container)[-3000:]
        return mysql_answers(docker, container, client, "-e", "SELECT 1", password=password).returncode == 0

    wait_until(ready, 120, "the database server accepting connections")


def handshake_protocol(port: int) -> int:
    """The protocol version in the server's greeting (10 for MySQL and MariaDB)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        header = conn.recv(5)
    return header[4]


@pytest.fixture
def mysql_files(tmp_path: Path) -> Path:
    """Secret files and /docker-entrypoint-initdb.d: a .sql, a .sql.gz and a sourced .sh."""
    (tmp_path / "root_password").write_text(ROOT_PASSWORD + "\n")
    (tmp_path / "app_password").write_text("app-secret\n")
    init = tmp_path / "initdb"
    init.mkdir()
    (init / "01-schema.sql").write_text(
        "CREATE TABLE etudiants (id INT PRIMARY KEY, nom VARCHAR(50));\n"
        "INSERT INTO etudiants VALUES (1, 'Tremblay');\n"
    )
    (init / "02-more.sql.gz").write_bytes(gzip.compress(b"INSERT INTO etudiants VALUES (2, 'Gagnon');\n"))
    # Sourced (not executable), with the variables the entrypoint exports; it records whether the
    # temporary server could be reached over TCP, and each time it runs.
    (init / "03-probe.sh").write_text(
        'if mysql -uroot -p"$MYSQL_ROOT_PASSWORD" --protocol=tcp -h127.0.0.1 -e "SELECT 1" >/dev/null 2>&1; then\n'
        "  tcp=open\nelse\n  tcp=closed\nfi\n"
        'mysql -uroot -p"$MYSQL_ROOT_PASSWORD" "$MYSQL_DATABASE" -e "CREATE TABLE IF NOT EXISTS init_runs (tcp VARCHAR(10)); INSERT INTO init_runs VALUES (\'$tcp\')"\n'
    )
    for path in tmp_path.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    tmp_path.chmod(0o755)
    return tmp_path


def test_mysql_initialises_once_then_keeps_its_data(docker: Docker, mysql_files: Path) -> None:
    volume = docker.volume()
    run_args = [
        "-p", "127.0.0.1::3306",
        "-v", f"{volume}:/var/lib/mysql",
        "-v", f"{mysql_files / 'root_password'}:/run/secrets/db_root_password:ro",
        "-v", f"{mysql_files / 'app_password'}:/run/secrets/db_app_password:ro",
        "-v", f"{mysql_files / 'initdb'}:/docker-entrypoint-initdb.d:ro",
        "-e", "MYSQL_ROOT_PASSWORD_FILE=/run/secrets/db_root_password",
        "-e", "MYSQL_DATABASE=cours",
        "-e", "MYSQL_USER=app",
        "-e", "MYSQL_PASSWORD_FILE=/run/secrets/db_app_password",
        "mysql:8",
    ]  # fmt: skip
    first = docker.start(*run_args)
    wait_for_server(docker, first, "mysql", ROOT_PASSWORD)

    def query(container: str, sql: str, user: str = "root", password: str = ROOT_PASSWORD) -> str:
        done = docker(
            "exec", container, "mysql", f"-u{user}", f"-p{password}", "-h127.0.0.1", "-N", "-B", "cours",
            "-e", sql, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert query(first, "SELECT nom FROM etudiants ORDER BY id") == "Tremblay\nGagnon"
    assert query(first, "SELECT tcp FROM init_runs") == "closed", "the temporary server had no network"
    assert query(first, "SELECT COUNT(*) FROM etudiants", user="app", password="app-secret") == "2"
    denied = docker(
        "exec",
        first,
        "mysql",
        "-uapp",
        "-papp-secret",
        "-h127.0.0.1",
        "-e",
        "SELECT * FROM mysql.user",
        check=False,
    )
    assert denied.returncode != 0, "the user's rights stop at its database"
    wrong = mysql_answers(docker, first, "mysql", "-e", "SELECT 1", password="pas-le-bon")
    assert wrong.returncode != 0
    assert "Access denied" in wrong.stderr
    assert handshake_protocol(docker.published_port(first, "3306/tcp")) == 10
    server_uid = docker("exec", first, "awk", "/^Uid:/ { print $2 }", "/proc/1/status").stdout.strip()
    assert server_uid == docker("exec", first, "id", "-u", "mysql").stdout.strip() != "0"
    assert "/var/lib/mysql" in docker.inspect("mysql:8", "{{json .Config.Volumes}}")
    assert "3306/tcp" in docker.inspect("mysql:8", "{{json .Config.ExposedPorts}}")

    query(first, "INSERT INTO etudiants VALUES (3, 'Roy')")
    started = time.monotonic()
    docker("stop", "-t", "30", first)
    assert time.monotonic() - started < 20, "SIGTERM stops the server without waiting for a kill"
    assert docker.inspect(first, "{{.State.ExitCode}}") == "0"
    assert "Shutdown complete" in docker.logs(first)
    docker("rm", first)

    second = docker.start(*run_args)
    wait_for_server(docker, second, "mysql", ROOT_PASSWORD)
    assert query(second, "SELECT nom FROM etudiants ORDER BY id") == "Tremblay\nGagnon\nRoy"
    assert query(second, "SELECT COUNT(*) FROM init_runs") == "1", "init scripts run on an empty datadir only"
    assert "03-probe.sh" not in docker.logs(second)


def test_mysql_accepts_mysql_8_server_options_from_the_command_line(docker: Docker) -> None:
    container = docker.start(
        "-e", "MYSQL_ROOT_PASSWORD=racine", "-e", "MYSQL_INITDB_SKIP_TZINFO=1", "mysql:8",
        "--default-authentication-plugin=mysql_native_password", "--character-set-server=utf8mb4",
    )  # fmt: skip
    wait_for_server(docker, container, "mysql", "racine")
    charset = mysql_answers(
        docker, container, "mysql", "-e", "SELECT @@character_set_server", password="racine"
    )
    assert charset.stdout.strip() == "utf8mb4"


def test_mariadb_is_healthy_through_healthcheck_sh_and_has_no_mysql_commands(docker: Docker) -> None:
    container = docker.start(
        "-e", "MARIADB_ROOT_PASSWORD=racine", "-e", "MARIADB_DATABASE=cours",
        "--health-cmd", "healthcheck.sh --connect --innodb_initialized",
        "--health-interval", "1s", "--health-retries", "120",
        "mariadb:latest",
    )  # fmt: skip

    def healthy() -> bool:
        assert docker.inspect(container, "{{.State.Running}}") == "true", docker.logs(container)[-3000:]
        return docker.inspect(container, "{{.State.Health.Status}}") == "healthy"

    wait_until(healthy, 120, "mariadb healthy")
    databases = mysql_answers(docker, container, "mariadb", "-e", "SHOW DATABASES", password="racine")
    assert "cours" in databases.stdout.split()
    # The official mariadb:11 images dropped the mysql* names: a healthcheck on mysqladmin fails there.
    assert docker("exec", container, "sh", "-c", "command -v mysqladmin mysql", check=False).returncode != 0


def test_mariadb_without_a_root_password_option_refuses_to_start(docker: Docker) -> None:
    done = docker.run("mariadb:latest", check=False, timeout=120)
    assert done.returncode != 0
    assert "MARIADB_ROOT_PASSWORD" in done.stdout + done.stderr


def test_mariadb_10_11_takes_mysql_variables_and_a_random_root_password(docker: Docker) -> None:
    container = docker.start(
        "-e", "MYSQL_RANDOM_ROOT_PASSWORD=yes", "-e", "MYSQL_DATABASE=cours", "mariadb:10.11",
    )  # fmt: skip

    def generated() -> str:
        for line in docker.logs(container).splitlines():
            if line.startswith("GENERATED ROOT PASSWORD: "):
                return line.split(": ", 1)[1].strip()
        return ""

    wait_until(lambda: bool(generated()), 120, "the generated root password in the log")
    wait_for_server(docker, container, "mysql", generated())
    assert docker("exec", container, "mysqladmin", "ping", check=False).returncode == 0


# --- golang --------------------------------------------------------------------------------

DRIVER_MAIN = """package main

import (
\t"database/sql"
\t"fmt"

\t_ "github.com/go-sql-driver/mysql"
)

func main() {
\tfmt.Println("pilotes:", sql.Drivers())
}
"""


@pytest.fixture
def go_module(tmp_path: Path) -> Path:
    """A module that imports the MySQL driver at the version Debian ships, with the real go.sum."""
    module = tmp_path / "api"
    module.mkdir()
    (module / "go.mod").write_text(
        "module example.com/api\n\ngo 1.19\n\nrequire github.com/go-sql-driver/mysql v1.5.0\n"
    )
    (module / "go.sum").write_text(DRIVER_GO_SUM)
    (module / "main.go").write_text(DRIVER_MAIN)
    for path in [tmp_path, module, *module.iterdir()]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return module


def go_offline(docker: Docker, module: Path, script: str) -> subprocess.CompletedProcess[str]:
    """`script` in a copy of the module, in golang:1.19 without any network."""
    return docker.run(
        "--network", "none", "-v", f"{module}:/src:ro", "golang:1.19",
        "sh", "-c", f"cp -r /src /tmp/module && cd /tmp/module && {script}", check=False,
    )  # fmt: skip


def test_golang_layout_matches_the_official_image(docker: Docker) -> None:
    done = docker.run(
        "--network", "none", "golang:1.19",
        "sh", "-c", "go env GOPATH; pwd; command -v go; test -x /usr/local/go/bin/go && echo ok; go version",
    )  # fmt: skip
    gopath, workdir, go, installed, version = done.stdout.split("\n")[:5]
    assert (gopath, workdir, go, installed) == ("/go", "/go", "/usr/local/go/bin/go", "ok")
    assert version.startswith("go version go1.19")


@pytest.fixture
def standin_golang() -> None:
    if not is_standin("golang:1.19"):
        pytest.skip("golang:1.19 is the official image: it fetches modules from the network")


@pytest.mark.usefixtures("standin_golang")
def test_golang_builds_the_mysql_driver_without_network_and_the_real_go_sum_verifies(
    docker: Docker, go_module: Path
) -> None:
    done = go_offline(docker, go_module, "go build -o /tmp/api . && /tmp/api && cat go.sum")
    assert done.returncode == 0, done.stderr
    assert "pilotes: [mysql]" in done.stdout
    assert done.stdout.endswith(DRIVER_GO_SUM), "go.sum is unchanged: the served module has the real hashes"


@pytest.mark.usefixtures("standin_golang")
def test_golang_still_refuses_a_go_sum_that_does_not_match(docker: Docker, go_module: Path) -> None:
    (go_module / "go.sum").write_text(DRIVER_GO_SUM.replace("h1:ozyZ", "h1:AAAA"))
    done = go_offline(docker, go_module, "go build .")
    assert done.returncode != 0
    assert "checksum mismatch" in done.stderr


@pytest.mark.usefixtures("standin_golang")
def test_golang_go_mod_tidy_writes_go_sum_offline(docker: Docker, go_module: Path) -> None:
    (go_module / "go.sum").unlink()
    done = go_offline(docker, go_module, "go mod tidy && go build . && cat go.sum")
    assert done.returncode == 0, done.stderr
    assert done.stdout == DRIVER_GO_SUM


@pytest.mark.usefixtures("standin_golang")
def test_golang_dockerfile_downloads_modules_and_builds_without_network(
    docker: Docker, go_module: Path
) -> None:
    (go_module / "Dockerfile").write_text(
        "FROM golang:1.19\nWORKDIR /src\nCOPY go.mod go.sum ./\nRUN go mod download\n"
        'COPY . .\nRUN CGO_ENABLED=0 go build -o /usr/local/bin/api .\nCMD ["api"]\n'
    )
    tag = f"standin-test-api:{docker.token}"
    done = subprocess.run(
        ["docker", "build", "--network", "none", "--label", docker.label, "-t", tag, str(go_module)],
        capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "pilotes: [mysql]" in docker.run("--network", "none", tag).stdout


# --- python --------------------------------------------------------------------------------


def test_python_runs_a_script_and_has_pip(docker: Docker, tmp_path: Path) -> None:
    script = tmp_path / "compteur.py"
    script.write_text("import sys\nprint(sys.version_info[:2], sys.executable)\n")
    script.chmod(0o644)
    done = docker.run(
        "--network",
        "none",
        "-v",
        f"{script}:/app/compteur.py:ro",
        "python:3.11-slim",
        "python",
        "/app/compteur.py",
    )
    assert done.stdout.strip() == "(3, 11) /usr/local/bin/python"
    assert docker.run("--network", "none", "python:3.11-slim", "pip", "--version").stdout.startswith("pip ")
    assert docker.inspect("python:3.11-slim", "{{json .Config.Cmd}}") == '["python3"]'
    answer = docker(
        "run",
        "--rm",
        "-i",
        "--label",
        docker.label,
        "--network",
        "none",
        "python:3.11-slim",
        stdin="print(6 * 7)\n",
    )
    assert answer.stdout.strip() == "42", "the default command is the interpreter"
