"""A zip's central directory sized from its end records before :mod:`zipfile` reads it, and a
part of a zip written out as stored: never inflated, so that intake judges it as it was.

``zipfile.ZipFile`` reads the whole central directory into memory and builds an object per
entry: a 150 MB directory of 3 million entries costs over a gigabyte before any limit is
checked. The end records (classic and zip64) declare how many entries and how many bytes the
directory holds; they are read first, and the largest of their claims is what is bounded.
"""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

_END = struct.Struct("<4s4H2LH")  # signature, disks, entries on this disk and in all, size, offset, comment
_END_SIGNATURE = b"PK\x05\x06"
_LOCATOR = struct.Struct("<4sLQL")  # signature, disk, offset of the zip64 end record, disks
_LOCATOR_SIGNATURE = b"PK\x06\x07"
_END64 = struct.Struct("<4sQ2H2L4Q")  # signature, size, versions, disks, entries (2), size, offset
_END64_SIGNATURE = b"PK\x06\x06"
_LOCAL = struct.Struct("<4s2B4HL2L2H")
_LOCAL_SIGNATURE = b"PK\x03\x04"
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_CENTRAL_SIGNATURE = b"PK\x01\x02"
_MAX_COMMENT = 0xFFFF
_ZIP64_LIMIT = 0xFFFFFFFF
_ZIP64_COUNT_LIMIT = 0xFFFF
_ZIP64_VERSION = 45
_UTF8_NAME, _DATA_DESCRIPTOR = 0x800, 0x08
#: Directory bytes allowed per entry on average (46 of header, a name, a few extra fields),
#: plus a fixed margin: real archives stay far below.
_DIRECTORY_BYTES_PER_ENTRY = 512
_DIRECTORY_MARGIN = 1 << 20
_COPY_CHUNK = 1 << 20


@dataclass(frozen=True)
class ZipDirectory:
    """What a zip's end records declare about its central directory."""

    entries: int
    size: int

    def fits(self, max_entries: int) -> bool:
        return self.entries <= max_entries and self.size <= max_directory_bytes(max_entries)


def max_directory_bytes(max_entries: int) -> int:
    """The largest central directory ``max_entries`` entries may take."""
    return max_entries * _DIRECTORY_BYTES_PER_ENTRY + _DIRECTORY_MARGIN


def declared_directory(path: Path) -> ZipDirectory | None:
    """The largest entry count and directory size the end records of ``path`` declare (classic,
    zip64 where its locator says, zip64 right before the locator), or None without an end
    record (not a zip). Reads at most the file's last 64 KiB and two small records."""
    with path.open("rb") as stream:
        length = stream.seek(0, 2)
        tail_start = max(0, length - _END.size - _MAX_COMMENT)
        stream.seek(tail_start)
        tail = stream.read()
        at = len(tail) - _END.size  # without a comment, as zipfile looks first
        if not (at >= 0 and tail.startswith(_END_SIGNATURE, at) and tail.endswith(b"\0\0")):
            at = tail.rfind(_END_SIGNATURE)
        if at < 0 or len(tail) - at < _END.size:
            return None
        _sig, _disk, _first, on_disk, total, size, _offset, _comment = _END.unpack_from(tail, at)
        entries, directory_size = max(on_disk, total), size
        end_at = tail_start + at
        locator = _record(stream, end_at - _LOCATOR.size, _LOCATOR, _LOCATOR_SIGNATURE)
        if locator is not None:
            for where in {locator[1], end_at - _LOCATOR.size - _END64.size}:
                record = _record(stream, where, _END64, _END64_SIGNATURE)
                if record is not None:
                    if entries == _ZIP64_COUNT_LIMIT:  # "see the zip64 record"
                        entries = 0
                    if directory_size == _ZIP64_LIMIT:
                        directory_size = 0
                    entries = max(entries, record[5], record[6])
                    directory_size = max(directory_size, record[7])
    # zipfile reads the directory it is told of, but no further than the file's end.
    return ZipDirectory(entries, min(directory_size, length))


def _record(stream: BinaryIO, where: int, shape: struct.Struct, signature: bytes) -> tuple[int, ...] | None:
    if where < 0:
        return None
    stream.seek(where)
    data = stream.read(shape.size)
    if len(data) < shape.size or not data.startswith(signature):
        return None
    return tuple(value for value in shape.unpack(data)[1:])


