"""The only module that imports the Docker SDK; its errors become :mod:`harness.errors`.

Grading talks to the engine two ways: Compose v2 as a subprocess (:mod:`harness.compose`)
for what Compose owns (build, up, down), and this module for inspection and control.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import docker
import docker.errors
import requests

from .errors import DaemonUnavailable, EngineCapacity, GraderTimeout, InfrastructureError
from .ownership import OWNER_LABEL, RUN_LABEL, SESSION_LABEL, owner_alive, run_labels

__all__ = ["RUN_LABEL", "ContainerState", "DockerAPI", "ExecResult", "Leftovers"]
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"

P = ParamSpec("P")
T = TypeVar("T")


@contextmanager
def _translated() -> Iterator[None]:
    """Map the SDK's and requests' exceptions into the grader's tree (NotFound is left to callers)."""
    try:
        yield
    except docker.errors.APIError as exc:
        if EngineCapacity.found_in(str(exc)):
            raise EngineCapacity() from exc
        if isinstance(exc, docker.errors.NotFound):
            raise
        raise InfrastructureError(f"the Docker engine refused a request: {exc}") from exc
    except requests.exceptions.Timeout as exc:
        raise GraderTimeout(f"the Docker engine did not answer in time ({exc}).") from exc
    except (requests.exceptions.ConnectionError, ConnectionError, FileNotFoundError) as exc:
        raise DaemonUnavailable(
            "the Docker engine does not answer: start Docker (dockerd or Docker Desktop) and grade again."
        ) from exc
    except docker.errors.DockerException as exc:
        raise InfrastructureError(f"the Docker engine refused a request: {exc}") from exc


def _local_socket() -> bool:
    """Whether the engine is reached through a local socket (``DOCKER_HOST`` unset or ``unix://``),
    the first condition for anything the grader does to the engine's host from its own."""
    host = os.environ.get("DOCKER_HOST", "")
    return not host or host.startswith("unix://")


def _boundary(method: Callable[P, T]) -> Callable[P, T]:
    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        with _translated():
            return method(*args, **kwargs)

    return wrapper


@dataclass(frozen=True)
class ContainerState:
    id: str
    name: str
    service: str
    status: str  # created, running, restarting, exited, dead, paused
    exit_code: int
    oom_killed: bool
    health: str  # "" when the container has no healthcheck
    restart_count: int
    ports: dict[int, int]  # container tcp port -> host port on 127.0.0.1

    @property
    def finished(self) -> bool:
        return self.status in ("exited", "dead")


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    output: str


@dataclass(frozen=True)
class Leftovers:
    containers: list[str]
    networks: list[str]
    volumes: list[str]
    images: list[str]

    def __bool__(self) -> bool:
        return bool(self.containers or self.networks or self.volumes or self.images)


def _state_from_attrs(attrs: dict[str, Any]) -> ContainerState:
    state = attrs.get("State", {})
    ports: dict[int, int] = {}
    for key, bindings in (attrs.get("NetworkSettings", {}).get("Ports") or {}).items():
        port, _, proto = key.partition("/")
        for binding in bindings or []:
            if proto == "tcp" and binding.get("HostIp") == "127.0.0.1":  # the sandbox publishes there only
                ports.setdefault(int(port), int(binding["HostPort"]))
    labels = attrs.get("Config", {}).get("Labels") or {}
    return ContainerState(
        id=attrs["Id"],
        name=attrs.get("Name", "").lstrip("/"),
        service=labels.get(SERVICE_LABEL, ""),
        status=state.get("Status", ""),
        exit_code=int(state.get("ExitCode", 0)),
        oom_killed=bool(state.get("OOMKilled", False)),
        health=(state.get("Health") or {}).get("Status", ""),
        restart_count=int(attrs.get("RestartCount", 0)),
        ports=ports,
    )


