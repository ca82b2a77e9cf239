"""What a check reaches: a running part (:class:`Stack`) and its services.

The facade hides the plumbing (Compose, the SDK, ports) so that a check reads like a
sentence. HTTP only ever goes to 127.0.0.1, on the ports the sandbox published, through
:mod:`harness.http_client` (bounded in time, size and depth).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from . import dockerfile, http_client
from .compose import ComposeProject
from .docker_api import RUN_LABEL, ContainerState, ExecResult
from .errors import ServiceNotReady, SubmissionError
from .http_client import LOOPBACK, HttpResponse
from .i18n import _
from .images import ImageScan, IncompleteScan, scan_layer_folders, scan_saved_image

__all__ = ["LOOPBACK", "HttpResponse", "Service", "Stack", "http_answers"]


def http_answers(host_port: int, path: str = "/", timeout: float = 2.0) -> bool:
    """Whether anything answers HTTP on 127.0.0.1:``host_port`` within ``timeout`` seconds of wall
    time (any status counts; the body is not read)."""
    return http_client.answers(host_port, path, timeout)


class Service:
    """One service of a running stack."""

    def __init__(self, stack: Stack, name: str) -> None:
        self.stack = stack
        self.name = name

    def state(self) -> ContainerState:
        return self.stack.project.container(self.name)

    def host_port(self, port: int) -> int:
        state = self.state()
        if port not in state.ports:
            raise ServiceNotReady(
                _("Le service « {service} » ne publie pas le port {port}.").format(
                    service=self.name, port=port
                )
            )
        return state.ports[port]

    def http(
        self, method: str, path: str, *, port: int, timeout: float = 10.0, retries: int = 3, **kwargs: Any
    ) -> HttpResponse:
        """An HTTP request to the service's ``port``, done within ``timeout`` seconds of wall time,
        retries included: a refused connection is retried briefly, a slow or oversized answer is not.

        ``kwargs`` are those of :func:`harness.http_client.request` (``json``, ``data``, ``headers``, ``params``).
        """
        host_port = self.host_port(port)
        deadline = time.monotonic() + timeout
        for attempt in range(retries + 1):
            try:
                return http_client.request(
                    method, host_port, path, timeout=max(0.0, deadline - time.monotonic()), **kwargs
                )
            except http_client.HttpTimeout as exc:
                raise ServiceNotReady(
                    _(
                        "Le service « {service} » n'a pas fini de répondre à {method} {path} en {s} "
                        "secondes (port {port}) : il doit envoyer sa réponse entière, sans la faire attendre."
                    ).format(service=self.name, method=method, path=path, s=f"{timeout:g}", port=port)
                ) from exc
            except http_client.HttpTooLarge as exc:
                raise SubmissionError(
                    _(
                        "La réponse du service « {service} » à {method} {path} dépasse {mib} Mio "
                        "(une fois décompressée) : le correcteur n'en lit pas plus. Renvoyez une réponse "
                        "plus petite."
                    ).format(service=self.name, method=method, path=path, mib=exc.limit // 2**20)
                ) from exc
            except http_client.HttpUnreachable as exc:
                pause = 0.5 * (attempt + 1)
                if attempt == retries or time.monotonic() + pause >= deadline:
                    raise ServiceNotReady(
                        _("Le service « {service} » ne répond pas sur le port {port} : {error}").format(
                            service=self.name, port=port, error=exc
                        )
                    ) from exc
                time.sleep(pause)
        raise AssertionError("unreachable")

    def get(self, path: str, *, port: int, **kwargs: Any) -> HttpResponse:
        return self.http("GET", path, port=port, **kwargs)

    def inspect(self) -> dict[str, Any]:
        """``docker inspect`` of the service's container."""
        return self.stack.project.docker.inspect_container(self.state().id)

    def ip_on(self, network: str) -> str:
        """The container's address on the (namespaced) network ``network``, or "" if not attached."""
        networks = self.inspect().get("NetworkSettings", {}).get("Networks") or {}
        return str((networks.get(network) or {}).get("IPAddress") or "")

    def exec(self, *command: str, user: str = "") -> ExecResult:
        return self.stack.project.docker.exec(self.state().id, list(command), user=user)

    def logs(self, tail: int = 20) -> str:
        return self.stack.project.docker.logs(self.state().id, tail=tail)

    @property
    def declared(self) -> dict[str, Any]:
        """The service as the student wrote it (normalized by Compose): what checks about the file read."""
        return dict((self.stack.declared.get("services") or {}).get(self.name) or {})

    @property
    def effective(self) -> dict[str, Any]:
        """The service as the sandbox runs it (limits, ports on 127.0.0.1, capped restart...)."""
        return dict(self.stack.effective["services"][self.name])

    def restart_policy(self) -> str:
        """The restart policy the student declared (``restart:``, else ``deploy.restart_policy``),
        "no" when none: the sandbox caps it, so read the declared one here."""
        declared = self.declared
        if declared.get("restart"):
            return str(declared["restart"])
        condition = ((declared.get("deploy") or {}).get("restart_policy") or {}).get("condition")
        return {"any": "always", "on-failure": "on-failure", "none": "no"}.get(str(condition), "no")

    def user(self) -> str:
        """The user the image or the service declares (``USER``, ``user:``), "" when none (root)."""
        return str(self.inspect().get("Config", {}).get("User") or "")

    def process_uid(self) -> int:
        """The user id the container's main process runs as, read by the engine (``docker top``):
        works on images without a shell (scratch)."""
        return self.stack.project.docker.process_uid(self.state().id)

    def health(self) -> tuple[str, list[str]]:
        """The container's health status ("healthy", "unhealthy", "starting", or "" without a
        healthcheck) and the output of its last probes."""
        status, probes = self.stack.project.docker.health(self.state().id)
        return status, [output for _code, output in probes]

    def wait_healthy(self, timeout: float | None = None) -> list[str]:
        """Wait until the healthcheck says healthy (within ``timeout``, by default the assignment's
        readiness limit); the last probes' output. A service without a healthcheck, one found
        unhealthy or still starting at the deadline, fails the check with that output."""
        deadline = time.monotonic() + (
            self.stack.project.limits.ready_timeout_s if timeout is None else timeout
        )
        while True:
            status, log = self.health()
            if status == "healthy":
                return log
            if not status:
                raise SubmissionError(
                    _(
                        "Le service « {service} » n'a pas de healthcheck (notion : HEALTHCHECK, healthcheck:)."
                    ).format(service=self.name)
                )
            if status == "unhealthy" or time.monotonic() > deadline:
                raise SubmissionError(
                    _("Le service « {service} » n'est pas en bonne santé (état : {status}).").format(
                        service=self.name, status=status
                    ),
                    details=_("Dernières sorties du healthcheck :") + "\n" + "\n".join(log[-3:]),
                )
            time.sleep(0.5)


