"""Compose v2 as the one runner: normalize, gate, namespace and limit, then build/up/down.

Every part of a submission becomes a Compose project, even a bare Dockerfile (wrapped
into a one-service project), so that one code path builds, runs and cleans them all.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from . import cgroups, http_client
from .assignment import Limits
from .buildcache import prepare_builds
from .compose_cli import CommandResult, ComposeCLI
from .docker_api import ContainerState, DockerAPI
from .errors import (
    BuildFailed,
    ComposeFileError,
    EngineCapacity,
    GraderError,
    GraderTimeout,
    InfrastructureError,
    RegistryUnavailable,
    ServiceNotReady,
    SubmissionError,
)
from .i18n import _
from .policy import enforce, enforce_file_references
from .pulls import classify, undeclared_loopback
from .sandbox import namespace

COMPOSE_FILENAMES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
_BUILDKIT_PREFIX = re.compile(r"^(#\d+ (\d+\.\d+ )?|\d+\.\d+ |> )")
_ANONYMOUS_VOLUME = re.compile(r"[0-9a-f]{64}")
_KEY_LINE_MARKERS = ("error", "failed", "not found", "cannot", "unable", "denied", "no such")


#: BuildKit names the failing instruction as "Dockerfile:12" above its excerpt.
_DOCKERFILE_LINE = re.compile(r"^\s*\S*Dockerfile\S*:(\d+)\s*$", re.MULTILINE)


def key_lines(output: str, limit: int = 12, width: int = 200) -> str:
    """The lines of a build or Compose log that say what went wrong, without the noise.

    BuildKit prints each failing line several times (step log, error, summary): keep
    the first of each, strip the step and time prefix, and shorten long commands.
    """
    seen: set[str] = set()
    keyed: list[str] = []
    plain: list[str] = []
    for raw in output.splitlines():
        line = _BUILDKIT_PREFIX.sub("", raw.strip())
        if not line or line in seen:
            continue
        seen.add(line)
        short = line if len(line) <= width else line[: width - 1] + "…"
        plain.append(short)
        if any(marker in line.lower() for marker in _KEY_LINE_MARKERS):
            keyed.append(short)
    return "\n".join((keyed or plain)[-limit:])


def _join_network(model: dict[str, Any], network: str) -> None:
    """Make the existing ``network`` the project's default network, when that is its only one.

    Grader-built projects of one grading share one network: creating and removing a network
    is an engine operation that parallel gradings wait on each other for.
    """
    if set(model.get("networks") or {}) == {"default"}:
        model["networks"] = {"default": {"name": network, "external": True}}


def find_compose_file(directory: Path) -> Path | None:
    for name in COMPOSE_FILENAMES:
        if (directory / name).is_file():
            return directory / name
    return None


def normalize(
    cli: ComposeCLI,
    compose_file: Path,
    project: str,
    timeout: float = 60.0,
    root: Path | None = None,
    policy_allow: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """The canonical model of a submission's Compose file, as ``docker compose config`` sees it.

    With ``root``, the files the Compose file pulls in (include, extends, env_file) are checked
    to lie inside it first: ``config`` would read them into the model.
    """
    if root is not None:
        enforce_file_references(compose_file, root, policy_allow)
    result = cli.run(
        ["-f", str(compose_file), "-p", project, "config", "--format", "json"],
        timeout=timeout,
        cwd=compose_file.parent,
        bare_env=True,
    )
    if result.timed_out:
        raise GraderTimeout(f"docker compose config did not finish within {timeout:.0f} s.")
    if result.returncode != 0:
        raise ComposeFileError(
            _("Docker Compose refuse le fichier {file}.").format(file=compose_file.name),
            details=key_lines(result.output, limit=5),
        )
    start = result.output.find("{")
    try:
        model = json.loads(result.output[start:]) if start >= 0 else None
    except json.JSONDecodeError:
        model = None
    if not isinstance(model, dict) or not isinstance(model.get("services"), dict):
        raise InfrastructureError(
            "docker compose config did not print a JSON model: is this Docker Compose v2?",
            details=result.output[-500:],
        )
    return model


class ComposeProject:
    """One namespaced Compose project of one submission part, from build to cleanup."""

    def __init__(
        self,
        *,
        name: str,
        source_model: dict[str, Any],
        root: Path,
        run_id: str,
        limits: Limits,
        workdir: Path,
        cli: ComposeCLI,
        docker: DockerAPI,
        http_ports: Sequence[int] = (),
        policy_allow: frozenset[str] = frozenset(),
        network: str | None = None,
        cgroup_parent: str | None = None,
        advise: Callable[[str], None] | None = None,
    ) -> None:
        #: The model as the student wrote it (normalized): what checks about the file read.
        self.source_model = source_model
        self.name = name
        self.root = root
        self.run_id = run_id
        self.limits = limits
        self.cli = cli
        self.docker = docker
        self.http_ports = tuple(http_ports)
        #: Policy rules the assignment relaxes.
        self.policy_allow = policy_allow
        #: The grading's cgroup, which all its containers share (None where there is none).
        self.cgroup_parent = cgroup_parent
        self.model = namespace(
            source_model,
            project=name,
            run_id=run_id,
            limits=limits,
            cgroup_parent=cgroup_parent,
            writable_binds="bind_writable" in policy_allow,
        )
        if network is not None:
            _join_network(self.model, network)
        self.file = workdir / f"{name}.compose.json"
        self._built: SubmissionError | bool | None = False
        self._up: SubmissionError | bool | None = False
        #: Services started and found ready since the last down, and the failures of partial starts
        #: (by the services they needed): a later call for the same services fails the same way.
        self._ready: set[str] = set()
        self._partial_failures: dict[frozenset[str], SubmissionError] = {}
        self._built_services: set[str] = set()
        self._build_failures: dict[frozenset[str], SubmissionError] = {}
        #: Anonymous volumes of containers this project removed: no label reaches them.
        self.anonymous_volumes: set[str] = set()
        #: Services whose container had to be killed on a stop; hints go to ``advise``.
        self.ignored_sigterm: set[str] = set()
        self.advise = advise

    # -- lifecycle ---------------------------------------------------------------

    def _compose(
        self, *args: str, timeout: float, stop_when: Callable[[str | None], bool] | None = None
    ) -> CommandResult:
        """Run Compose on the project; the engine running out of capacity is never the student's fault."""
        result = self._compose_raw(*args, timeout=timeout, stop_when=stop_when)
        # A build's log holds what the student's steps print: it never says the engine is full.
        if result.returncode != 0 and args[0] != "build" and EngineCapacity.found_in(result.output):
            raise EngineCapacity()
        return result

    def _compose_raw(
        self, *args: str, timeout: float, stop_when: Callable[[str | None], bool] | None = None
    ) -> CommandResult:
        self._prepare()
        command = ["-f", str(self.file), "-p", self.name, "--project-directory", str(self.file.parent), *args]
        if stop_when is None:  # the plain call: test doubles of ComposeCLI need not know stop_when
            return self.cli.run(command, timeout=timeout, cwd=self.file.parent)
        return self.cli.run(command, timeout=timeout, cwd=self.file.parent, stop_when=stop_when)

    def _once(self, attr: str, action: Any) -> None:
        """Run ``action`` once; a later call raises the same SubmissionError again."""
        state = getattr(self, attr)
        if isinstance(state, SubmissionError):
            raise state
        if state is None:
            return
        try:
            action()
        except SubmissionError as exc:
            setattr(self, attr, exc)
            raise
        setattr(self, attr, None)

    def build(self, services: Sequence[str] = ()) -> None:
        """Build every image of the project, or those ``services`` and what they depend on need (the
        policy is enforced first). A failure is remembered as :meth:`up` remembers its own."""
        if not services or self._built is None:
            self._once("_built", self._build)
            return
        needed = frozenset(
            name for name in self.needed(services) if (self.model["services"].get(name) or {}).get("build")
        )
        if needed <= self._built_services:
            return
        for failed, error in self._build_failures.items():
            if failed <= needed:
                raise error
        self._prepare()
        try:
            self._run_build(*sorted(needed))
        except SubmissionError as exc:
            self._build_failures[needed] = exc
            raise
        self._built_services.update(needed)

    def _prepare(self) -> None:
        """Gate the model and write the file Compose runs from, once, before any Compose command:
        a model the policy refuses never reaches Compose (some keys act even at ``down``)."""
        if self.file.exists():
            return
        enforce(self.source_model, self.root, self.policy_allow)
        prepare_builds(self.model, self.root, self.run_id, self.file.parent)
        self.file.parent.mkdir(parents=True, exist_ok=True)
        self.file.write_text(json.dumps(self.model, indent=2), encoding="utf-8")

    def _build(self) -> None:
        self._prepare()
        if not any(s.get("build") for s in self.model["services"].values()):
            return
        self._run_build()

    def rebuild(self, service: str, stop_when: Callable[[str | None], bool] | None = None) -> str:
        """Build ``service`` again (after a change to its sources); return the build log.

        ``stop_when`` (see :meth:`ComposeCLI.run`) may end the build as soon as its log has
        said what the caller wanted to know; the image then stays the one built before.
        """
        self.build([service])
        return self._run_build(service, stop_when=stop_when)

    def _run_build(self, *services: str, stop_when: Callable[[str | None], bool] | None = None) -> str:
        timeout = self.limits.build_timeout_s
        result = self._compose("build", *services, timeout=timeout, stop_when=stop_when)
        if result.stopped:
            return result.output
        if result.timed_out:
            raise BuildFailed(
                _("La construction de l'image a dépassé la limite de {s} secondes.").format(s=int(timeout)),
                details=key_lines(result.output),
            )
        if result.returncode != 0:
            self.docker.ping()  # a daemon that went away is the machine's fault, not the student's
            self._raise_pull_problem(result.output, BuildFailed, services)
            raise BuildFailed(
                _("L'image ne se construit pas."),
                details=_("Lignes clés du journal de construction :") + "\n" + key_lines(result.output),
                locations=self._dockerfiles(services, result.output),
            )
        return result.output

    def _dockerfiles(self, services: tuple[str, ...], log: str) -> tuple[str, ...]:
        """The Dockerfiles a failed build is about, relative to the submission (with BuildKit's line)."""
        found = []
        for name, service in self.source_model.get("services", {}).items():
            build = service.get("build")
            if not isinstance(build, dict) or (services and name not in services):
                continue
            path = Path(str(build.get("context", "."))) / str(build.get("dockerfile", "Dockerfile"))
            with contextlib.suppress(ValueError):
                found.append(path.resolve().relative_to(self.root.resolve()).as_posix())
        lines = _DOCKERFILE_LINE.findall(log)
        if len(found) == 1 and len(set(lines)) == 1:
            return (f"{found[0]}:{lines[0]}",)
        return tuple(found)

    def up(self, services: Sequence[str] = ()) -> None:
        """Build, start every service (or only ``services`` and what they depend on) and wait until
        each one is ready. A failure is remembered: asking again for the same services raises it again,
        while a start of other services (that do not need the broken one) is tried on its own."""
        if not services:
            with self._starting_early():
                self.build()
            self._once("_up", self._up_and_wait)
            return
        self.build(services)
        unknown = sorted(set(services) - set(self.model["services"]))
        if unknown:
            raise ServiceNotReady(
                _("Le projet n'a pas de service « {service} ».").format(service=", ".join(unknown))
            )
        needed = frozenset(self.needed(services))
        if needed <= self._ready:
            return
        for failed, error in self._partial_failures.items():
            if failed <= needed:
                raise error
        try:
            self._up_and_wait(tuple(sorted(needed)))
        except SubmissionError as exc:
            self._partial_failures[needed] = exc
            raise

    @contextlib.contextmanager
    def _starting_early(self) -> Iterator[None]:
        """While the project's images are first built: start each service that depends on no
        other as soon as its own image is there, as ``up`` would start it first anyway. A
        database then initialises while a slower image still compiles. Best effort: anything
        that goes wrong here happens again, and is reported, in the ``up`` that follows."""
        built = [name for name, spec in self.model["services"].items() if spec.get("build")]
        early = [name for name in built if not _needs_another(self.model["services"][name])]
        if self._built is not False or len(built) < 2 or not early:
            yield
            return
        done = threading.Event()
        starter = threading.Thread(target=self._start_when_built, args=(early, done), daemon=True)
        starter.start()
        try:
            yield
        finally:
            done.set()
            starter.join()  # never an early start left running while the grading goes on or ends

    def _start_when_built(self, services: list[str], done: threading.Event) -> None:
        pending = list(services)
        while pending and not done.wait(0.25):
            for name in list(pending):
                image = str(self.model["services"][name].get("image") or "")
                try:
                    if self.docker.image_attrs(image) is None:
                        continue
                    pending.remove(name)
                    self._compose(
                        "up", "-d", "--no-build", "--no-deps", name, timeout=self.limits.up_timeout_s
                    )
                except GraderError:
                    return

    def needed(self, services: Sequence[str]) -> set[str]:
        """``services`` and every service they depend on (``depends_on``), transitively."""
        found: set[str] = set()
        pending = list(services)
        while pending:
            name = pending.pop()
            if name in found:
                continue
            found.add(name)
            depends = (self.model["services"].get(name) or {}).get("depends_on") or {}
            pending.extend(str(d) for d in depends)
        return found

    def _up_and_wait(self, services: tuple[str, ...] = ()) -> None:
        result = self._compose("up", "-d", "--no-build", *services, timeout=self.limits.up_timeout_s)
        if result.timed_out:
            raise ServiceNotReady(
                _("Le démarrage a dépassé la limite de {s} secondes.").format(
                    s=int(self.limits.up_timeout_s)
                ),
                details=key_lines(result.output),
            )
        if result.returncode != 0:
            self.docker.ping()
            self._raise_pull_problem(result.output, ServiceNotReady)
            raise ServiceNotReady(
                _("Docker Compose n'arrive pas à démarrer le projet."),
                details=key_lines(result.output),
            )
        self.wait_ready(services)
        self._ready.update(services or self.model["services"])

    def _raise_pull_problem(
        self, output: str, kind: type[SubmissionError], services: tuple[str, ...] = ()
    ) -> None:
        """A pull that failed: the registry's "no such image" is the student's mistake; a registry
        out of reach, rate-limiting or refusing us is the machine's (regraded, never a zero)."""
        problem = classify(output)
        if problem is None:
            return
        image = problem.image or self._source_image(problem.service)
        if problem.kind == "unavailable" and undeclared_loopback(image):
            raise kind(
                _(
                    "Le registre de l'image « {image} » ne répond pas : c'est une adresse de la machine que le "
                    "correcteur ne connaît pas. Vérifiez le nom de l'image (notion : FROM et image:)."
                ).format(image=image),
                details=key_lines(output, limit=4),
            )
        if problem.kind == "unavailable":
            raise RegistryUnavailable(
                f"the image {image or '(unnamed)'} could not be pulled: its registry cannot be reached, "
                "timed out, refused authentication or rate-limited us. Load it (`grader images load`), "
                "set a registry mirror, or grade again later.",
                details=key_lines(output, limit=4),
            )
        raise kind(
            _(
                "L'image « {image} » n'existe pas dans son registre : vérifiez son nom et son étiquette "
                "(tag) tels qu'ils sont écrits (notion : FROM et image:)."
            ).format(image=image or "?"),
            details=key_lines(output, limit=4),
            locations=self._dockerfiles(services, output) if kind is BuildFailed else (),
        )

    def _source_image(self, service: str) -> str:
        """The image a service names, as the student wrote it."""
        spec = (self.source_model.get("services") or {}).get(service) or {}
        return str(spec.get("image") or "")

    def down(self, *, volumes: bool = True) -> None:
        """``docker compose down``: containers and networks, and volumes unless ``volumes=False``.

        The project can be started again with :meth:`up`.
        """
        self._up = False
        self._ready.clear()
        self._partial_failures.clear()
        if self.file.exists():
            self._remember_anonymous_volumes()
            if not volumes:  # a check's own down: tell the student if a process ignored SIGTERM
                self._stop()
            timeout = str(int(self.limits.stop_timeout_s))
            args = ["down", "--remove-orphans", "--timeout", timeout] + (["-v"] if volumes else [])
            self._compose(*args, timeout=120)

    def remove_container(self, service: str) -> None:
        """Stop and remove the service's container, keeping its volumes; :meth:`up` makes a new one."""
        self._rm(service)

    def renew_volumes(self) -> None:
        """Remove every container and every volume of the project, keeping its networks.

        The next :meth:`up` starts on fresh volumes, as after ``down -v``, without deleting
        and re-creating the networks (engine operations that parallel gradings queue on).
        """
        self._rm("-v")
        for spec in (self.model.get("volumes") or {}).values():
            self.docker.remove_volume(str(spec["name"]))

    def _rm(self, *args: str) -> None:
        """Stop (within the grader's stop timeout), then ``docker compose rm --force ARGS``, noting
        first the anonymous volumes it detaches."""
        self._up = False
        named = [a for a in args if not a.startswith("-")]
        self._ready.difference_update(named or self.model["services"])
        self._partial_failures.clear()
        self._remember_anonymous_volumes()
        self._stop(*named)
        self._compose("rm", "--force", *args, timeout=120)

    def _stop(self, *services: str) -> None:
        """``docker compose stop`` with the grader's short timeout. A container that had to be
        killed ignored SIGTERM: the student is told once, as a hint (it costs no points), and
        later stops of that service kill it at once rather than wait for nothing again."""
        timeout = self.limits.stop_timeout_s
        known = sorted(self.ignored_sigterm if not services else self.ignored_sigterm & set(services))
        if known:
            self._compose("kill", *known, timeout=120)
        running = {state.id for state in self.containers() if state.status == "running"}
        self._compose("stop", "--timeout", str(int(timeout)), *services, timeout=120)
        for state in self.containers():
            killed = state.id in running and state.exit_code == 137 and not state.oom_killed
            if not killed or state.service in self.ignored_sigterm or self._stops_with_kill(state.service):
                continue
            self.ignored_sigterm.add(state.service)
            if self.advise is not None:
                self.advise(
                    _(
                        "Le service « {service} » ne s'est pas arrêté sur SIGTERM : docker stop a dû le tuer "
                        "(SIGKILL) au bout de {s} s. Son processus principal (PID 1) ignore ce signal : gérez "
                        "SIGTERM dans le programme, ou ajoutez « init: true » au service, et lancez-le avec la "
                        "forme exec de CMD (notion : arrêt d'un conteneur)."
                    ).format(service=state.service, s=int(timeout))
                )

    def _stops_with_kill(self, service: str) -> bool:
        """A service whose declared ``stop_signal`` is SIGKILL: its 137 is what it asked for."""
        signal = str((self.model["services"].get(service) or {}).get("stop_signal") or "").upper()
        return signal.removeprefix("SIG") in ("KILL", "9")

    def _remember_anonymous_volumes(self) -> None:
        """Note the anonymous volumes in use, before a removal detaches them from any container."""
        for state in self.containers():
            for mount in self.docker.inspect_container(state.id).get("Mounts") or []:
                name = str(mount.get("Name") or "")
                if mount.get("Type") == "volume" and _ANONYMOUS_VOLUME.fullmatch(name):
                    self.anonymous_volumes.add(name)

    # -- readiness -----------------------------------------------------------------

    def containers(self) -> list[ContainerState]:
        return self.docker.project_containers(self.name)

    def container(self, service: str) -> ContainerState:
        for state in self.containers():
            if state.service == service:
                return state
        raise ServiceNotReady(_("Le service « {service} » n'a pas de conteneur.").format(service=service))

    def _will_restart(self, state: ContainerState) -> bool:
        """Whether Docker will start this exited container again (its capped restart policy)."""
        policy = str((self.model["services"].get(state.service) or {}).get("restart") or "no")
        name, _, count = policy.partition(":")
        allowed = int(count) if name == "on-failure" and count.isdigit() else 0
        return state.exit_code != 0 and state.restart_count < allowed

    def _not_ready(self, state: ContainerState) -> ServiceNotReady:
        if state.restart_count and not state.oom_killed:
            why = _(
                "Le service « {service} » s'est arrêté (code de sortie {code}) après {restarts} redémarrages : "
                "il plante en boucle."
            )
        elif state.oom_killed:
            why = _("Le service « {service} » a été tué : limite de mémoire atteinte.")
        elif state.exit_code == 137 and self.cgroup_parent and cgroups.oom_kills(self.cgroup_parent):
            why = _(
                "Le service « {service} » a été tué : la correction a atteint sa limite de mémoire, "
                "{mib} Mio pour tous ses conteneurs ensemble."
            )
        elif state.exit_code == 137:
            # SIGKILL while the grader was only waiting: the kernel's OOM killer, unless the program
            # killed itself (Docker does not always mark an OOM kill under load).
            why = _(
                "Le service « {service} » a été tué (signal KILL, code de sortie 137) : le plus souvent, "
                "sa limite de mémoire a été atteinte."
            )
        else:
            why = _("Le service « {service} » s'est arrêté (code de sortie {code}).")
        return ServiceNotReady(
            why.format(
                service=state.service,
                code=state.exit_code,
                restarts=state.restart_count,
                mib=self.limits.grading_memory_bytes // 2**20,
            ),
            details=_("Dernières lignes de son journal :") + "\n" + self.docker.logs(state.id, tail=15),
        )

    def wait_ready(self, services: Sequence[str] = ()) -> None:
        """Poll with back-off until every service (or those of ``services``) runs (healthy, answering
        HTTP where asked). Fails at once when a container has exited, with its last log lines.
        """
        deadline = time.monotonic() + self.limits.ready_timeout_s
        delay = 0.1
        expected = set(services or self.model["services"])
        while True:
            states = [state for state in self.containers() if state.service in expected]
            pending = expected - {s.service for s in states}
            for state in states:
                restarts_left = self._will_restart(state)
                if state.finished and not restarts_left and not _completed_on_purpose(self.model, state):
                    raise self._not_ready(state)
                if state.finished and restarts_left:
                    pending.add(state.service)  # Docker starts it again: not ready yet
                if state.status == "running" and state.health == "unhealthy":
                    # What Compose does for depends_on: service_healthy: an unhealthy service is a
                    # failure now, not a wait until the limit; its probes say why.
                    raise ServiceNotReady(
                        _(
                            "Le service « {service} » est en mauvaise santé : son healthcheck échoue "
                            "(notion : healthcheck)."
                        ).format(service=state.service),
                        details=self._health_log(state),
                    )
                if state.status != "running" or state.health not in ("", "healthy"):
                    if not state.finished:
                        pending.add(state.service)
                elif not self._answers_http(state):
                    pending.add(state.service)
            if not pending:
                return
            if time.monotonic() > deadline:
                looping = [
                    st
                    for st in states
                    if st.service in pending and st.restart_count and st.status != "running"
                ]
                if looping:  # still restarting when time is up: a crash loop, said as one
                    raise self._not_ready(looping[0])
                raise ServiceNotReady(
                    _("Service(s) pas prêt(s) après {s} secondes : {services}.").format(
                        s=int(self.limits.ready_timeout_s), services=", ".join(sorted(pending))
                    ),
                    details="\n".join(
                        f"--- {s.service}\n{self.docker.logs(s.id, tail=10)}"
                        + (f"\n{self._health_log(s)}" if s.health == "starting" else "")
                        for s in states
                        if s.service in pending
                    ),
                )
            time.sleep(delay)
            delay = min(delay * 1.6, 1.0)

    def _health_log(self, state: ContainerState) -> str:
        """The output of the container's last healthcheck probes."""
        _status, probes = self.docker.health(state.id)
        outputs = [f"[{code}] {output[:300]}" for code, output in probes[-3:]]
        return _("Dernières sorties du healthcheck :") + "\n" + ("\n".join(outputs) or _("(aucune)"))

    def _answers_http(self, state: ContainerState) -> bool:
        for port in self.http_ports:
            host_port = state.ports.get(port)
            if host_port is not None and not http_client.answers(host_port):
                return False
        return True


def _needs_another(service: dict[str, Any]) -> bool:
    """Whether a service waits for, or shares something with, another service of the project."""
    if service.get("depends_on") or service.get("links") or service.get("volumes_from"):
        return True
    return any(str(service.get(key) or "").startswith("service:") for key in ("network_mode", "ipc", "pid"))


def _completed_on_purpose(model: dict[str, Any], state: ContainerState) -> bool:
    """A one-shot service that another waits on with ``service_completed_successfully``."""
    if state.exit_code != 0:
        return False
    for service in model["services"].values():
        condition = ((service.get("depends_on") or {}).get(state.service) or {}).get("condition")
        if condition == "service_completed_successfully":
            return True
    return False