class DockerAPI:
    """Inspection and control of the engine, with errors from :mod:`harness.errors`."""

    def __init__(self, client: Any | None = None, *, timeout: float = 60.0) -> None:
        self._client = client
        self._timeout = timeout

    @property
    def client(self) -> Any:
        if self._client is None:
            with _translated():
                self._client = docker.from_env(timeout=self._timeout)
        return self._client

    def close(self) -> None:
        """Close the connections to the engine (a client is reopened on the next call)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    @_boundary
    def ping(self) -> None:
        self.client.ping()

    @functools.cached_property
    def manages_local_cgroups(self) -> bool:
        """Whether this process can place the engine's containers in cgroups it creates itself:
        a local engine (same kernel) with the ``cgroupfs`` driver, not Docker Desktop's VM."""
        if not _local_socket():
            return False
        with _translated():
            info = self.client.info()
        return info.get("CgroupDriver") == "cgroupfs" and "Desktop" not in str(info.get("OperatingSystem"))

    def _container_ids(self, label: str) -> list[str]:
        """Ids of the containers with ``label``, listed without inspecting each one: a container
        removed meanwhile (by Compose, by another grading's sweep) cannot make the listing fail."""
        return [str(c["Id"]) for c in self.client.api.containers(all=True, filters={"label": label})]

    @_boundary
    def project_containers(self, project: str) -> list[ContainerState]:
        states = (self.container_state(cid) for cid in self._container_ids(f"{PROJECT_LABEL}={project}"))
        return [state for state in states if state is not None]

    @_boundary
    def project_networks(self, project: str) -> list[str]:
        return [n.name for n in self.client.networks.list(filters={"label": f"{PROJECT_LABEL}={project}"})]

    @_boundary
    def container_state(self, container_id: str) -> ContainerState | None:
        try:
            return _state_from_attrs(self.client.api.inspect_container(container_id))
        except docker.errors.NotFound:
            return None

    @_boundary
    def inspect_container(self, container_id: str) -> dict[str, Any]:
        return dict(self.client.api.inspect_container(container_id))

    def health(self, container_id: str) -> tuple[str, list[tuple[int, str]]]:
        """The container's health status ("" without a healthcheck) and its last probes, each
        (exit code, output)."""
        health = (self.inspect_container(container_id).get("State") or {}).get("Health") or {}
        probes = [
            (int(entry.get("ExitCode", -1)), str(entry.get("Output") or "").strip())
            for entry in health.get("Log") or []
        ]
        return str(health.get("Status") or ""), probes

    @_boundary
    def process_uid(self, container_id: str) -> int:
        """The user id of the container's main process as the kernel sees it (``docker top``), -1
        when it is not running."""
        main = str((self.client.api.inspect_container(container_id).get("State") or {}).get("Pid") or "")
        top = self.client.api.top(container_id, ps_args="-o pid,uid")
        titles = [str(t).upper() for t in top.get("Titles") or []]
        for row in top.get("Processes") or []:
            fields = dict(zip(titles, row, strict=False))
            if str(fields.get("PID")) == main and str(fields.get("UID", "")).isdigit():
                return int(fields["UID"])
        return -1

    @_boundary
    def writable_layers(self, run_id: str) -> list[tuple[str, str, str, str]]:
        """(container id, service, Compose project, host folder of its writable layer: overlay2's
        UpperDir) for the run's containers; empty where the engine does not say (another driver, a VM)."""
        layers = []
        for container_id in self._container_ids(f"{RUN_LABEL}={run_id}"):
            try:
                attrs = self.client.api.inspect_container(container_id)
            except docker.errors.NotFound:
                continue
            upper = ((attrs.get("GraphDriver") or {}).get("Data") or {}).get("UpperDir")
            labels = attrs.get("Config", {}).get("Labels") or {}
            service = str(labels.get(SERVICE_LABEL) or attrs.get("Name", container_id)).lstrip("/")
            if upper:
                layers.append((container_id, service, str(labels.get(PROJECT_LABEL, "")), str(upper)))
        return sorted(layers)

    @_boundary
    def build_cache_records(self) -> list[dict[str, Any]]:
        """The build cache's records (``GET /system/df``), asked again while another listing runs."""
        for attempt in range(5):
            try:
                usage = self.client.api.df()
                break
            except docker.errors.APIError as exc:
                if "already running" not in str(exc) or attempt == 4:
                    raise
                time.sleep(0.5 * (attempt + 1))
        return list(usage.get("BuildCache") or [])

    @_boundary
    def remove_build_cache_record(self, record_id: str) -> list[str]:
        """Remove one build cache record; return the ids removed. The id filter is a regular
        expression on Docker 20.10: anchored, it names that record and no other."""
        answer = self.client.api.prune_builds(filters={"id": [f"^{record_id}$"]})
        return [str(found) for found in (answer or {}).get("CachesDeleted") or []]

    @_boundary
    def stop_now(self, name: str) -> None:
        """Kill a container at once (it stays, for its logs, until the run is swept)."""
        try:
            self.client.api.kill(name)
        except docker.errors.APIError as exc:
            if exc.status_code not in (404, 409):  # gone, or not running: stopped either way
                raise

    @_boundary
    def logs(self, container_id: str, tail: int = 20) -> str:
        try:
            raw = self.client.api.logs(container_id, tail=tail, stdout=True, stderr=True)
        except docker.errors.NotFound:
            return ""
        return bytes(raw).decode("utf-8", "replace")

    @_boundary
    def exec(self, container_id: str, command: list[str], *, user: str = "") -> ExecResult:
        exit_code, output = self.client.containers.get(container_id).exec_run(command, user=user, demux=False)
        return ExecResult(exit_code=int(exit_code), output=bytes(output or b"").decode("utf-8", "replace"))

    @_boundary
    def image_attrs(self, reference: str) -> dict[str, Any] | None:
        try:
            return dict(self.client.api.inspect_image(reference))
        except docker.errors.NotFound:
            return None

    @staticmethod
    def image_layer_folders(attrs: dict[str, Any]) -> list[Path] | None:
        """The host folders of an image's layers, lowest first, as ``docker image inspect`` names
        them (overlay2's ``LowerDir`` and ``UpperDir``), when this process can read them: a local
        engine whose driver is overlay2, one folder per layer. None otherwise (a remote engine,
        Docker Desktop's VM, another driver, the containerd image store, a grader without the
        rights): the image is then read through ``docker save``."""
        if not _local_socket():
            return None
        driver = attrs.get("GraphDriver") or {}
        if driver.get("Name") != "overlay2":
            return None
        data = driver.get("Data") or {}
        lower = [part for part in str(data.get("LowerDir") or "").split(":") if part]
        upper = str(data.get("UpperDir") or "")
        folders = [Path(p) for p in [*reversed(lower), upper] if p]
        layers = (attrs.get("RootFS") or {}).get("Layers") or []
        if not upper or len(folders) != len(layers):
            return None
        for folder in folders:
            if not (folder.is_absolute() and folder.is_dir() and os.access(folder, os.R_OK | os.X_OK)):
                return None
        return folders

    @_boundary
    def image_history(self, reference: str) -> list[str]:
        """The build history of an image: each layer's ``CreatedBy`` line, untruncated."""
        return [str(h.get("CreatedBy", "")) for h in self.client.api.history(reference)]

    def save_image(self, reference: str) -> Iterator[bytes]:
        """The image as ``docker save`` streams it (a tar of layers and config). The engine's errors
        are translated while the stream is read, not only when it is asked for."""
        with _translated():
            yield from self.client.api.get_image(reference)

    def pull(self, reference: str) -> bool:
        """Pull ``reference``; False when the registry answers that it has no such image.

        Raises :class:`InfrastructureError` when the registry cannot be reached.
        """
        with _translated():
            try:
                self.client.images.pull(reference)
            except docker.errors.NotFound:
                return False
            except docker.errors.APIError as exc:
                text = str(exc).lower()
                if "not found" in text or "manifest unknown" in text or "does not exist" in text:
                    return False
                raise InfrastructureError(f"the registry of {reference} cannot be reached: {exc}") from exc
        return True

    @_boundary
    def remove_volume(self, name: str) -> None:
        _ignore_missing(self.client.api.remove_volume, name, force=True)

    @_boundary
    def remove_image(self, reference: str) -> None:
        _ignore_missing(self.client.api.remove_image, reference, force=True)

    @_boundary
    def create_network(self, name: str, run_id: str, *, internal: bool = True) -> str:
        network = self.client.networks.create(name, labels=run_labels(run_id), internal=internal)
        return str(network.id)

    @_boundary
    def run_probe(
        self,
        image: str,
        command: list[str],
        *,
        run_id: str,
        network: str | None = None,
        timeout: float = 60.0,
        cgroup_parent: str | None = None,
    ) -> ExecResult:
        """Run a short-lived grader container (labelled, limited) and return its exit code and output."""
        container = self.client.containers.run(
            image,
            command,
            detach=True,
            network=network or "none",
            labels=run_labels(run_id),
            mem_limit="128m",
            pids_limit=64,
            security_opt=["no-new-privileges:true"],
            # Names Docker cannot resolve are asked of a resolver that is not there, never of the
            # host's, and given up on at once (the default retries make a miss take 20 s).
            dns=["127.0.0.1"],
            dns_opt=["timeout:1", "attempts:1"],
            **({"cgroup_parent": cgroup_parent} if cgroup_parent else {}),
        )
        try:
            try:
                status = container.wait(timeout=timeout)
            except requests.exceptions.ReadTimeout as exc:
                raise GraderTimeout(f"a probe container did not finish within {timeout:.0f} s.") from exc
            output = bytes(container.logs(stdout=True, stderr=True)).decode("utf-8", "replace")
            return ExecResult(exit_code=int(status.get("StatusCode", -1)), output=output)
        finally:
            _ignore_missing(container.remove, force=True)

    @_boundary
    def run_containers(self, run_id: str) -> list[ContainerState]:
        """The containers one run left running (``--keep``), with their published ports."""
        states = (self.container_state(cid) for cid in self._container_ids(f"{RUN_LABEL}={run_id}"))
        return sorted((s for s in states if s is not None), key=lambda s: s.name)

    @_boundary
    def leftovers(self, run_id: str | None = None, *, session: str | None = None) -> Leftovers:
        """What still carries the grader's label: of one run, of one session, or of any run."""
        if run_id:
            label = f"{RUN_LABEL}={run_id}"
        elif session:
            label = f"{SESSION_LABEL}={session}"
        else:
            label = RUN_LABEL
        flt = {"label": label}
        return Leftovers(
            containers=self._container_ids(label),
            networks=[n.id for n in self.client.networks.list(filters=flt)],
            volumes=[v.name for v in self.client.volumes.list(filters=flt)],
            images=[str(i["Id"]) for i in self._images(flt)],
        )

    def _images(self, filters: dict[str, str]) -> list[dict[str, Any]]:
        """``GET /images/json``, as it lists them: the SDK's ``images.list`` inspects each image
        afterwards, and one removed in between (another grading's) would fail the whole listing."""
        return list(self.client.api.images(filters=filters))

    @_boundary
    def run_owners(self) -> dict[str, str]:
        """Every run that has something on the engine, with its owner ("" when unlabelled)."""
        flt = {"label": RUN_LABEL}
        labels: list[dict[str, str]] = [
            c.get("Labels") or {} for c in self.client.api.containers(all=True, filters=flt)
        ]
        labels += [n.attrs.get("Labels") or {} for n in self.client.networks.list(filters=flt)]
        labels += [v.attrs.get("Labels") or {} for v in self.client.volumes.list(filters=flt)]
        labels += [i.get("Labels") or {} for i in self._images(flt)]
        owners: dict[str, str] = {}
        for found in labels:
            run = found.get(RUN_LABEL, "")
            if run and (run not in owners or not owners[run]):
                owners[run] = found.get(OWNER_LABEL, "")
        return owners

    def orphaned_runs(self) -> tuple[list[str], list[str]]:
        """(runs whose owner process is gone, runs still owned by a live grader)."""
        orphans: list[str] = []
        live: list[str] = []
        for run, owner in sorted(self.run_owners().items()):
            (live if owner_alive(owner) else orphans).append(run)
        return orphans, live

    @_boundary
    def sweep(self, run_id: str = "", *, session: str = "") -> Leftovers:
        """Remove everything of the run ``run_id`` (or of the session); return what was removed."""
        if not (run_id or session):
            raise ValueError("sweep() removes one run or one session's runs: name it")
        found = self.leftovers(run_id, session=session)
        api = self.client.api
        # Containers first: networks, volumes and images in use cannot be removed.
        for container_id in found.containers:
            _ignore_missing(api.remove_container, container_id, force=True, v=True)
        for network_id in found.networks:
            _ignore_missing(api.remove_network, network_id)
        for volume in found.volumes:
            _ignore_missing(api.remove_volume, volume, force=True)
        for image_id in found.images:
            _ignore_missing(api.remove_image, image_id, force=True)
        return found

    # -- images had once per batch, saved and loaded (harness.base_images, grader images) ----------
    # The SDK's pull, save and load have no time limit, one name per archive, and no status
    # check: these go one level down to the engine's own endpoints.

    def pull_within(self, reference: str, timeout_s: float) -> str:
        """Pull ``reference``, giving up after about ``timeout_s``; "" once it is pulled, else what
        the engine answered (for :func:`harness.pulls.classify`). Raises :class:`GraderTimeout`."""
        api = self.client.api
        repository, tag = docker.utils.parse_repository_tag(reference)
        registry, _name = docker.auth.resolve_repository_name(repository)
        header = docker.auth.get_config_header(api, registry)
        deadline = time.monotonic() + timeout_s
        with _translated():
            response = api._post(
                api._url("/images/create"),
                params={"fromImage": repository, "tag": tag or "latest"},
                headers={"X-Registry-Auth": header} if header else {},
                stream=True,
                timeout=timeout_s,  # each read: a registry that sends nothing ends the pull too
            )
            try:
                api._raise_for_status(response)
                for event in api._stream_helper(response, decode=True):
                    if isinstance(event, dict) and event.get("error"):
                        return str(event["error"])
                    if time.monotonic() > deadline:
                        raise GraderTimeout(f"pulling {reference} took more than {timeout_s:.0f} s.")
            except docker.errors.APIError as exc:
                return str(exc.explanation or exc)
            except GraderTimeout:
                raise
            except Exception as exc:  # a read that timed out or a cut stream, in urllib3's or requests' words
                raise GraderTimeout(f"pulling {reference} stopped answering: {exc}") from exc
            finally:
                response.close()
        return ""

    @_boundary
    def tag_image(self, source: str, target: str) -> None:
        repository, tag = docker.utils.parse_repository_tag(target)
        self.client.api.tag(source, repository, tag or "latest", force=True)

    def save_images(self, references: list[str], target: Any) -> None:
        """``docker save`` of every reference, as one archive, written into the binary file ``target``."""
        api = self.client.api
        with _translated():
            response = api._get(api._url("/images/get"), params={"names": references}, stream=True)
            for chunk in api._stream_raw_result(response, 1 << 20, False):
                target.write(chunk)

    def load_images(self, archive: Any) -> list[str]:
        """``docker load`` of the binary file ``archive``; the names it loaded."""
        api = self.client.api
        loaded: list[str] = []
        with _translated():
            # No read time limit: the engine answers once it has read and stored the whole archive.
            response = api._post(api._url("/images/load"), data=archive, stream=True, timeout=None)
            api._raise_for_status(response)
            for event in api._stream_helper(response, decode=True):
                if isinstance(event, dict) and event.get("error"):
                    raise InfrastructureError(f"docker load refused the archive: {event['error']}")
                for line in str(event.get("stream", "") if isinstance(event, dict) else "").splitlines():
                    for prefix in ("Loaded image:", "Loaded image ID:"):
                        if line.startswith(prefix):
                            loaded.append(line[len(prefix) :].strip())
        return loaded


def _ignore_missing(action: Callable[..., object], *args: object, **kwargs: object) -> None:
    """Run a removal; something already gone (removed by Compose meanwhile) is fine."""
    try:
        action(*args, **kwargs)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        # "removal already in progress" and "is being used" races end the same way on the next sweep.
        if exc.status_code not in (404, 409):
            raise
