"""Hostile submissions against intake, made at run time: archives whose links climb out of the
private copy, broken zips, a git repository whose checkout is far over the size limit or that
names the host's repository as its own, a zip directory of 100,000 entries.

Each is the good submission (``cases/good``) plus its trick, so that only the trick can fail it.
``OUTSIDE_PATHS`` are the host files the tricks try to create: none may exist after grading.
"""

from __future__ import annotations

import io
import struct
import subprocess
import tarfile
import tempfile
import zipfile
from pathlib import Path

GOOD = Path(__file__).parent / "cases" / "good"
#: Climbs from wherever the copy is to the host's root: ``s`` is the copy, ``up1`` its parent,
#: ``up2`` the parent's parent... up to 12 levels. No name holds ``../``: each link alone looks harmless.
CLIMB = {"s": ".", "up1": "s/..", **{f"up{i}": f"up{i - 1}/.." for i in range(2, 13)}}
OUTSIDE_PATHS = [Path("/tmp/grader-intake-zip-chain.txt"), Path("/tmp/grader-intake-tar-chain.txt")]
#: A repository of the host, which intake-git-commondir names as its common dir.
HOST_REPOSITORY = Path(__file__).resolve().parents[2] / ".git"
#: Entries listed by intake-zip-directory: zipfile would build an object for each before counting.
DIRECTORY_ENTRIES = 100_000
#: The checkout of intake-huge-git: far over the hostile assignment's 20 MiB, a few hundred KiB packed.
HUGE_CHECKOUT_BYTES = 300 * 1024 * 1024


def _good_files(replaced: dict[str, str] | None = None) -> dict[str, bytes]:
    """The good submission's files, but those ``replaced`` (by links)."""
    files = {str(p.relative_to(GOOD)): p.read_bytes() for p in sorted(GOOD.rglob("*")) if p.is_file()}
    return {name: data for name, data in files.items() if name not in (replaced or {})}


def _zip(
    path: Path, links: dict[str, str], extra: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED
) -> None:
    """The good submission, with ``links`` first and ``extra`` entries last."""
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, target in links.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o120777 << 16
            archive.writestr(info, target)
        for name, data in {**_good_files(links), **extra}.items():
            archive.writestr(name, data)


def _tar(path: Path, links: dict[str, str], extra: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as archive:
        for name, target in links.items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            archive.addfile(info)
        for name, data in {**_good_files(links), **extra}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def _bad_crc_zip(path: Path) -> None:
    _zip(path, {}, {}, method=zipfile.ZIP_STORED)
    page = (GOOD / "app" / "files" / "index.html").read_bytes()
    data = path.read_bytes()
    start = data.index(page)  # stored, so the page's bytes are there as they are: change one
    path.write_bytes(data[:start] + bytes([page[0] ^ 0x20]) + data[start + 1 :])


def _huge_git(bare: Path) -> None:
    """A bare repository whose one commit holds the good submission and 300 MiB of zeros."""
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "core.bigFileThreshold=1m"]
    subprocess.run([*git, "init", "-q", "--bare", "--initial-branch=main", str(bare)], check=True)
    with tempfile.TemporaryDirectory(prefix="grader-huge-git-") as tmp:
        work = Path(tmp)
        for name, data in _good_files().items():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            (work / name).write_bytes(data)
        with (work / "app" / "zeros.bin").open("wb") as handle:
            handle.truncate(HUGE_CHECKOUT_BYTES)  # sparse: no disk used here
        tree = [*git, f"--git-dir={bare}", f"--work-tree={work}"]
        subprocess.run([*tree, "add", "-A"], check=True)
        subprocess.run([*tree, "commit", "-qm", "remise"], check=True)


def _common_dir_git(folder: Path) -> None:
    """A would-be bare repository, empty but for a common dir that is the host's own repository:
    git would read that repository as this one."""
    (folder / "objects").mkdir(parents=True)
    (folder / "refs").mkdir()
    (folder / "HEAD").write_text("ref: refs/heads/main\n")
    (folder / "commondir").write_text(f"{HOST_REPOSITORY}\n")


def _directory_zip(path: Path) -> None:
    """A zip whose central directory lists DIRECTORY_ENTRIES entries, all one empty local header,
    closed by zip64 end records."""
    name = b"app/a"
    local = struct.pack("<4s2B4HL2L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, 0x21, 0, 0, 0, len(name), 0) + name
    record = struct.pack(
        "<4s4B4HL2L5H2L", b"PK\x01\x02", 20, 3, 20, 0, 0, 0, 0, 0x21, 0, 0, 0, len(name), 0, 0, 0, 0, 0, 0
    )
    directory = (record + name) * DIRECTORY_ENTRIES
    count, size, offset = DIRECTORY_ENTRIES, len(directory), len(local)
    end64 = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, size, offset)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, offset + size, 1)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    path.write_bytes(local + directory + end64 + locator + end)


def make(root: Path) -> None:
    _zip(root / "intake-zip-chain.zip", CLIMB, {"up12/tmp/grader-intake-zip-chain.txt": b"pwned"})
    _tar(root / "intake-tar-chain.tar.gz", CLIMB, {"up12/tmp/grader-intake-tar-chain.txt": b"pwned"})
    _zip(root / "intake-host-file.zip", {**CLIMB, "app/files/index.html": "../../up12/etc/hostname"}, {})
    _tar(root / "intake-link-loop.tar.gz", {"app/files/a": "b", "app/files/b": "a"}, {})
    _bad_crc_zip(root / "intake-bad-crc.zip")
    _zip(root / "intake-notes-conflict.zip", {}, {"notes/": b"", "notes": b"mes notes"})
    _huge_git(root / "intake-huge-git.git")
    _common_dir_git(root / "intake-git-commondir.git")
    _directory_zip(root / "intake-zip-directory.zip")
