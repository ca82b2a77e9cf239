"""Submissions (folder, .zip, .tar.gz, bare git repository) become private working copies.

Nothing from the submission is trusted: entries that would land outside the copy
(``../``, absolute paths, links leading outside), special files, and copies over the
size or file-count limit are refused with an :class:`IntakeError` that says why.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import tarfile
import tempfile
import zipfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .assignment import IntakeLimits
from .errors import IntakeError
from .i18n import _

ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")
#: Left out of every copy: a student's VCS metadata is not part of the submission's build.
SKIPPED_NAMES = frozenset({".git"})


def submission_name(source: Path) -> str:
    """The name a submission is known by: its file or folder name without archive suffix."""
    name = source.name
    for suffix in (*ARCHIVE_SUFFIXES, ".git"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def is_submission(path: Path) -> bool:
    """Whether ``path`` (an entry of a class folder) looks like a submission."""
    if path.name.startswith("."):
        return False
    return path.is_dir() or path.name.endswith(ARCHIVE_SUFFIXES)


@dataclass
class _Budget:
    limits: IntakeLimits
    files: int = 0
    bytes: int = 0

    def add(self, size: int) -> None:
        self.files += 1
        self.bytes += size
        if self.files > self.limits.max_files:
            raise IntakeError(
                _("La remise contient plus de {n} fichiers : retirez les fichiers inutiles.").format(
                    n=self.limits.max_files
                )
            )
        if self.bytes > self.limits.max_bytes:
            raise IntakeError(
                _(
                    "La remise dépasse {mb} Mo : retirez les gros fichiers (images, archives, binaires)."
                ).format(mb=self.limits.max_bytes // (1024 * 1024))
            )


def _safe_relative(name: str) -> PurePosixPath:
    """The archive entry ``name`` as a relative path, or an IntakeError if it points outside."""
    normalized = name.replace("\\", "/")
    path = PurePosixPath(normalized)
    if normalized.startswith("/") or (len(normalized) > 1 and normalized[1] == ":"):
        raise IntakeError(_("L'archive contient un chemin absolu ({name}) : refusée.").format(name=name))
    if ".." in path.parts:
        raise IntakeError(
            _("L'archive contient un chemin qui sort de la remise ({name}) : refusée.").format(name=name)
        )
    return PurePosixPath(*[p for p in path.parts if p not in ("", ".")])


def _check_link(link: PurePosixPath, target: str) -> None:
    """Refuse a symbolic link at ``link`` (relative to the root) whose ``target`` leaves the root."""
    if target.startswith("/"):
        raise IntakeError(
            _("Le lien symbolique {link} pointe vers un chemin absolu ({target}) : refusé.").format(
                link=link, target=target
            )
        )
    depth = len(link.parts) - 1
    for part in PurePosixPath(target).parts:
        depth += -1 if part == ".." else (0 if part == "." else 1)
        if depth < 0:
            raise IntakeError(
                _("Le lien symbolique {link} sort de la remise ({target}) : refusé.").format(
                    link=link, target=target
                )
            )


def _copy_tree(source: Path, dest: Path, budget: _Budget) -> None:
    for dirpath, dirnames, filenames in os.walk(source, followlinks=False):
        here = Path(dirpath)
        rel_dir = here.relative_to(source)
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_NAMES)
        (dest / rel_dir).mkdir(parents=True, exist_ok=True)
        for name in sorted(filenames) + [d for d in dirnames if (here / d).is_symlink()]:
            src = here / name
            rel = PurePosixPath(*rel_dir.parts, name)
            mode = src.lstat().st_mode
            if stat.S_ISLNK(mode):
                target = str(src.readlink())
                _check_link(rel, target)
                (dest / rel).symlink_to(target)
                budget.add(0)
            elif stat.S_ISREG(mode):
                budget.add(src.lstat().st_size)
                shutil.copy2(src, dest / rel, follow_symlinks=False)
            else:
                raise IntakeError(
                    _("La remise contient un fichier spécial ({name}) : refusée.").format(name=rel)
                )
        # A symlinked directory was handled as a link above; do not descend into it.
        dirnames[:] = [d for d in dirnames if not (here / d).is_symlink()]


def _write_member(dest: Path, rel: PurePosixPath, stream: object, size_hint: int, budget: _Budget) -> None:
    budget.add(size_hint)
    target = dest / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with target.open("wb") as out:
        while chunk := stream.read(1 << 20):  # type: ignore[attr-defined]
            written += len(chunk)
            if written > size_hint:  # the archive lied about the size: count what is really written
                budget.add(len(chunk))
            out.write(chunk)


def _extract_zip(source: Path, dest: Path, budget: _Budget) -> None:
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise IntakeError(_("L'archive zip est illisible : {error}.").format(error=exc)) from exc
    with archive:
        for info in archive.infolist():
            rel = _safe_relative(info.filename)
            if not rel.parts or rel.parts[0] in SKIPPED_NAMES:
                continue
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                target = archive.read(info).decode("utf-8", "replace")
                _check_link(rel, target)
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                (dest / rel).symlink_to(target)
                budget.add(0)
            elif info.is_dir():
                (dest / rel).mkdir(parents=True, exist_ok=True)
            else:
                with archive.open(info) as stream:
                    _write_member(dest, rel, stream, info.file_size, budget)


def _extract_tar(source: Path, dest: Path, budget: _Budget) -> None:
    try:
        archive = tarfile.open(source)  # noqa: SIM115 (closed by the `with` below)
    except (tarfile.TarError, OSError) as exc:
        raise IntakeError(_("L'archive tar est illisible : {error}.").format(error=exc)) from exc
    with archive:
        for member in archive:
            rel = _safe_relative(member.name)
            if not rel.parts or rel.parts[0] in SKIPPED_NAMES:
                continue
            if member.issym():
                _check_link(rel, member.linkname)
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                (dest / rel).symlink_to(member.linkname)
                budget.add(0)
            elif member.islnk():
                raise IntakeError(
                    _("L'archive contient un lien physique ({name}) : refusée.").format(name=member.name)
                )
            elif member.isdir():
                (dest / rel).mkdir(parents=True, exist_ok=True)
            elif member.isfile():
                stream = archive.extractfile(member)
                assert stream is not None
                with stream:
                    _write_member(dest, rel, stream, member.size, budget)
            else:
                raise IntakeError(
                    _("L'archive contient un fichier spécial ({name}) : refusée.").format(name=member.name)
                )


def _is_bare_git(path: Path) -> bool:
    return path.is_dir() and (path / "HEAD").is_file() and (path / "objects").is_dir()


def _clone_git(source: Path, dest: Path, budget: _Budget) -> None:
    with tempfile.TemporaryDirectory(prefix="grader-clone-") as tmp:
        clone = Path(tmp) / "repo"
        try:
            subprocess.run(
                ["git", "clone", "--quiet", "--no-hardlinks", str(source), str(clone)],
                check=True,
                capture_output=True,
                timeout=120,
                env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1"},
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise IntakeError(_("Le dépôt git ne peut pas être cloné : {error}.").format(error=exc)) from exc
        _copy_tree(clone, dest, budget)


def _unwrap_single_folder(root: Path, part_names: Collection[str]) -> Path:
    """An archive holding one folder (``alice/siteweb/...``) is that folder's content,
    unless that folder is itself a part of the assignment (``siteweb/...``)."""
    entries = [e for e in root.iterdir() if e.name not in ("__MACOSX",)]
    single = entries[0] if len(entries) == 1 else None
    if single is not None and single.is_dir() and not single.is_symlink() and single.name not in part_names:
        return single
    return root


def intake(source: Path, dest: Path, limits: IntakeLimits, part_names: Collection[str] = ()) -> Path:
    """Copy ``source`` into the empty folder ``dest``; return the submission's root inside it.

    ``part_names`` are the folders a submission is expected to hold at its root.
    """
    if not source.exists():
        raise IntakeError(_("La remise {path} n'existe pas.").format(path=source))
    budget = _Budget(limits)
    root = dest / "submission"
    root.mkdir(parents=True)
    name = source.name.lower()
    if source.is_file() and name.endswith(".zip"):
        _extract_zip(source, root, budget)
    elif source.is_file() and name.endswith((".tar.gz", ".tgz", ".tar")):
        _extract_tar(source, root, budget)
    elif _is_bare_git(source):
        _clone_git(source, root, budget)
    elif source.is_dir():
        _copy_tree(source, root, budget)
    else:
        raise IntakeError(
            _(
                "Format de remise inconnu ({name}) : donnez un dossier, un .zip, un .tar.gz ou un dépôt git."
            ).format(name=source.name)
        )
    if not any(root.iterdir()):
        raise IntakeError(_("La remise est vide."))
    return _unwrap_single_folder(root, part_names) if source.is_file() else root


#: A top-level entry of Moodle's "download all submissions" zip: "<Full name>_<id>_assignsubmission_<plugin>_".
_MOODLE_ENTRY = re.compile(r"^(?P<student>[^/]+?)_(?P<id>\d+)_assignsubmission_(?P<plugin>[a-z]+)_(?:/|$)")


def is_moodle_export(path: Path) -> bool:
    """Whether ``path`` is a Moodle "download all submissions" zip (one folder per student)."""
    if not (path.is_file() and path.name.endswith(".zip")):
        return False
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.strip("/")]
    except (zipfile.BadZipFile, OSError):
        return False
    return bool(names) and all(_MOODLE_ENTRY.match(n) for n in names)


def expand_moodle_export(export: Path, dest: Path, limits: IntakeLimits) -> list[Path]:
    """Split a Moodle export into one submission per student, named "<Full name>_<id>".

    A student who handed in a single archive becomes that archive; otherwise their folder.
    Online-text answers are left out: they are not part of a build. The whole export is
    extracted with the same safety rules as a submission, its limits scaled by the class size.
    """
    with zipfile.ZipFile(export) as archive:
        students = {m["id"] for n in archive.namelist() if (m := _MOODLE_ENTRY.match(n))}
    class_limits = IntakeLimits(
        max_bytes=limits.max_bytes * max(1, len(students)), max_files=limits.max_files * max(1, len(students))
    )
    raw = dest / ".raw"
    shutil.rmtree(dest, ignore_errors=True)
    raw.mkdir(parents=True)
    _extract_zip(export, raw, _Budget(class_limits))
    sources: list[Path] = []
    for entry in sorted(raw.iterdir()):
        found = _MOODLE_ENTRY.match(entry.name + "/")
        if found is None or found["plugin"] != "file" or not entry.is_dir():
            continue
        name = f"{found['student']}_{found['id']}"
        files = [p for p in entry.iterdir() if not p.name.startswith(".")]
        if len(files) == 1 and files[0].is_file() and files[0].name.endswith(ARCHIVE_SUFFIXES):
            suffix = next(s for s in ARCHIVE_SUFFIXES if files[0].name.endswith(s))
            target = dest / f"{name}{suffix}"
        else:
            files, target = [entry], dest / name
        files[0].rename(target)
        sources.append(target)
    shutil.rmtree(raw)
    return sources
