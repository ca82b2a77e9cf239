"""What a check reaches: a running part (:class:`Stack`) and its services.

The facade hides the plumbing (Compose, the SDK, ports) so that a check reads like a
sentence. HTTP only ever goes to 127.0.0.1, on the ports the sandbox published.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import requests

from .compose import ComposeProject
from .docker_api import ContainerState, ExecResult
from .errors import ServiceNotReady
from .i18n import _
from .images import ImageScan, scan_saved_image

LOOPBACK = "127.0.0.1"


def http_answers(host_port: int, path: str = "/", timeout: float = 2.0) -> bool:
    """Whether anything answers HTTP on 127.0.0.1:``host_port`` (any status counts)."""
    try:
        requests.get(f"http://{LOOPBACK}:{host_port}{path}", timeout=timeout)
    except requests.RequestException:
        return False
    return True


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes
    headers: dict[str, str]

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        import json

        return json.loads(self.body.decode("utf-8"))


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
        """An HTTP request to the service's ``port``; a refused connection is retried briefly."""
        url = f"http://{LOOPBACK}:{self.host_port(port)}{path}"
        for attempt in range(retries + 1):
            try:
                response = requests.request(method, url, timeout=timeout, **kwargs)
            except requests.RequestException as exc:
                if attempt == retries:
                    raise ServiceNotReady(
                        _("Le service « {service} » ne répond pas sur le port {port} : {error}").format(
                            service=self.name, port=port, error=type(exc).__name__
                        )
                    ) from exc
                time.sleep(0.5 * (attempt + 1))
                continue
            return HttpResponse(response.status_code, response.content, dict(response.headers))
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

    def scan_image(self, service: str, needles: Iterable[bytes] = ()) -> ImageScan:
        """Every path of the service's image, and where each of ``needles`` appears in it."""
        self.build()
        return scan_saved_image(self.project.docker.save_image(self.image_name(service)), needles)

    def network_name(self, key: str) -> str:
        """The namespaced name of the project's network ``key``."""
        return str(self.project.model["networks"][key]["name"])

    def built_services(self) -> list[str]:
        return [name for name, spec in self.project.model["services"].items() if spec.get("build")]
