"""One grading of one submission: its parts as stacks, created on demand, cleaned up at the end."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from . import cgroups, layers
from .assignment import Assignment
from .buildcache import remove_build_caches
from .compose import ComposeProject, find_compose_file, normalize
from .compose_cli import ComposeCLI
from .docker_api import DockerAPI, ExecResult
from .errors import SpecError, SubmissionError
from .i18n import _
from .ownership import pid_alive
from .sandbox import wrap_dockerfile
from .target import Stack

FACTS_FILE = "facts.json"


class Grading:
    """Everything a check may ask about the submission under grading."""

    def __init__(
        self,
        *,
        submission: Path,
        name: str,
        assignment: Assignment,
        run_id: str,
        workdir: Path,
        docker: DockerAPI | None = None,
        cli: ComposeCLI | None = None,
        cgroup: cgroups.GradingCgroup | None = None,
    ) -> None:
        self.submission = submission
        self.name = name
        self.assignment = assignment
        self.run_id = run_id
        self.workdir = workdir
        self.docker = docker or DockerAPI()
        self._cli = cli
        self._stacks: dict[str, Stack] = {}
        #: The check running now (set by the plugin), and advice given by checks, by check id.
        self.current_check = ""
        self.advice: dict[str, list[str]] = {}
        #: Where in the submission each check's problems are ("file:line"), by check id.
        self.locations: dict[str, list[str]] = {}
        #: When recording the reference, the facts measured so far; None when grading.
        self.recorded: dict[str, Any] | None = None
        self._facts: dict[str, Any] | None = None
        self._network: str | None = None
        #: The grading's cgroup: made on first use, or the one the runner made for all the
        #: processes of one grading (its parts graded at the same time), then never removed here
        #: while the runner lives.
        self._cgroup = cgroup
        self._cgroup_shared = cgroup is not None
        self._cgroup_tried = cgroup is not None
        #: The checks that asked for each stack, and the containers already reported as oversized.
        self._stack_users: dict[str, set[str]] = {}
        self._oversized: set[str] = set()

    @property
    def cli(self) -> ComposeCLI:
        if self._cli is None:
            self._cli = ComposeCLI()
        return self._cli

    def project_name(self, part: str) -> str:
        return f"g{self.run_id}-{part}".lower()

    def part_dir(self, part: str) -> Path:
        spec = self.assignment.part(part)
        directory = self.submission / spec.directory
        if not directory.is_dir():
            raise SubmissionError(
                _("Le dossier « {folder}/ » est absent de la remise.").format(folder=spec.directory)
            )
        return directory

    def stack(self, part: str) -> Stack:
        """The part as a Compose project (built and started only when a check asks)."""
        if part not in self._stacks:
            self._stacks[part] = Stack(self._project(part), read=self.read_bytes)
        self._stack_users.setdefault(part, set()).add(self.current_check)
        return self._stacks[part]

    def _project(self, part: str) -> ComposeProject:
        spec = self.assignment.part(part)
        directory = self.part_dir(part)
        name = self.project_name(part)
        model: dict[str, Any]
        if spec.kind == "dockerfile":
            if not (directory / spec.dockerfile).is_file():
                raise SubmissionError(
                    _("Le fichier « {file} » est absent de la remise.").format(
                        file=f"{spec.directory}/{spec.dockerfile}"
                    )
                )
            model = wrap_dockerfile(directory, spec.dockerfile, part, spec.http_ports, dict(spec.volumes))
            return self._new_project(name, model, spec.http_ports, network=self._parts_network())
        compose_file = find_compose_file(directory)
        if compose_file is None:
            raise SubmissionError(
                _("Aucun fichier Compose (compose.yaml ou docker-compose.yml) dans « {folder}/ ».").format(
                    folder=spec.directory
                )
            )
        try:
            model = normalize(
                self.cli,
                compose_file,
                name,
                timeout=self.assignment.limits.command_timeout_s,
                root=self.submission,
                policy_allow=self.assignment.policy_allow,
            )
        except SubmissionError as exc:
            exc.locations = exc.locations or (compose_file.relative_to(self.submission).as_posix(),)
            raise
        return self._new_project(name, model, spec.http_ports)

    def _parts_network(self) -> str:
        """The one network of the projects the grader composes (created once, swept by label)."""
        if self._network is None:
            name = f"g{self.run_id}-grading"
            self.docker.create_network(name, self.run_id, internal=False)
            self._network = name
        return self._network

    def _new_project(
        self, name: str, model: dict[str, Any], http_ports: tuple[int, ...], network: str | None = None
    ) -> ComposeProject:
        return ComposeProject(
            name=name,
            source_model=model,
            root=self.submission,
            run_id=self.run_id,
            limits=self.assignment.limits,
            workdir=self.workdir,
            cli=self.cli,
            docker=self.docker,
            http_ports=http_ports,
            policy_allow=self.assignment.policy_allow,
            network=network,
            cgroup_parent=self.cgroup_parent(),
            advise=self.advise,
        )

    def custom_stack(self, key: str, model: dict[str, Any], http_ports: tuple[int, ...] = ()) -> Stack:
        """A project the grader composes itself (a probe, a variant of a part), namespaced alike."""
        if key not in self._stacks:
            project = self._new_project(self.project_name(key), model, http_ports, self._parts_network())
            self._stacks[key] = Stack(project, read=self.read_bytes)
        self._stack_users.setdefault(key, set()).add(self.current_check)
        return self._stacks[key]

    def advise(self, text: str) -> None:
        """Advice for the student on the running check, shown even when the check passes."""
        self.advice.setdefault(self.current_check, []).append(text)

    def locate(self, path: str, line: int | None = None) -> None:
        """Point the running check at a file (and line) of the submission, for CI annotations."""
        where = f"{path}:{line}" if line else path
        found = self.locations.setdefault(self.current_check, [])
        if where not in found:
            found.append(where)

    def cgroup_parent(self) -> str | None:
        """The cgroup all of this grading's containers share (made on first use), or None where the
        engine's cgroups cannot be managed from here (see :mod:`harness.cgroups`)."""
        if not self._cgroup_tried:
            self._cgroup_tried = True
            limits = self.assignment.limits
            if self.docker.manages_local_cgroups:
                self._cgroup = cgroups.create(self.run_id, limits.grading_memory_bytes, limits.grading_pids)
            if self._cgroup is None:
                print("grader: no cgroup for this grading: per-container limits only.", file=sys.stderr)
        return self._cgroup.parent if self._cgroup is not None else None

    def network(self, name: str) -> str:
        """A new internal network of this grading (``g<run>-<name>``), removed with everything else:
        for a probe that must stand outside the student's networks."""
        full = f"g{self.run_id}-{name}".lower()
        self.docker.create_network(full, self.run_id)
        return full

    def image_present(self, image: str) -> bool:
        return self.docker.image_attrs(image) is not None

    def pull(self, image: str) -> bool:
        """Pull ``image``: False when its registry answers that it has no such image; raises
        :class:`InfrastructureError` when the registry cannot be reached."""
        return self.docker.pull(image)

    def remove_image(self, image: str) -> None:
        """Remove an image this check pulled (a pulled image carries no grader label)."""
        self.docker.remove_image(image)

    def probe(self, image: str, *command: str, network: str | None = None) -> ExecResult:
        """Run a short-lived grader container from ``image`` (no network unless ``network``)."""
        return self.docker.run_probe(
            image, list(command), run_id=self.run_id, network=network, cgroup_parent=self.cgroup_parent()
        )

    def probes(self, image: str, *command: str, networks: Sequence[str | None]) -> list[ExecResult]:
        """:meth:`probe` once on each of ``networks``, all at the same time (a probe's time is
        mostly its container's start); the results in the order of ``networks``."""
        with ThreadPoolExecutor(max_workers=max(1, len(networks))) as pool:
            runs = [pool.submit(self.probe, image, *command, network=network) for network in networks]
            return [run.result() for run in runs]

    def oversized_layers(self) -> list[tuple[str, int, set[str]]]:
        """Containers of this grading that wrote more than the limit into their own layer, each
        reported once and stopped at once: (service, bytes, the checks that used its part).
        Measured from the host where the engine's layers can be seen."""
        if not self._stacks or not self.docker.manages_local_cgroups:
            return []
        limit = self.assignment.limits.container_layer_bytes
        users = {self.project_name(key): checks for key, checks in self._stack_users.items()}
        found = []
        for container_id, service, project, upper in self.docker.writable_layers(self.run_id):
            if container_id in self._oversized:
                continue
            used = layers.layer_usage(Path(upper), limit)
            if used > limit:
                self.docker.stop_now(container_id)
                self._oversized.add(container_id)
                found.append((service, used, set(users.get(project, ()))))
        return found

    # -- the private copy: every path proven inside it, links resolved, before each read and write --

    def private_path(self, path: Path | str) -> Path:
        """``path`` (absolute, or relative to the submission) with its links resolved, proven to
        lie inside the private copy; a path that leads out is the submission's doing."""
        root = self.submission.resolve()
        given = Path(path)
        real = (given if given.is_absolute() else self.submission / given).resolve()
        if real != root and root not in real.parents:
            raise SubmissionError(
                _(
                    "« {path} » mène hors de la remise (lien symbolique) : le correcteur ne le suit pas."
                ).format(path=given.name)
            )
        return real

    def read_bytes(self, path: Path | str) -> bytes:
        """The content of a file of the private copy."""
        fd = os.open(self.private_path(path), os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as handle:
            return handle.read()

    def write_bytes(self, path: Path | str, data: bytes, *, append: bool = False) -> None:
        """Write (or append to) a file of the private copy, never through a link."""
        flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
        fd = os.open(self.private_path(path), flags | getattr(os, "O_NOFOLLOW", 0), 0o644)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)

    def scratch_dir(self, name: str) -> Path:
        """A fresh folder inside the submission's private copy, for what the grader plants there."""
        scratch = self.submission / ".grader"
        if scratch.is_symlink() or (scratch.exists() and not scratch.is_dir()):
            raise SubmissionError(
                _(
                    "« .grader » est réservé au correcteur : retirez-le de la remise (c'est un lien ou un fichier)."
                )
            )
        scratch.mkdir(exist_ok=True)
        path = self.private_path(scratch / name)
        path.mkdir(exist_ok=False)
        return path

    def fact(self, key: str, measured: Any) -> Any:
        """The reference's value of ``key``; when recording the reference, ``measured`` becomes it."""
        if self.recorded is not None:
            self.recorded[key] = measured
            return measured
        facts = self.reference_facts()
        if key not in facts:
            raise SpecError(
                f"the reference fact {key!r} is not recorded: run `grader reference record --assignment {self.assignment.directory}`."
            )
        return facts[key]

    def reference_facts(self) -> dict[str, Any]:
        """The facts recorded from the reference solution (``facts.json``)."""
        if self._facts is None:
            # A student kit carries its facts beside its checks; the instructor's tree, in reference/.
            path = self.assignment.directory / FACTS_FILE
            if not path.is_file():
                path = self.assignment.reference_dir() / FACTS_FILE
            data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
            self._facts = dict(data.get("facts", {})) if isinstance(data, dict) else {}
        return self._facts

    def close(self) -> None:
        """Take every stack down, then sweep whatever else carries this run's label."""
        try:
            if self._stacks or self._cgroup is not None:
                self._take_down()
        finally:
            if self._cgroup is not None and not (self._cgroup_shared and pid_alive(self._cgroup.pid)):
                self._cgroup.remove()  # a shared one here only when its runner is gone

    def _take_down(self) -> None:
        projects = [stack.project for stack in self._stacks.values()]
        try:
            # The projects are independent: take them down together, not one after the other.
            if projects:
                with ThreadPoolExecutor(max_workers=len(projects)) as pool:
                    for outcome in [pool.submit(project.down, volumes=True) for project in projects]:
                        outcome.result()
        finally:
            self.docker.sweep(self.run_id)
            for volume in sorted(set().union(*(p.anonymous_volumes for p in projects))):
                self.docker.remove_volume(volume)
            remove_build_caches(self.docker, self.run_id)
