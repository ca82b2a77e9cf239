"""A container's writable layer is measured from the host, links not followed, and the walk stops
early once over the limit."""

from __future__ import annotations

from pathlib import Path

from harness.layers import layer_usage


def test_counts_the_blocks_of_every_file_below(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "big").write_bytes(b"x" * 300_000)
    (tmp_path / "small").write_bytes(b"y" * 10)
    used = layer_usage(tmp_path, limit=10**9)
    assert 300_000 <= used < 400_000


def test_a_link_to_a_big_folder_is_not_followed(tmp_path: Path) -> None:
    big = tmp_path / "elsewhere"
    big.mkdir()
    (big / "big").write_bytes(b"x" * 1_000_000)
    layer = tmp_path / "layer"
    layer.mkdir()
    (layer / "lien").symlink_to(big, target_is_directory=True)
    assert layer_usage(layer, limit=10**9) < 100_000


def test_stops_as_soon_as_the_limit_is_passed(tmp_path: Path) -> None:
    for n in range(5):
        (tmp_path / f"f{n}").write_bytes(b"x" * 200_000)
    assert layer_usage(tmp_path, limit=250_000) > 250_000
