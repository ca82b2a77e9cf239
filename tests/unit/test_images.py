"""The two image readers: the docker-save walker, on archives built here in both layouts, and the
layer-folder walker, on folders made here as a build would."""

from __future__ import annotations

import io
import json
import os
import stat
import tarfile
from pathlib import Path

import pytest

from harness.images import IncompleteScan, go_toolchain_paths, scan_layer_folders, scan_saved_image


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


def _classic(layers: list[bytes], config: bytes = b"{}") -> bytes:
    """A classic ``docker save`` archive whose manifest lists ``layers`` in the image's order,
    while the archive holds them in another (as the engine may)."""
    names = [f"{i}{i}/layer.tar" for i in range(len(layers))]
    manifest = json.dumps([{"Config": "cfg.json", "Layers": names}]).encode()
    members = {name: layer for name, layer in reversed(list(zip(names, layers, strict=True)))}
    return _tar({**members, "cfg.json": config, "manifest.json": manifest})


def test_the_base_layers_are_listed_but_not_searched_in_a_saved_image() -> None:
    base = _tar({"etc/os-release": b"PRETTY_NAME=Sup3r-S3cret-42"})
    added = _tar({"app/pw.txt": b"Autre-S3cret-99"})
    needles = [b"Sup3r-S3cret-42", b"Autre-S3cret-99"]
    whole = scan_saved_image(_chunks(_classic([base, added]), 4096), needles)
    assert whole.where(b"Sup3r-S3cret-42") == ["00/layer.tar:/etc/os-release"]
    above = scan_saved_image(_chunks(_classic([base, added]), 4096), needles, search_from=1)
    assert above.where(b"Sup3r-S3cret-42") == []
    assert above.where(b"Autre-S3cret-99") == ["11/layer.tar:/app/pw.txt"]
    assert {"/etc/os-release", "/app/pw.txt"} <= above.paths


def _layer(root: Path, files: dict[str, bytes]) -> Path:
    root.mkdir(parents=True)
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def test_layer_folders_give_paths_of_every_layer_and_needles_above_the_base(tmp_path: Path) -> None:
    base = _layer(
        tmp_path / "l0", {"etc/os-release": b"PRETTY_NAME=Sup3r-S3cret-42", "usr/lib/go-1.19/bin/go": b""}
    )
    added = _layer(tmp_path / "l1", {"app/pw.txt": b"x" * 5000 + b"Autre-S3cret-99"})
    needles = [b"Sup3r-S3cret-42", b"Autre-S3cret-99", b"Cle-De-Config"]
    scan = scan_layer_folders(
        [("sha256:aa", base), ("sha256:bb", added)], needles, search_from=1, metadata=["ARG K=Cle-De-Config"]
    )
    assert scan.where(b"Sup3r-S3cret-42") == []
    assert scan.where(b"Autre-S3cret-99") == ["bb:/app/pw.txt"]
    assert scan.where(b"Cle-De-Config") == ["config"]
    assert {"/etc", "/etc/os-release", "/usr/lib/go-1.19/bin/go", "/app", "/app/pw.txt"} <= scan.paths
    every = scan_layer_folders([("sha256:aa", base), ("sha256:bb", added)], needles)
    assert every.where(b"Sup3r-S3cret-42") == ["aa:/etc/os-release"]


def test_links_pipes_and_devices_a_build_made_are_listed_never_opened(tmp_path: Path) -> None:
    outside = tmp_path / "host-secret.txt"
    outside.write_bytes(b"Sup3r-S3cret-42")
    layer = _layer(tmp_path / "layer", {"app/ok.txt": b"rien"})
    (layer / "app" / "lien").symlink_to(outside)
    (layer / "app" / "dossier").symlink_to(tmp_path)
    os.mkfifo(layer / "app" / "tube")  # opened for reading, it would block the scan
    scan = scan_layer_folders([("sha256:aa", layer)], [b"Sup3r-S3cret-42"])
    assert scan.where(b"Sup3r-S3cret-42") == []
    assert {"/app/lien", "/app/dossier", "/app/tube", "/app/ok.txt"} <= scan.paths
    assert not any(p.startswith("/app/dossier/") for p in scan.paths)


def test_an_overlay_whiteout_is_listed_as_docker_save_shows_it(tmp_path: Path) -> None:
    layer = _layer(tmp_path / "layer", {"usr/keep": b""})
    try:
        os.mknod(layer / "usr" / "gone", stat.S_IFCHR | 0o600, os.makedev(0, 0))
    except PermissionError:
        pytest.skip("making a character device needs CAP_MKNOD")
    scan = scan_layer_folders([("sha256:aa", layer)], [b"Sup3r-S3cret-42"])
    assert "/usr/.wh.gone" in scan.paths
    assert "/usr/gone" not in scan.paths


