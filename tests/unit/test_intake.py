from __future__ import annotations

import io
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from harness.assignment import IntakeLimits
from harness.errors import IntakeError
from harness.intake import intake, is_submission, submission_name

LIMITS = IntakeLimits(max_bytes=1024 * 1024, max_files=50)


def _zip(path: Path, entries: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o120777 << 16
            archive.writestr(info, target)
    return path


def _tar(path: Path, entries: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            archive.addfile(info)
    return path


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
