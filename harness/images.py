"""What an image holds: a streaming walk over ``docker save`` output.

Works on both archive layouts (the classic ``<id>/layer.tar`` and OCI ``blobs/sha256/…``):
every member that is itself a tar is a layer and is walked file by file; every other
member (image config, manifest) is scanned as raw bytes, which covers the build history
and build arguments recorded in the config.
"""

from __future__ import annotations

import io
import re
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass, field
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
    """What was found in an image: file paths, and where each needle appears."""

    paths: set[str] = field(default_factory=set)
    found: dict[bytes, list[str]] = field(default_factory=dict)
    total_bytes: int = 0

    def where(self, needle: bytes) -> list[str]:
        return self.found.get(needle, [])


def _search(stream: IO[bytes], needles: list[bytes], scan: ImageScan, where: str) -> None:
    """Record ``where`` for each needle in ``stream``, including across chunk borders."""
    overlap = max((len(n) for n in needles), default=1) - 1
    tail = b""
    while chunk := stream.read(_CHUNK):
        scan.total_bytes += len(chunk)
        window = tail + chunk
        for needle in needles:
            if needle in window and where not in scan.found.setdefault(needle, []):
                scan.found[needle].append(where)
        tail = window[-overlap:] if overlap else b""


def _is_tar(head: bytes) -> bool:
    return len(head) > _TAR_MAGIC_OFFSET + 5 and head[_TAR_MAGIC_OFFSET : _TAR_MAGIC_OFFSET + 5] == b"ustar"


def _walk_layer(stream: IO[bytes], needles: list[bytes], scan: ImageScan, layer: str) -> None:
    with tarfile.open(fileobj=stream, mode="r|") as inner:
        for member in inner:
            path = "/" + member.name.lstrip("./")
            scan.paths.add(path)
            if member.isfile() and needles:
                handle = inner.extractfile(member)
                if handle is not None:
                    _search(handle, needles, scan, f"{layer}:{path}")


def scan_saved_image(chunks: Iterable[bytes], needles: Iterable[bytes] = ()) -> ImageScan:
    """Walk a ``docker save`` stream: every layer's paths, and where each needle appears."""
    wanted = [n for n in needles if n]
    scan = ImageScan()
    with tarfile.open(fileobj=io.BufferedReader(_ChunkReader(chunks), _CHUNK), mode="r|") as outer:
        for member in outer:
            if not member.isfile():
                continue
            handle = outer.extractfile(member)
            if handle is None:
                continue
            buffered = cast(io.BufferedReader, handle)  # tarfile's member files are buffered readers
            if _is_tar(buffered.peek(_TAR_MAGIC_OFFSET + 8)):
                _walk_layer(buffered, wanted, scan, member.name)
            elif wanted:
                _search(buffered, wanted, scan, member.name)
    return scan


_GO_TOOLCHAIN = re.compile(r"(^|/)(go/bin/go|go-1\.\d+/bin/go|bin/go|bin/gofmt)$")


def go_toolchain_paths(paths: Iterable[str]) -> list[str]:
    """Paths that show a Go toolchain (the ``go`` command or ``gofmt``)."""
    return sorted(p for p in paths if _GO_TOOLCHAIN.search(p))