class Stack:
    """A submission part as a Compose project: built and started on demand, once."""

    def __init__(self, project: ComposeProject, read: Callable[[Path], bytes] | None = None) -> None:
        self.project = project
        #: Reads a file of the submission without following a planted link (the grading's reader).
        self._read = read or (lambda path: path.read_bytes())

    @property
    def name(self) -> str:
        """The namespaced Compose project name."""
        return self.project.name

    @property
    def declared(self) -> dict[str, Any]:
        """The project as the student wrote it (after ``compose config``): read it for what the file says."""
        return self.project.source_model

    @property
    def effective(self) -> dict[str, Any]:
        """The project as the sandbox runs it: namespaced names, limits, loopback ports, capped restarts."""
        return self.project.model

    @property
    def services(self) -> list[str]:
        return list(self.project.model["services"])

    def build(self, services: Sequence[str] = ()) -> Stack:
        """Build the project's images (or those ``services`` need): a failure fails the check."""
        self.project.build(services)
        return self

    def rebuild(self, service: str, stop_when: Callable[[str | None], bool] | None = None) -> str:
        """Build ``service`` again (after the check changed its sources); its build log. ``stop_when``
        gets each log line (None while waiting) and may end the build once the log has told enough."""
        return self.project.rebuild(service, stop_when=stop_when)

    def up(self, services: Sequence[str] = ()) -> Stack:
        """Start the project (or only ``services`` and what they depend on) and wait until ready.
        Starting only what a check needs keeps a broken service from failing the others' checks."""
        self.project.up(services)
        return self

    def down(self, *, volumes: bool = False) -> Stack:
        """``docker compose down`` (with ``-v`` when ``volumes``): a later :meth:`up` starts again."""
        self.project.down(volumes=volumes)
        return self

    def recreate(self, service: str) -> Service:
        """Remove the service's container (its volumes stay) and start a new one (with what it
        depends on, started if needed); the new container, once ready."""
        self.project.remove_container(service)
        return self.up(services=[service]).service(service)

    def renew_volumes(self) -> Stack:
        """Remove every container and volume of the project: the next :meth:`up` starts on fresh volumes."""
        self.project.renew_volumes()
        return self

    def leftovers(self) -> list[str]:
        """The containers and networks of the project that exist now (after a down: none)."""
        containers = [state.name for state in self.project.containers()]
        return containers + self.project.docker.project_networks(self.project.name)

    def service(self, name: str) -> Service:
        if name not in self.project.model["services"]:
            raise ServiceNotReady(_("Le projet n'a pas de service « {service} ».").format(service=name))
        return Service(self, name)

    def image_name(self, service: str) -> str:
        return str(self.project.model["services"][service].get("image", ""))

    def image_attrs(self, service: str) -> dict[str, Any]:
        """``docker image inspect`` of the service's image (built first if needed)."""
        self.build([service])
        attrs = self.project.docker.image_attrs(self.image_name(service))
        if attrs is None:
            raise ServiceNotReady(
                _("L'image du service « {service} » est introuvable.").format(service=service)
            )
        return attrs

    def image_size(self, service: str) -> int:
        return int(self.image_attrs(service).get("Size", 0))

    def image_history(self, service: str) -> list[str]:
        """Each layer's ``CreatedBy`` line of the service's image (``docker history --no-trunc``)."""
        self.build([service])
        return self.project.docker.image_history(self.image_name(service))

    def dockerfile(self, service: str) -> Path | None:
        """The Dockerfile the service builds from, None when it has no ``build:`` or the file is absent."""
        build = ((self.declared.get("services") or {}).get(service) or {}).get("build") or {}
        if not build.get("context"):
            return None
        path = Path(build["context"]) / str(build.get("dockerfile") or "Dockerfile")
        return path if path.is_file() else None

    def final_base(self, service: str) -> str | None:
        """The image the service's built stage starts from (stage names and build arguments
        followed): ``scratch``, a name as written, or None when it cannot be told."""
        path = self.dockerfile(service)
        if path is None:
            return None
        build = ((self.declared.get("services") or {}).get(service) or {}).get("build") or {}
        args = {str(k): None if v is None else str(v) for k, v in (build.get("args") or {}).items()}
        text = self._read(path).decode("utf-8", "replace")
        return dockerfile.final_base(
            dockerfile.parse(text, heredocs=True), args, str(build.get("target") or "")
        )

    def added_size(self, service: str) -> tuple[int, str | None]:
        """What the service's image adds over the image its final stage starts from, in bytes, and
        that base (the whole image when the base is unknown or not on the engine)."""
        size = self.image_size(service)
        base = self.final_base(service)
        if base is None:
            return size, None
        if base == "scratch":
            return size, base
        attrs = self.project.docker.image_attrs(base)
        return size - (int(attrs.get("Size", 0)) if attrs else 0), base

    def scan_image(self, service: str, needles: Iterable[bytes] = ()) -> ImageScan:
        """Every path of the service's image, and where each of ``needles`` appears in it: in its
        configuration and history, and in the files of the layers its build added over the image
        its final stage starts from (:meth:`base_layers`).

        The layers are read where the engine keeps them when this process can (a local engine),
        through ``docker save`` otherwise; both give the same answer."""
        wanted = [n for n in needles if n]
        attrs = self.image_attrs(service)
        docker = self.project.docker
        layers = [str(layer) for layer in (attrs.get("RootFS") or {}).get("Layers") or []]
        search_from = self.base_layers(service, layers)
        folders = docker.image_layer_folders(attrs)
        if folders is not None:
            history = docker.image_history(self.image_name(service)) if wanted else []
            try:
                return scan_layer_folders(
                    list(zip(layers, folders, strict=True)),
                    wanted,
                    search_from=search_from,
                    metadata=[*_strings({k: attrs.get(k) for k in _BUILT_METADATA}), *history],
                )
            except IncompleteScan:
                pass  # read it whole, as the engine exports it
        return scan_saved_image(docker.save_image(self.image_name(service)), wanted, search_from=search_from)

    def base_layers(self, service: str, layers: Sequence[str]) -> int:
        """How many of ``layers`` (the service's image's, lowest first) are those of the image its
        final stage starts from, when that image is one of Docker Hub's official images (or the
        grader's offline stand-in of one): layers that existed before this build, made by no
        student, so that no password of this grading nor one the submission wrote is in them
        but by chance. Zero when that image is ``scratch``, unknown, absent, not below this one,
        built by a grading, or anyone else's (a student's own published image is searched whole)."""
        base = self.final_base(service)
        if base is None or base == "scratch" or not dockerfile.official_image(base):
            return 0
        attrs = self.project.docker.image_attrs(base)
        if attrs is None or RUN_LABEL in ((attrs.get("Config") or {}).get("Labels") or {}):
            return 0
        below = [str(layer) for layer in (attrs.get("RootFS") or {}).get("Layers") or []]
        return len(below) if list(layers[: len(below)]) == below else 0

    def network_name(self, key: str) -> str:
        """The namespaced name of the project's network ``key``."""
        return str(self.project.model["networks"][key]["name"])

    def built_services(self) -> list[str]:
        return [name for name, spec in self.project.model["services"].items() if spec.get("build")]


#: What ``docker image inspect`` says that a build wrote, as the image's configuration in
#: ``docker save`` holds it (not the engine's own: its folders, the image's id and names).
_BUILT_METADATA = ("Config", "ContainerConfig", "Author", "Comment")


def _strings(value: Any) -> Iterator[str]:
    """Every string in ``value`` (``docker image inspect``'s answer), keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
