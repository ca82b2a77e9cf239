"""A submission's content key never fails, blocks or follows a link, whatever the submission holds."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.assignment import load_assignment
from harness.fingerprint import assignment_hash, content_hash, result_key

from .helpers import nest_deep, remove_deep


def _submission(tmp_path: Path) -> Path:
    source = tmp_path / "alice"
    (source / "app" / "files").mkdir(parents=True)
    (source / "app" / "compose.yaml").write_text("services: {}\n")
    (source / "app" / "files" / "index.html").write_text("<h1>hi</h1>")
    return source


def test_the_key_follows_content_and_names(tmp_path: Path) -> None:
    source = _submission(tmp_path)
    first = content_hash(source)
    assert content_hash(source) == first
    (source / "app" / "files" / "index.html").write_text("<h1>changed</h1>")
    assert content_hash(source) != first
    changed = content_hash(source)
    (source / "app" / "files" / "empty").mkdir()
    assert content_hash(source) != changed, "a new folder is a new submission"


def test_a_link_counts_by_its_target_text_never_by_what_it_reaches(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("host file")
    source = _submission(tmp_path)
    (source / "app" / "files" / "lien").symlink_to(outside)
    (source / "app" / "dir-link").symlink_to(tmp_path)
    (source / "app" / "loop").symlink_to("loop")
    (source / "app" / "dangling").symlink_to("nowhere")
    before = content_hash(source)
    outside.write_text("the host file changed")
    assert content_hash(source) == before
    (source / "app" / "files" / "lien").unlink()
    (source / "app" / "files" / "lien").symlink_to("/etc/hostname")
    assert content_hash(source) != before


def test_special_files_and_unreadable_parts_hash_as_markers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _submission(tmp_path)
    os.mkfifo(source / "app" / "pipe")
    started = time.monotonic()
    assert content_hash(source)
    fifo_source = tmp_path / "fifo.zip"
    os.mkfifo(fifo_source)
    assert content_hash(fifo_source), "a FIFO handed in as an archive is never read"
    assert time.monotonic() - started < 5, "nothing blocked"
    real_os_open, real_io_open = os.open, io.open

    def refusing(real: Callable[..., Any]) -> Callable[..., Any]:
        def opener(path: object, *args: object, **kwargs: object) -> Any:
            if str(path).endswith("index.html"):  # root reads everything: refuse as a locked file would
                raise PermissionError(13, "Permission denied", str(path))
            return real(path, *args, **kwargs)

        return opener

    monkeypatch.setattr(os, "open", refusing(real_os_open))
    monkeypatch.setattr(io, "open", refusing(real_io_open))
    assert content_hash(source)
    assert content_hash(tmp_path / "missing")


def test_a_huge_sparse_file_is_keyed_without_being_read(tmp_path: Path) -> None:
    source = _submission(tmp_path)
    with (source / "app" / "enorme.bin").open("wb") as handle:
        handle.truncate(8 * 1024**3)
    started = time.monotonic()
    first = content_hash(source)
    assert time.monotonic() - started < 5
    with (source / "app" / "enorme.bin").open("r+b") as handle:
        handle.truncate(8 * 1024**3 + 1)
    assert content_hash(source) != first


def test_a_deeply_nested_folder_is_keyed(tmp_path: Path) -> None:
    source = tmp_path / "deep"
    source.mkdir()
    nest_deep(source, 1200)  # deeper than the recursion limit
    try:
        key = result_key(source, "a1b2")
        assert key.split("-")[1] == "a1b2"
        (source / "late.txt").write_text("x")
        assert result_key(source, "a1b2") != key
    finally:
        remove_deep(source)


def test_editing_an_assignments_samples_or_reference_regrades_nobody(tmp_path: Path) -> None:
    lab = tmp_path / "lab"
    (lab / "samples" / "eve").mkdir(parents=True)
    (lab / "reference" / "app").mkdir(parents=True)
    (lab / "assignment.yaml").write_text("id: lab\nchecks:\n  lab.x: {points: 1}\n", encoding="utf-8")
    (lab / "test_lab.py").write_text("# a check\n", encoding="utf-8")
    before = assignment_hash(load_assignment(lab))
    (lab / "samples" / "eve" / "Dockerfile").write_text("FROM scratch\n", encoding="utf-8")
    (lab / "reference" / "app" / "Dockerfile").write_text("FROM scratch\n", encoding="utf-8")
    assert assignment_hash(load_assignment(lab)) == before
    (lab / "reference" / "facts.json").write_text('{"facts": {"lab.size": 1}}', encoding="utf-8")
    with_facts = assignment_hash(load_assignment(lab))
    assert with_facts != before, "the reference's facts change results"
    (lab / "test_lab.py").write_text("# a check, changed\n", encoding="utf-8")
    assert assignment_hash(load_assignment(lab)) != with_facts, "the checks change results"
