"""The docker-save walker, on archives built here in both layouts."""

from __future__ import annotations

import io
import json
import tarfile

from harness.images import go_toolchain_paths, scan_saved_image


def _tar(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _chunks(data: bytes, size: int = 7) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def _saved(layout: str) -> bytes:
    layer1 = _tar({"usr/lib/go-1.19/bin/go": b"\x7fELF", "etc/motd": b"bonjour"})
    layer2 = _tar({"app/config.txt": b"password=Sup3r-S3cret-42\n"})
    config = json.dumps({"history": [{"created_by": "ARG PW=Autre-S3cret-99"}]}).encode()
    if layout == "classic":
        return _tar(
            {"a1/layer.tar": layer1, "b2/layer.tar": layer2, "cfg.json": config, "manifest.json": b"[]"}
        )
    return _tar({"blobs/sha256/aa": layer1, "blobs/sha256/bb": layer2, "blobs/sha256/cc": config})


def test_needles_are_found_in_layer_files_and_in_the_config_in_both_layouts() -> None:
    for layout in ("classic", "oci"):
        scan = scan_saved_image(_chunks(_saved(layout)), [b"Sup3r-S3cret-42", b"Autre-S3cret-99", b"absent!"])
        assert [w.split(":", 1)[1] for w in scan.where(b"Sup3r-S3cret-42")] == ["/app/config.txt"], layout
        assert len(scan.where(b"Autre-S3cret-99")) == 1, layout
        assert scan.where(b"absent!") == []
        assert "/etc/motd" in scan.paths


def test_a_needle_split_across_read_chunks_is_still_found() -> None:
    from harness import images

    data = b"x" * (images._CHUNK - 5) + b"Sup3r-S3cret-42" + b"y" * 100
    saved = _tar({"l/layer.tar": _tar({"big.bin": data})})
    assert scan_saved_image(_chunks(saved, 4096), [b"Sup3r-S3cret-42"]).where(b"Sup3r-S3cret-42")


def test_go_toolchain_paths_are_recognized() -> None:
    paths = ["/usr/lib/go-1.19/bin/go", "/usr/local/go/bin/gofmt", "/api", "/usr/share/gocode/src/x.go"]
    assert go_toolchain_paths(paths) == ["/usr/lib/go-1.19/bin/go", "/usr/local/go/bin/gofmt"]