def write_zip_part(source: Path, members: Sequence[tuple[str, zipfile.ZipInfo]], target: Path) -> None:
    """Write ``members`` (name in ``target``, entry of ``source``) into the new zip ``target``,
    each entry's bytes copied as stored (compressed, encrypted, corrupt or not) with its
    method, sizes, CRC and attributes: read back, it is refused for the same reasons."""
    central: list[bytes] = []
    with source.open("rb") as reading, target.open("xb") as out:
        for name, info in members:
            offset = out.tell()
            encoded = name.encode("utf-8", "replace")
            flags = (info.flag_bits | _UTF8_NAME) & ~_DATA_DESCRIPTOR
            large = max(info.file_size, info.compress_size) >= _ZIP64_LIMIT
            extract = max(info.extract_version, _ZIP64_VERSION) if large else info.extract_version
            local_extra = struct.pack("<2H2Q", 1, 16, info.file_size, info.compress_size) if large else b""
            sizes = (_ZIP64_LIMIT, _ZIP64_LIMIT) if large else (info.compress_size, info.file_size)
            year, month, day, hour, minute, second = info.date_time
            date = max(0, year - 1980) << 9 | month << 5 | day
            time = hour << 11 | minute << 5 | second // 2
            fixed = (extract, 0, flags, info.compress_type, time, date, info.CRC, *sizes)
            out.write(_LOCAL.pack(_LOCAL_SIGNATURE, *fixed, len(encoded), len(local_extra)))
            out.write(encoded + local_extra)
            _copy_data(reading, info, out)
            central.append(_central_record(info, encoded, flags, extract, time, date, offset))
        directory_at = out.tell()
        for record in central:
            out.write(record)
        _write_end(out, len(central), out.tell() - directory_at, directory_at)


def _copy_data(reading: BinaryIO, info: zipfile.ZipInfo, out: BinaryIO) -> None:
    """The entry's stored bytes; a missing or short one is left short, so that reading it fails."""
    reading.seek(info.header_offset)
    header = reading.read(_LOCAL.size)
    if len(header) < _LOCAL.size or not header.startswith(_LOCAL_SIGNATURE):
        return
    fields = _LOCAL.unpack(header)
    reading.seek(info.header_offset + _LOCAL.size + fields[10] + fields[11])
    left = info.compress_size
    while left > 0 and (chunk := reading.read(min(left, _COPY_CHUNK))):
        out.write(chunk)
        left -= len(chunk)


def _central_record(
    info: zipfile.ZipInfo, name: bytes, flags: int, extract: int, time: int, date: int, offset: int
) -> bytes:
    values, extra = [info.file_size, info.compress_size, offset], b""
    for index, value in enumerate(values):
        if value >= _ZIP64_LIMIT:  # in the zip64 field, in this order
            extra += struct.pack("<Q", value)
            values[index] = _ZIP64_LIMIT
    if extra:
        extra = struct.pack("<2H", 1, len(extra)) + extra
        extract = max(extract, _ZIP64_VERSION)
    usize, csize, where = values
    return (
        _CENTRAL.pack(
            _CENTRAL_SIGNATURE,
            info.create_version,
            info.create_system,
            extract,
            0,
            flags,
            info.compress_type,
            time,
            date,
            info.CRC,
            csize,
            usize,
            len(name),
            len(extra),
            0,
            0,
            info.internal_attr,
            info.external_attr,
            where,
        )
        + name
        + extra
    )


def _write_end(out: BinaryIO, count: int, size: int, offset: int) -> None:
    if count >= _ZIP64_COUNT_LIMIT or size >= _ZIP64_LIMIT or offset >= _ZIP64_LIMIT:
        end64_at = out.tell()
        record_size = _END64.size - 12
        version = _ZIP64_VERSION
        out.write(
            _END64.pack(_END64_SIGNATURE, record_size, version, version, 0, 0, count, count, size, offset)
        )
        out.write(_LOCATOR.pack(_LOCATOR_SIGNATURE, 0, end64_at, 1))
        count, size, offset = (
            min(count, _ZIP64_COUNT_LIMIT),
            min(size, _ZIP64_LIMIT),
            min(offset, _ZIP64_LIMIT),
        )
    out.write(_END.pack(_END_SIGNATURE, 0, 0, count, count, size, offset, 0))