def test_a_sparse_file_is_read_by_its_data_only(tmp_path: Path) -> None:
    layer = _layer(tmp_path / "layer", {})
    with (layer / "creux").open("wb") as handle:
        handle.truncate(1 << 40)  # a terabyte that takes no room: reading its zeros would take hours
        handle.seek((1 << 40) - 100)
        handle.write(b"Sup3r-S3cret-42")
    scan = scan_layer_folders([("sha256:aa", layer)], [b"Sup3r-S3cret-42"])
    assert scan.where(b"Sup3r-S3cret-42") == ["aa:/creux"]
    assert scan.total_bytes < 1 << 30


def test_a_path_the_host_cannot_open_makes_the_scan_incomplete(tmp_path: Path) -> None:
    layer = _layer(tmp_path / "layer", {})
    descriptor = os.open(layer, os.O_RDONLY)
    try:
        for _ in range(30):  # 30 names of 200 characters: past PATH_MAX (4096)
            os.mkdir("n" * 200, dir_fd=descriptor)
            inner = os.open("n" * 200, os.O_RDONLY, dir_fd=descriptor)
            os.close(descriptor)
            descriptor = inner
        with os.fdopen(os.open("pw.txt", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=descriptor), "wb") as handle:
            handle.write(b"Sup3r-S3cret-42")
    finally:
        os.close(descriptor)
    with pytest.raises(IncompleteScan):
        scan_layer_folders([("sha256:aa", layer)], [b"Sup3r-S3cret-42"])


def test_hard_links_are_searched_once_and_never_slow_the_scan(tmp_path: Path) -> None:
    layer = _layer(tmp_path / "layer", {"a/pw.txt": b"Sup3r-S3cret-42"})
    for index in range(3000):  # searched each time, the scan grew with the square of the count
        os.link(layer / "a" / "pw.txt", layer / "a" / f"lien{index}")
    scan = scan_layer_folders([("sha256:aa", layer)], [b"Sup3r-S3cret-42"])
    assert len(scan.where(b"Sup3r-S3cret-42")) == 1
    assert "/a/lien2999" in scan.paths


def test_a_password_in_a_name_or_a_link_target_is_found_by_both_readers(tmp_path: Path) -> None:
    layer = _layer(tmp_path / "layer", {"etc/Sup3r-S3cret-42": b""})
    (layer / "lien").symlink_to("/Autre-S3cret-99")
    needles = [b"Sup3r-S3cret-42", b"Autre-S3cret-99"]
    read = scan_layer_folders([("sha256:aa", layer)], needles)
    assert read.where(b"Sup3r-S3cret-42") == ["aa:/etc/Sup3r-S3cret-42"]
    assert read.where(b"Autre-S3cret-99") == ["aa:/lien"]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.add(layer, arcname=".")
    saved = scan_saved_image(_chunks(_classic([buffer.getvalue()]), 4096), needles)
    assert saved.where(b"Sup3r-S3cret-42") == ["00/layer.tar:/etc/Sup3r-S3cret-42"]
    assert saved.where(b"Autre-S3cret-99") == ["00/layer.tar:/lien"]
    assert saved.paths == read.paths


def test_a_saved_layer_keeps_the_leading_dot_of_a_name() -> None:
    saved = _classic([_tar({"./.env": b"PW=Sup3r-S3cret-42", "..go": b""})])
    scan = scan_saved_image(_chunks(saved, 4096), [b"Sup3r-S3cret-42"])
    assert scan.where(b"Sup3r-S3cret-42") == ["00/layer.tar:/.env"]
    assert {"/.env", "/..go"} <= scan.paths


def test_a_base_layer_repeated_above_the_base_is_searched() -> None:
    base = _tar({"pw.txt": b"Sup3r-S3cret-42"})
    archive = _tar(
        {
            "00/layer.tar": base,
            "cfg.json": b"{}",
            "manifest.json": json.dumps([{"Layers": ["00/layer.tar", "00/layer.tar"]}]).encode(),
        }
    )
    scan = scan_saved_image(_chunks(archive, 4096), [b"Sup3r-S3cret-42"], search_from=1)
    assert scan.where(b"Sup3r-S3cret-42") == ["00/layer.tar:/pw.txt"]


def test_a_password_as_a_folder_name_is_found_once_at_that_folder(tmp_path: Path) -> None:
    layer = _layer(tmp_path / "layer", {f"Sup3r-S3cret-42/f{i}": b"" for i in range(50)})
    scan = scan_layer_folders([("sha256:aa", layer)], [b"Sup3r-S3cret-42"])
    assert scan.where(b"Sup3r-S3cret-42") == ["aa:/Sup3r-S3cret-42"]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.add(layer, arcname=".")
    saved = scan_saved_image(_chunks(_classic([buffer.getvalue()]), 4096), [b"Sup3r-S3cret-42"])
    assert saved.where(b"Sup3r-S3cret-42") == ["00/layer.tar:/Sup3r-S3cret-42"]
