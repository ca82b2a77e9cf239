"""What an image holds: its file paths, and where given byte strings (a password) appear.

Two ways to read an image, which give the same answer:

- :func:`scan_layer_folders` reads the layers where a local engine keeps them (overlay2's
  folders, named by ``docker image inspect``), without copying anything;
- :func:`scan_saved_image` streams ``docker save`` output, on both archive layouts (the classic
  ``<id>/layer.tar`` and OCI ``blobs/sha256/…``): every member that is itself a tar is a layer
  and is walked file by file; every other member (image config, manifest) is scanned as raw
  bytes, which covers the build history and build arguments recorded in the config.

Both list the paths of every layer, and search the contents of the layers from
``search_from`` on only: the layers below are those of the image the submission starts from
(``FROM``), which existed before its build and are not the submission's doing.
"""

from __future__ import annotations

import errno
import io
import json
import os
import re
import stat
import tarfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, cast

_CHUNK = 1 << 20
_TAR_MAGIC_OFFSET = 257


class _ChunkReader(io.RawIOBase):
    """A read-only file over an iterator of byte chunks (the SDK's ``get_image`` stream)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._buffer:
            try:
                self._buffer = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size


@dataclass
class ImageScan:
    """What was found in an image: file paths, and where each needle appears (in a file's
    content, its name or a link's target)."""

    paths: set[str] = field(default_factory=set)
    found: dict[bytes, list[str]] = field(default_factory=dict)
    total_bytes: int = 0
    _recorded: set[tuple[bytes, str]] = field(default_factory=set, repr=False)

    def where(self, needle: bytes) -> list[str]:
        return self.found.get(needle, [])

    def record(self, needle: bytes, where: str) -> None:
        """Note that ``needle`` is at ``where`` (once, however many times it is seen there)."""
        if (needle, where) not in self._recorded:
            self._recorded.add((needle, where))
            self.found.setdefault(needle, []).append(where)


def _search_names(names: Iterable[str], needles: list[bytes], scan: ImageScan, where: str) -> None:
    """A needle in a name or a link's target is in the image too (each folder's own name is
    searched at its own entry, not again at every entry below it)."""
    for name in names:
        encoded = name.encode("utf-8", "surrogateescape")
        for needle in needles:
            if needle in encoded:
                scan.record(needle, where)


def _search(stream: IO[bytes], needles: list[bytes], scan: ImageScan, where: str) -> None:
    """Record ``where`` for each needle in ``stream``, including across chunk borders."""
    _search_chunks(iter(lambda: stream.read(_CHUNK), b""), needles, scan, where)


def _search_chunks(chunks: Iterable[bytes], needles: list[bytes], scan: ImageScan, where: str) -> None:
    overlap = max((len(n) for n in needles), default=1) - 1
    tail = b""
    for chunk in chunks:
        scan.total_bytes += len(chunk)
        window = tail + chunk
        for needle in needles:
            if needle in window:
                scan.record(needle, where)
        tail = window[-overlap:] if overlap else b""


def _is_tar(head: bytes) -> bool:
    return len(head) > _TAR_MAGIC_OFFSET + 5 and head[_TAR_MAGIC_OFFSET : _TAR_MAGIC_OFFSET + 5] == b"ustar"


def _member_path(name: str) -> str:
    """A layer member's path in the image: ``./etc/x`` and ``etc/x`` are ``/etc/x``, ``.env`` stays
    ``/.env``."""
    while name.startswith("./"):
        name = name[2:]
    name = name.strip("/")
    return "/" if name in ("", ".") else f"/{name}"


def _walk_layer(stream: IO[bytes], needles: list[bytes], scan: ImageScan, layer: str) -> None:
    with tarfile.open(fileobj=stream, mode="r|") as inner:
        for member in inner:
            path = _member_path(member.name)
            if path == "/":  # the layer's own root, which a folder walk does not list
                continue
            scan.paths.add(path)
            if not needles:
                continue
            _search_names([path.rpartition("/")[2], member.linkname], needles, scan, f"{layer}:{path}")
            if member.isfile():
                handle = inner.extractfile(member)
                if handle is not None:
                    _search(handle, needles, scan, f"{layer}:{path}")


def scan_saved_image(
    chunks: Iterable[bytes], needles: Iterable[bytes] = (), *, search_from: int = 0
) -> ImageScan:
    """Walk a ``docker save`` stream: every layer's paths, and where each needle appears in the
    layers from ``search_from`` on (in the manifest's order, the image's) and in the config."""
    wanted = [n for n in needles if n]
    scan = ImageScan()
    manifest = b""
    with tarfile.open(fileobj=io.BufferedReader(_ChunkReader(chunks), _CHUNK), mode="r|") as outer:
        for member in outer:
            if not member.isfile():
                continue
            handle = outer.extractfile(member)
            if handle is None:
                continue
            buffered = cast(io.BufferedReader, handle)  # tarfile's member files are buffered readers
            if member.name == "manifest.json" and member.size <= _CHUNK:
                manifest = buffered.read()
                _search_chunks([manifest], wanted, scan, member.name)
            elif _is_tar(buffered.peek(_TAR_MAGIC_OFFSET + 8)):
                _walk_layer(buffered, wanted, scan, member.name)
            elif wanted:
                _search(buffered, wanted, scan, member.name)
    if search_from:
        # The stream's order is the archive's, not the image's: the manifest, read by now, says
        # which members are the base's layers. Without it, nothing is left out.
        order = _manifest_layers(manifest)
        base = set(order[:search_from]) - set(order[search_from:])  # a layer also above is searched
        for needle, places in scan.found.items():
            scan.found[needle] = [w for w in places if w.split(":", 1)[0] not in base]
    return scan


def _manifest_layers(manifest: bytes) -> list[str]:
    try:
        entries = json.loads(manifest or b"[]")
        return [str(layer) for layer in entries[0]["Layers"]]
    except (ValueError, LookupError, TypeError):
        return []


class IncompleteScan(Exception):
    """A layer folder could not be read whole (a path too long or too deep for the host, a file
    it may not open): the caller reads the image another way."""


def scan_layer_folders(
    layers: Sequence[tuple[str, Path]],
    needles: Iterable[bytes] = (),
    *,
    search_from: int = 0,
    metadata: Iterable[str] = (),
) -> ImageScan:
    """Walk an image's layer folders (``(diff id, folder)``, lowest first) as the engine keeps
    them: every layer's paths, and where each needle appears in the regular files of the layers
    from ``search_from`` on, and in ``metadata`` (the image's configuration and history).

    The folders hold what a submission's build wrote, and are read as the grader: a link is
    listed, never followed; only regular files are opened (never a device or a pipe a build
    made), without following a link, and checked again once open. An overlay whiteout
    (a character device 0:0) is listed as ``docker save`` shows it (``.wh.<name>``).
    Raises :class:`IncompleteScan` when any of it cannot be read.
    """
    wanted = [n for n in needles if n]
    scan = ImageScan()
    for text in metadata:
        _search_chunks([text.encode("utf-8", "surrogateescape")], wanted, scan, "config")
    for index, (layer, folder) in enumerate(layers):
        # Named by the digest alone (``<hex>:<path>``), as a saved layer is (``<member>:<path>``).
        _walk_folder(folder, wanted if index >= search_from else [], scan, layer.rpartition(":")[2])
    return scan


_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


def _walk_folder(root: Path, needles: list[bytes], scan: ImageScan, layer: str) -> None:
    todo = [(str(root), "")]
    searched: set[tuple[int, int]] = set()  # hard links: one file's content, searched once
    while todo:
        folder, relative = todo.pop()
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    info = entry.stat(follow_symlinks=False)
                    whiteout = stat.S_ISCHR(info.st_mode) and info.st_rdev == 0
                    name = f".wh.{entry.name}" if whiteout else entry.name
                    path = f"{relative}/{name}"
                    scan.paths.add(path)
                    if stat.S_ISDIR(info.st_mode):
                        todo.append((entry.path, path))
                    if not needles:
                        continue
                    target = str(Path(entry.path).readlink()) if stat.S_ISLNK(info.st_mode) else ""
                    _search_names([name, target], needles, scan, f"{layer}:{path}")
                    if stat.S_ISREG(info.st_mode) and (info.st_dev, info.st_ino) not in searched:
                        if info.st_nlink > 1:
                            searched.add((info.st_dev, info.st_ino))
                        _search_file(entry.path, info, needles, scan, f"{layer}:{path}")
        except OSError as exc:
            raise IncompleteScan(f"{folder}: {exc}") from exc


def _search_file(path: str, seen: os.stat_result, needles: list[bytes], scan: ImageScan, where: str) -> None:
    descriptor = os.open(path, _OPEN_FLAGS)
    try:
        now = os.fstat(descriptor)
        if not stat.S_ISREG(now.st_mode) or (now.st_dev, now.st_ino) != (seen.st_dev, seen.st_ino):
            raise OSError(f"{path} changed while it was read")
        # Holes are skipped only in a file that has some (fewer blocks than its size): a file
        # system that misreports holes cannot hide the data of an ordinary file.
        sparse = now.st_blocks * 512 < now.st_size
        for start, end in _data_regions(descriptor, now.st_size) if sparse else [(0, now.st_size)]:
            _search_chunks(_read_range(descriptor, start, end), needles, scan, where)
    finally:
        os.close(descriptor)


def _data_regions(descriptor: int, size: int) -> Iterator[tuple[int, int]]:
    """The parts of a file that hold data: a sparse file's holes read as zeros, which no needle
    is made of, and a build can make a file of terabytes that takes no room on disk."""
    position = 0
    while position < size:
        try:
            start = os.lseek(descriptor, position, os.SEEK_DATA)
            end = os.lseek(descriptor, start, os.SEEK_HOLE)
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # no data after position
                return
            if exc.errno == errno.EINVAL:  # a file system that cannot tell: all of it is data
                yield position, size
                return
            raise
        yield start, min(end, size)
        position = end


def _read_range(descriptor: int, start: int, end: int) -> Iterator[bytes]:
    while start < end:
        chunk = os.pread(descriptor, min(_CHUNK, end - start), start)
        if not chunk:
            return
        yield chunk
        start += len(chunk)


_GO_TOOLCHAIN = re.compile(r"(^|/)(go/bin/go|go-1\.\d+/bin/go|bin/go|bin/gofmt)$")


def go_toolchain_paths(paths: Iterable[str]) -> list[str]:
    """Paths that show a Go toolchain (the ``go`` command or ``gofmt``)."""
    return sorted(p for p in paths if _GO_TOOLCHAIN.search(p))
