"""What a check reaches: a running part (:class:`Stack`) and its services.

The facade hides the plumbing (Compose, the SDK, ports) so that a check reads like a
sentence. HTTP only ever goes to 127.0.0.1, on the ports the sandbox published, through
:mod:`harness.http_client` (bounded in time, size and depth).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from . import http_client
from .compose import ComposeProject
from .docker_api import ContainerState, ExecResult
from .errors import ServiceNotReady, SubmissionError
from .http_client import LOOPBACK, HttpResponse
from .i18n import _
from .images import ImageScan, scan_saved_image

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


class Stack:
    """A submission part as a Compose project: built and started on demand, once."""

    def __init__(self, project: ComposeProject) -> None:
        self.project = project

    @property
    def source_model(self) -> dict[str, Any]:
        return self.project.source_model

    def build(self) -> Stack:
        self.project.build()
        return self

    def up(self) -> Stack:
        self.project.up()
        return self

    def service(self, name: str) -> Service:
        if name not in self.project.model["services"]:
            raise ServiceNotReady(_("Le projet n'a pas de service « {service} ».").format(service=name))
        return Service(self, name)

    def image_name(self, service: str) -> str:
        return str(self.project.model["services"][service].get("image", ""))

    def image_attrs(self, service: str) -> dict[str, Any]:
        """``docker image inspect`` of the service's image (built first if needed)."""
        self.build()
        attrs = self.project.docker.image_attrs(self.image_name(service))
        if attrs is None:
            raise ServiceNotReady(
                _("L'image du service « {service} » est introuvable.").format(service=service)
            )
        return attrs

    def image_size(self, service: str) -> int:
        return int(self.image_attrs(service).get("Size", 0))

    def base_image_size(self, base: str) -> int | None:
        """The size of the image a final stage starts from (0 for ``scratch``), None when it is
        not on the engine (builds pull their bases, so it is there after a build)."""
        if base == "scratch":
            return 0
        attrs = self.project.docker.image_attrs(base)
        return None if attrs is None else int(attrs.get("Size", 0))

    def scan_image(self, service: str, needles: Iterable[bytes] = ()) -> ImageScan:
        """Every path of the service's image, and where each of ``needles`` appears in it."""
        self.build()
        return scan_saved_image(self.project.docker.save_image(self.image_name(service)), needles)

    def network_name(self, key: str) -> str:
        """The namespaced name of the project's network ``key``."""
        return str(self.project.model["networks"][key]["name"])

    def built_services(self) -> list[str]:
        return [name for name, spec in self.project.model["services"].items() if spec.get("build")]
