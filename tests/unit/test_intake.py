from __future__ import annotations

import contextlib
import errno
import io
import os
import random
import re
import shutil
import subprocess
import tarfile
import tempfile
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.assignment import IntakeLimits
from harness.batch import expand_moodle_export
from harness.errors import InfrastructureError, IntakeError
from harness.intake import intake, is_submission, submission_name

from .helpers import GIT, directory_bomb, nest_deep, remove_deep

LIMITS = IntakeLimits(max_bytes=1024 * 1024, max_files=50)


def _zip(path: Path, entries: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    """A zip of ``links`` (name: target), then ``entries`` (name: content)."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o120777 << 16
            archive.writestr(info, target)
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


def _tar(path: Path, entries: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    """A tar (gzip'd if ``path`` ends in .gz) of ``links``, then ``entries``."""
    with tarfile.open(path, "w:gz" if path.name.endswith(".gz") else "w") as archive:
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            archive.addfile(info)
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


_Maker = Callable[[Path, dict[str, bytes], dict[str, str] | None], Path]
SUFFIX: dict[_Maker, str] = {_zip: ".zip", _tar: ".tar.gz"}


def test_folder_is_copied_without_its_git_metadata(tmp_path: Path) -> None:
    source = tmp_path / "alice"
    (source / "siteweb" / "files").mkdir(parents=True)
    (source / "siteweb" / "Dockerfile").write_text("FROM scratch\n")
    (source / "siteweb" / "files" / "index.html").write_text("<h1>é</h1>", encoding="utf-8")
    (source / ".git").mkdir()
    (source / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    root = intake(source, tmp_path / "copy", LIMITS)
    assert (root / "siteweb" / "files" / "index.html").read_text(encoding="utf-8") == "<h1>é</h1>"
    assert not (root / ".git").exists()
    (source / "siteweb" / "Dockerfile").write_text("changed")
    assert (root / "siteweb" / "Dockerfile").read_text() == "FROM scratch\n", "the copy must be private"


def test_zip_with_parent_path_is_refused(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "evil.zip", {"ok.txt": b"x", "../../escape.txt": b"x"})
    with pytest.raises(IntakeError, match=r"sort de la remise"):
        intake(archive, tmp_path / "copy", LIMITS)
    assert not (tmp_path / "escape.txt").exists()


def test_zip_with_absolute_path_is_refused(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "abs.zip", {"/tmp/abs-escape.txt": b"x"})
    with pytest.raises(IntakeError, match=r"chemin absolu"):
        intake(archive, tmp_path / "copy", LIMITS)


def test_zip_symlink_leading_outside_is_refused(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "link.zip", {"a/Dockerfile": b"FROM scratch"}, {"a/passwd": "../../etc/passwd"})
    with pytest.raises(IntakeError, match=r"lien symbolique"):
        intake(archive, tmp_path / "copy", LIMITS)


def test_zip_symlink_inside_is_kept(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "ok.zip", {"a/index.html": b"hi"}, {"a/alias.html": "index.html"})
    root = intake(archive, tmp_path / "copy", LIMITS)
    assert (root / "alias.html").read_text() == "hi"


def test_zip_with_one_top_folder_is_unwrapped(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "bob.zip", {"bob/siteweb/Dockerfile": b"FROM scratch"})
    root = intake(archive, tmp_path / "copy", LIMITS)
    assert (root / "siteweb" / "Dockerfile").is_file()


def test_an_archive_holding_only_a_part_folder_is_not_unwrapped(tmp_path: Path) -> None:
    archive = _tar(tmp_path / "yann.tar.gz", {"./siteweb/Dockerfile": b"FROM scratch"})
    root = intake(archive, tmp_path / "copy", LIMITS, part_names=["siteweb"])
    assert (root / "siteweb" / "Dockerfile").is_file()


def test_tar_with_parent_path_and_absolute_link_are_refused(tmp_path: Path) -> None:
    with pytest.raises(IntakeError, match=r"sort de la remise"):
        intake(_tar(tmp_path / "a.tar.gz", {"x/../../up.txt": b"x"}), tmp_path / "c1", LIMITS)
    with pytest.raises(IntakeError, match=r"chemin absolu"):
        intake(_tar(tmp_path / "b.tar.gz", {"x": b""}, {"x/passwd": "/etc/passwd"}), tmp_path / "c2", LIMITS)


def test_tar_hard_link_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "hard.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo("passwd")
        info.type = tarfile.LNKTYPE
        info.linkname = "/etc/passwd"
        archive.addfile(info)
    with pytest.raises(IntakeError, match=r"lien physique"):
        intake(path, tmp_path / "copy", LIMITS)


def test_folder_symlink_to_host_file_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "sneaky"
    source.mkdir()
    (source / "Dockerfile").write_text("FROM scratch")
    (source / "passwd").symlink_to("/etc/passwd")
    with pytest.raises(IntakeError, match=r"lien symbolique"):
        intake(source, tmp_path / "copy", LIMITS)


def test_folder_relative_symlink_escaping_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "sneaky"
    (source / "a").mkdir(parents=True)
    (source / "a" / "link").symlink_to("../../outside")
    with pytest.raises(IntakeError, match=r"sort de la remise"):
        intake(source, tmp_path / "copy", LIMITS)


def test_file_count_and_size_limits(tmp_path: Path) -> None:
    many = _zip(tmp_path / "many.zip", {f"f{i}.txt": b"x" for i in range(51)})
    with pytest.raises(IntakeError, match=r"plus de 50 fichiers"):
        intake(many, tmp_path / "c1", LIMITS)
    big = _zip(tmp_path / "big.zip", {"big.bin": b"0" * (LIMITS.max_bytes + 1)})
    with pytest.raises(IntakeError, match=r"dépasse 1 Mo"):
        intake(big, tmp_path / "c2", LIMITS)


def test_broken_and_empty_submissions_are_refused(tmp_path: Path) -> None:
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    with pytest.raises(IntakeError, match=r"illisible"):
        intake(tmp_path / "bad.zip", tmp_path / "c1", LIMITS)
    (tmp_path / "empty").mkdir()
    with pytest.raises(IntakeError, match=r"vide"):
        intake(tmp_path / "empty", tmp_path / "c2", LIMITS)
    with pytest.raises(IntakeError, match=r"n'existe pas"):
        intake(tmp_path / "missing", tmp_path / "c3", LIMITS)


def test_bare_git_repository_is_cloned(tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "siteweb").mkdir(parents=True)
    (work / "siteweb" / "Dockerfile").write_text("FROM scratch\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"]
    subprocess.run([*git, "init", "-q", str(work)], check=True)
    subprocess.run([*git, "-C", str(work), "add", "."], check=True)
    subprocess.run([*git, "-C", str(work), "commit", "-qm", "remise"], check=True)
    bare = tmp_path / "carla.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
    root = intake(bare, tmp_path / "copy", LIMITS)
    assert (root / "siteweb" / "Dockerfile").read_text() == "FROM scratch\n"
    assert submission_name(bare) == "carla"


def test_names_and_what_counts_as_a_submission(tmp_path: Path) -> None:
    assert submission_name(Path("alice.tar.gz")) == "alice"
    assert submission_name(Path("bob.zip")) == "bob"
    (tmp_path / "dir").mkdir()
    (tmp_path / "notes.txt").write_text("")
    assert is_submission(tmp_path / "dir")
    assert is_submission(tmp_path / "x.zip")
    assert not is_submission(tmp_path / "notes.txt")
    assert not is_submission(tmp_path / ".hidden")


# --- Links are judged where they really lead, after extraction ----------------------------------

#: Each link harmless by its name alone; together they climb out of the copy: ``s`` is the root,
#: ``up1`` its parent, ``up2`` the parent's parent... (``../`` in a name is refused, not in a link).
CLIMB = {"s": ".", "up1": "s/..", **{f"up{i}": f"up{i - 1}/.." for i in range(2, 13)}}


@pytest.mark.parametrize("make", [_zip, _tar])
def test_a_chain_of_links_cannot_carry_a_later_entry_outside(tmp_path: Path, make: _Maker) -> None:
    archive = make(tmp_path / f"chain{SUFFIX[make]}", {"up2/escaped.txt": b"pwned"}, CLIMB)
    with pytest.raises(IntakeError, match=r"lien symbolique"):
        intake(archive, tmp_path / "copy", LIMITS)
    assert not (tmp_path / "escaped.txt").exists(), "written through the links, outside the copy"


@pytest.mark.parametrize("make", [_zip, _tar])
def test_a_chain_of_links_cannot_point_a_file_at_the_host(tmp_path: Path, make: _Maker) -> None:
    links = {**CLIMB, "app/files/index.html": "../../up12/etc/hostname"}
    archive = make(tmp_path / f"host{SUFFIX[make]}", {"app/compose.yaml": b"services: {}\n"}, links)
    with pytest.raises(IntakeError, match=r"lien symbolique \S+ sort de la remise") as refused:
        intake(archive, tmp_path / "copy", LIMITS)
    assert Path("/etc/hostname").read_text().strip() not in str(refused.value)


def test_each_climbing_link_is_refused_even_alone(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "up.zip", {"a.txt": b"x"}, {"s": ".", "up": "s/s/s/.."})
    with pytest.raises(IntakeError, match=r"Le lien symbolique up sort de la remise"):
        intake(archive, tmp_path / "copy", LIMITS)


def test_an_entry_below_a_link_is_refused_whatever_the_order(tmp_path: Path) -> None:
    for order, name in ((0, "first"), (1, "last")):
        path = tmp_path / f"{name}.zip"
        with zipfile.ZipFile(path, "w") as archive:
            entries = [("inner/ok.txt", b"x"), ("a/b.txt", b"y")]
            link = zipfile.ZipInfo("a")
            link.external_attr = 0o120777 << 16
            if order == 0:
                archive.writestr(link, "inner")
            for entry, data in entries:
                archive.writestr(entry, data)
            if order == 1:
                archive.writestr(link, "inner")
        with pytest.raises(IntakeError, match=r"(lien symbolique a|fichier et un dossier nommés a)"):
            intake(path, tmp_path / f"copy-{name}", LIMITS)
        assert not (tmp_path / f"copy-{name}" / "submission" / "inner" / "b.txt").exists()


def test_a_link_loop_is_refused(tmp_path: Path) -> None:
    archive = _tar(tmp_path / "loop.tar.gz", {"x.txt": b"x"}, {"a": "b", "b": "a"})
    with pytest.raises(IntakeError, match=r"boucle"):
        intake(archive, tmp_path / "copy", LIMITS)


def test_links_inside_chains_and_dangling_ones_are_kept(tmp_path: Path) -> None:
    links = {"s": "sub", "t": "s/page.html", "sub/self": ".", "gone": "sub/missing.txt"}
    archive = _zip(tmp_path / "ok.zip", {"sub/page.html": b"hi", "Dockerfile": b"FROM scratch"}, links)
    root = intake(archive, tmp_path / "copy", LIMITS)
    assert (root / "t").read_text() == "hi"
    assert (root / "gone").is_symlink()
    assert not (root / "gone").exists()


def test_a_link_may_not_leave_the_unwrapped_folder(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "w.zip", {"alice/a.txt": b"x"}, {"alice/sibling": "../alice"})
    root = intake(archive, tmp_path / "c1", LIMITS)
    assert root.name == "alice"
    archive = _zip(tmp_path / "v.zip", {"alice/a.txt": b"x"}, {"alice/up": ".."})
    with pytest.raises(IntakeError, match=r"Le lien symbolique alice/up sort de la remise"):
        intake(archive, tmp_path / "c2", LIMITS)


def test_a_folder_with_a_chain_of_links_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "dani"
    source.mkdir()
    (source / "Dockerfile").write_text("FROM scratch\n")
    for name, target in CLIMB.items():
        (source / name).symlink_to(target)
    with pytest.raises(IntakeError, match=r"Le lien symbolique up1 sort de la remise"):
        intake(source, tmp_path / "copy", LIMITS)


def test_a_folder_copy_keeps_inner_links_and_the_executable_bit(tmp_path: Path) -> None:
    source = tmp_path / "eli"
    (source / "app").mkdir(parents=True)
    (source / "app" / "start.sh").write_text("#!/bin/sh\n")
    (source / "app" / "start.sh").chmod(0o755)
    (source / "app" / "link").symlink_to("start.sh")
    (source / "appdir").symlink_to("app")
    root = intake(source, tmp_path / "copy", LIMITS)
    assert (root / "app" / "start.sh").stat().st_mode & 0o111
    assert (root / "app" / "link").readlink() == Path("start.sh")
    assert (root / "appdir").is_symlink()


# --- Any broken archive is the submission's IntakeError, never anything else ------------------


def _patch_zip_headers(path: Path, local_offset: int, central_offset: int, value: bytes) -> None:
    """Overwrite a field of every local and central header (offsets from each signature)."""
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", local_offset), (b"PK\x01\x02", central_offset)):
        start = data.find(signature)
        while start != -1:
            data[start + offset : start + offset + len(value)] = value
            start = data.find(signature, start + 4)
    path.write_bytes(bytes(data))


def test_a_zip_with_a_bad_crc_is_refused_with_a_sentence(tmp_path: Path) -> None:
    path = tmp_path / "crc.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("app/compose.yaml", b"services: {}\n")
    path.write_bytes(path.read_bytes().replace(b"services", b"servicez", 1))
    with pytest.raises(IntakeError, match=r"app/compose.yaml ne correspond pas à sa somme de contrôle"):
        intake(path, tmp_path / "copy", LIMITS)


@pytest.mark.parametrize("names", [("notes/", "notes"), ("notes", "notes/"), ("notes", "notes/a.txt")])
def test_a_file_and_a_folder_of_one_name_are_refused(tmp_path: Path, names: tuple[str, str]) -> None:
    archive = _zip(tmp_path / "notes.zip", {"keep.txt": b"x", names[0]: b"", names[1]: b""})
    with pytest.raises(IntakeError, match=r"à la fois un fichier et un dossier nommés notes"):
        intake(archive, tmp_path / "copy", LIMITS)


def test_duplicate_entries_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "dup.tar"
    with tarfile.open(path, "w") as archive:
        for data in (b"one", b"two"):
            info = tarfile.TarInfo("Dockerfile")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    with pytest.raises(IntakeError, match=r"deux fois l'entrée Dockerfile"):
        intake(path, tmp_path / "copy", LIMITS)


def test_encrypted_and_unknown_compression_entries_are_refused(tmp_path: Path) -> None:
    encrypted = _zip(tmp_path / "enc.zip", {"secret.txt": b"x"})
    _patch_zip_headers(encrypted, 6, 8, b"\x01\x00")
    with pytest.raises(IntakeError, match=r"secret.txt est chiffré"):
        intake(encrypted, tmp_path / "c1", LIMITS)
    unknown = _zip(tmp_path / "method.zip", {"data.bin": b"x"})
    _patch_zip_headers(unknown, 8, 10, b"\x63\x00")
    with pytest.raises(IntakeError, match=r"data.bin est compressé par une méthode inconnue"):
        intake(unknown, tmp_path / "c2", LIMITS)


def test_a_decompression_bomb_is_refused_before_it_is_written(tmp_path: Path) -> None:
    limits = IntakeLimits(max_bytes=64 * 1024 * 1024, max_files=50)
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.bin", bytes(32 * 1024 * 1024))
    with pytest.raises(IntakeError, match=r"zeros.bin se décompresse plus de 200 fois"):
        intake(path, tmp_path / "copy", limits)
    assert not (tmp_path / "copy" / "submission" / "zeros.bin").exists()


def test_a_tar_stream_that_inflates_past_the_limit_is_refused_even_where_skipped(tmp_path: Path) -> None:
    path = _tar(tmp_path / "skipped.tar.gz", {".git/objects/pack": bytes(8 * 1024 * 1024), "a.txt": b"x"})
    with pytest.raises(IntakeError, match=r"se décompresse en plus de"):
        intake(path, tmp_path / "copy", LIMITS)


def test_invalid_names_are_refused(tmp_path: Path) -> None:
    archive = _tar(tmp_path / "long.tar", {"a/" + "x" * 300: b"x"})
    with pytest.raises(IntakeError, match=r"nom de fichier invalide ou trop long"):
        intake(archive, tmp_path / "copy", LIMITS)


def test_a_disk_full_while_copying_is_the_machine_s_fault(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "fine"
    source.mkdir()
    (source / "Dockerfile").write_text("FROM scratch\n")

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("harness.intake._copy._Copy.file", full)
    with pytest.raises(InfrastructureError, match=r"No space left"):
        intake(source, tmp_path / "copy", LIMITS)


def _broken_variants(good: bytes, seed: int, count: int) -> list[bytes]:
    """Truncations at every few bytes, and copies with a few random bytes changed."""
    rng = random.Random(seed)
    variants = [good[:cut] for cut in range(0, len(good), max(1, len(good) // 60))]
    for _ in range(count):
        data = bytearray(good)
        for _flip in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        variants.append(bytes(data))
    return variants


@pytest.mark.parametrize("kind", ["zip", "tar.gz", "tar"])
def test_broken_archives_raise_only_intake_errors(tmp_path: Path, kind: str) -> None:
    entries = {
        "app/compose.yaml": b"services:\n  web: {build: .}\n" * 20,
        "app/Dockerfile": b"FROM scratch\n" * 30,
    }
    links = {"app/files/link": "../compose.yaml", "app/up": "files/.."}
    if kind == "zip":
        good = _zip(tmp_path / "good.zip", entries, links).read_bytes()
    else:
        good = _tar(tmp_path / f"good.{kind}", entries, links).read_bytes()
    outcomes: dict[str, int] = {}
    sentences: list[str] = []
    for number, data in enumerate(_broken_variants(good, seed=len(kind), count=150)):
        path = tmp_path / "cases" / f"{number}.{kind}"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        try:
            intake(path, tmp_path / "out" / str(number), LIMITS)
            outcomes["accepted"] = outcomes.get("accepted", 0) + 1
        except IntakeError as refused:
            sentences.append(str(refused).splitlines()[0])
            outcomes["refused"] = outcomes.get("refused", 0) + 1
    assert outcomes.get("refused", 0) > 20, outcomes
    assert all(0 < len(sentence) <= 300 for sentence in sentences), "one short sentence each"
    assert not list(tmp_path.glob("out/*/compose.yaml")), "nothing lands beside a copy"


# --- Git: sized before the checkout is written, read as stored ----------------------------------


def _bare_repo(
    tmp_path: Path, name: str, files: dict[str, bytes], links: dict[str, str] | None = None
) -> Path:
    """A bare repository ``name`` whose one commit holds ``files`` and ``links``."""
    work = tmp_path / f"{name}-work"
    work.mkdir()
    for path, data in files.items():
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        (work / path).write_bytes(data)
    for path, target in (links or {}).items():
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        (work / path).symlink_to(target)
    subprocess.run([*GIT, "init", "-q", str(work)], check=True)
    subprocess.run([*GIT, "-C", str(work), "add", "-A"], check=True)
    subprocess.run([*GIT, "-C", str(work), "commit", "-qm", "remise"], check=True)
    bare = tmp_path / f"{name}.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
    return bare


def _largest_size(folder: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += (Path(dirpath) / name).lstat().st_size
    return total


def test_a_git_checkout_over_the_limit_is_refused_before_it_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare = _bare_repo(
        tmp_path, "huge", {"app/compose.yaml": b"services: {}\n", "app/zeros.bin": bytes(48 << 20)}
    )
    shutil.rmtree(tmp_path / "huge-work")
    watched = tmp_path / "watched"
    (watched / "tmp").mkdir(parents=True)
    monkeypatch.setattr(tempfile, "tempdir", str(watched / "tmp"))  # any scratch folder is watched too
    peak, stop = [0], threading.Event()

    def watch() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _largest_size(watched))

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with pytest.raises(IntakeError, match=r"dépasse 1 Mo"):
            intake(bare, watched / "copy", LIMITS)
    finally:
        stop.set()
        watcher.join()
    assert peak[0] < 1 << 20, f"{peak[0]} bytes were written for a refused checkout"
    assert not (watched / "copy" / "submission" / "app").exists()


def test_a_git_checkout_keeps_inner_links_and_the_executable_bit_and_no_filter_runs(tmp_path: Path) -> None:
    files = {"app/start.sh": b"#!/bin/sh\necho hi\n", ".gitattributes": b"* text eol=crlf\n"}
    bare = _bare_repo(tmp_path, "fanny", files, {"app/alias": "start.sh"})
    subprocess.run(["chmod", "+x", str(tmp_path / "fanny-work" / "app" / "start.sh")], check=True)
    work = str(tmp_path / "fanny-work")
    subprocess.run([*GIT, "-C", work, "commit", "-qam", "x"], check=True)
    subprocess.run([*GIT, "-C", work, "push", "-q", str(bare), "HEAD:main"], check=True)
    root = intake(bare, tmp_path / "copy", LIMITS)
    assert (root / "app" / "start.sh").read_bytes() == b"#!/bin/sh\necho hi\n", "as stored, no eol filter"
    assert (root / "app" / "start.sh").stat().st_mode & 0o111
    assert (root / "app" / "alias").readlink() == Path("start.sh")


def test_a_git_checkout_with_a_chain_of_links_is_refused(tmp_path: Path) -> None:
    bare = _bare_repo(
        tmp_path, "gus", {"app/compose.yaml": b"x"}, {**CLIMB, "app/index.html": "../up12/etc/hostname"}
    )
    with pytest.raises(IntakeError, match=r"lien symbolique \S+ sort de la remise"):
        intake(bare, tmp_path / "copy", LIMITS)


def test_a_git_repository_must_stand_alone(tmp_path: Path) -> None:
    bare = _bare_repo(tmp_path, "hana", {"a.txt": b"x"})
    (bare / "objects" / "info").mkdir(exist_ok=True)
    (bare / "objects" / "info" / "alternates").write_text(str(tmp_path / "elsewhere" / "objects") + "\n")
    with pytest.raises(IntakeError, match=r"alternates"):
        intake(bare, tmp_path / "c1", LIMITS)
    (bare / "objects" / "info" / "alternates").unlink()
    (bare / "description").unlink()
    (bare / "description").symlink_to("/etc/hostname")
    with pytest.raises(IntakeError, match=r"lien symbolique \(description\)"):
        intake(bare, tmp_path / "c2", LIMITS)


def test_an_empty_git_repository_is_an_empty_submission(tmp_path: Path) -> None:
    bare = tmp_path / "ines.git"
    subprocess.run([*GIT, "init", "-q", "--bare", str(bare)], check=True)
    with pytest.raises(IntakeError, match=r"vide"):
        intake(bare, tmp_path / "copy", LIMITS)


def test_an_archive_of_endless_folders_or_too_heavy_to_hold_the_limit_is_refused(tmp_path: Path) -> None:
    folders = tmp_path / "folders.tar.gz"
    with tarfile.open(folders, "w:gz") as archive:
        for number in range(3000):  # no file at all: folders are kept in memory all the same
            info = tarfile.TarInfo(f".git/d{number}" if number % 2 else f"d{number}")
            info.type = tarfile.DIRTYPE
            archive.addfile(info)
    with pytest.raises(IntakeError, match=r"plus de 50 fichiers"):
        intake(folders, tmp_path / "c1", LIMITS)
    heavy = tmp_path / "heavy.zip"
    with zipfile.ZipFile(heavy, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(
            ".git/pack", random.randbytes(3 * 1024 * 1024)
        )  # left out of the copy, heavy all the same
    with pytest.raises(IntakeError, match=r"dépasse 1 Mo"):
        intake(heavy, tmp_path / "c2", LIMITS)


def test_a_moodle_export_moves_no_link_out_of_its_place(tmp_path: Path) -> None:
    inner = _zip(tmp_path / "inner.zip", {"app/Dockerfile": b"FROM scratch\n"})
    bob = "Bob Roy_2_assignsubmission_file_"
    links = {
        "Eve Ko_1_assignsubmission_file_": bob,
        "Zoe Li_3_assignsubmission_file_/remise.zip": f"../{bob}/r.zip",
    }
    export = _zip(tmp_path / "export.zip", {f"{bob}/r.zip": inner.read_bytes()}, links)
    sources = expand_moodle_export(export, tmp_path / "out", LIMITS)
    assert [p.name for p in sources] == ["Bob Roy_2.zip", "Zoe Li_3.zip"], (
        "a linked student folder is left out"
    )
    assert not any(p.is_symlink() for p in sources)
    assert not (tmp_path / "out" / "Zoe Li_3").exists(), "a refused student stays a zip of their entries"
    with pytest.raises(IntakeError, match=r"lien symbolique remise.zip sort de la remise"):
        intake(sources[1], tmp_path / "copy", LIMITS)


# --- A git repository is read from its own folder only -------------------------------------------


def _pointer_repo(folder: Path, **extra: str) -> Path:
    """A would-be bare repository of its own: HEAD, empty objects/ and refs/, and ``extra`` files."""
    (folder / "objects").mkdir(parents=True)
    (folder / "refs").mkdir()
    (folder / "HEAD").write_text("ref: refs/heads/main\n")
    for name, text in extra.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


@pytest.mark.parametrize("pointer", ["relative", "absolute"])
def test_a_git_repository_may_not_name_another_one_as_its_common_dir(tmp_path: Path, pointer: str) -> None:
    bob = _bare_repo(tmp_path, "bob", {"app/compose.yaml": b"bob's work\n"})
    target = "../bob.git" if pointer == "relative" else str(bob)
    alice = _pointer_repo(tmp_path / "alice.git", commondir=target)
    with pytest.raises(IntakeError, match=r"renvoie à un autre dépôt .*\(commondir\)"):
        intake(alice, tmp_path / "copy", LIMITS)
    assert not (tmp_path / "copy" / "submission" / "app").exists(), "bob's work was not copied as alice's"


@pytest.mark.parametrize("pointer", [".git", "worktrees/w/gitdir", "worktrees/w/commondir"])
def test_a_git_repository_may_not_point_git_elsewhere(tmp_path: Path, pointer: str) -> None:
    bob = _bare_repo(tmp_path, "bob", {"app/compose.yaml": b"bob's work\n"})
    text = f"gitdir: {bob}\n" if pointer == ".git" else f"{bob}\n"
    alice = _pointer_repo(tmp_path / "alice.git", **{pointer: text})
    with pytest.raises(IntakeError, match=rf"renvoie à un autre dépôt .*\({re.escape(pointer)}\)"):
        intake(alice, tmp_path / "copy", LIMITS)


def test_borrowed_objects_over_http_are_refused(tmp_path: Path) -> None:
    bare = _bare_repo(tmp_path, "iris", {"a.txt": b"x"})
    (bare / "objects" / "info").mkdir(exist_ok=True)
    (bare / "objects" / "info" / "http-alternates").write_text("http://127.0.0.1:9/objects\n")
    with pytest.raises(IntakeError, match=r"alternates"):
        intake(bare, tmp_path / "copy", LIMITS)


def test_a_git_repository_s_config_is_never_read(tmp_path: Path) -> None:
    """Its includes may name any file of the machine, its settings may hide its own refs: the
    clone reads a private copy of refs and objects under a config of the grader's own."""
    bare = _bare_repo(tmp_path, "jade", {"app/compose.yaml": b"services: {}\n"})
    elsewhere = tmp_path / "elsewhere.cfg"
    elsewhere.write_text("[uploadpack]\n\thideRefs = refs\n\thideRefs = HEAD\n")
    with (bare / "config").open("a") as config:
        config.write(f"[include]\n\tpath = {elsewhere}\n")
    root = intake(bare, tmp_path / "copy", LIMITS)
    assert (root / "app" / "compose.yaml").read_bytes() == b"services: {}\n"


def test_a_git_branch_may_be_named_gitdir(tmp_path: Path) -> None:
    bare = _bare_repo(tmp_path, "kim", {"a.txt": b"x"})
    subprocess.run(["git", f"--git-dir={bare}", "branch", "gitdir"], check=True)
    assert (intake(bare, tmp_path / "copy", LIMITS) / "a.txt").read_bytes() == b"x"


# --- A zip's directory is sized from its end records before zipfile reads it ---------------------


def test_a_zip_declaring_millions_of_entries_is_refused_before_zipfile_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = directory_bomb(tmp_path / "small.zip", 3)
    assert zipfile.ZipFile(small).namelist() == ["a", "a", "a"], "the bomb is a zip zipfile reads"
    bomb = directory_bomb(tmp_path / "bomb.zip", 1, declared=3_200_000)

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("zipfile.ZipFile was built for a directory over the bound")

    monkeypatch.setattr(zipfile, "ZipFile", never)
    with pytest.raises(IntakeError, match=r"annonce 3200000 entrées"):
        intake(bomb, tmp_path / "copy", LIMITS)


def test_a_zip_whose_directory_is_too_large_for_its_entries_is_refused(tmp_path: Path) -> None:
    bomb = directory_bomb(tmp_path / "bomb.zip", 60_000, declared=1)  # one entry declared, 60,000 listed
    roomy = IntakeLimits(max_bytes=20 * 1024 * 1024, max_files=50)  # the archive's own weight is allowed
    with pytest.raises(IntakeError, match=r"annonce 1 entrées et un répertoire de 2 Mo"):
        intake(bomb, tmp_path / "copy", roomy)


def test_a_zip_within_the_bound_is_read_as_before(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "ok.zip", {f"app/f{n}.txt": b"x" for n in range(50)})
    assert len(list(intake(archive, tmp_path / "copy", LIMITS).iterdir())) == 50
    over = _zip(tmp_path / "over.zip", {f"d{n}/": b"" for n in range(1101)})  # folders: 2 x 50 + 1000 allowed
    with pytest.raises(IntakeError, match=r"annonce 1101 entrées"):
        intake(over, tmp_path / "copy2", LIMITS)


def test_every_private_copy_has_modification_times_no_other_copy_shares(tmp_path: Path) -> None:
    """BuildKit receives a context's files again only when their size or time differ from the
    last context of the same name: two copies made in one clock tick must still differ."""
    source = tmp_path / "ana"
    (source / "siteweb" / "files").mkdir(parents=True)
    (source / "siteweb" / "files" / "index.html").write_text("<h1>ana</h1>")
    (source / "siteweb" / "lien").symlink_to("files/index.html")
    copies = [intake(source, tmp_path / f"copy{index}", IntakeLimits()) for index in range(5)]
    stamps = []
    for root in copies:
        times = {
            os.lstat(Path(folder, name)).st_mtime_ns
            for folder, dirs, files in os.walk(root)
            for name in (*dirs, *files)
        }
        assert len(times) == 1, "one time for the whole copy"
        stamps.append(times.pop())
    assert len(set(stamps)) == 5, "no two copies share theirs"


def test_a_copy_nested_thousands_deep_is_stamped_too(tmp_path: Path) -> None:
    source = tmp_path / "deep"
    source.mkdir()
    (source / "README.md").write_text("x")
    nest_deep(source, 1500)  # deeper than Python's recursion limit
    try:
        root = intake(source, tmp_path / "copy", IntakeLimits())
        assert os.lstat(root / "README.md").st_mtime_ns == os.lstat(root / "d").st_mtime_ns
    finally:
        remove_deep(source)
        remove_deep(tmp_path / "copy" / "submission")
