"""An assignment is a folder that can live anywhere; the command line finds it one way.

Covers: ``--assignment NAME_OR_PATH`` (a bundled name or any folder), the default when it is
omitted (the one installed assignment, else a usage error listing them), the deprecated
positional, where an assignment's reference lives, the ``--lang en`` warning for an assignment
without English, the wheel carrying the bundled assignments, and the command line's own
sentences (the check summary, the batch plan, help texts and exit codes).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import grader
from harness.assignment import (
    checks_root,
    find_assignment,
    installed_assignments,
    load_assignment,
    reference_root,
)
from harness.errors import SpecError
from harness.i18n import set_language, use_assignment
from harness.results import CheckResult
from harness.runner import GRADING_INI

from .helpers import build_wheel

ROOT = Path(__file__).resolve().parents[2]


def _lab(folder: Path, assignment_id: str = "lab", *, reference: bool = False) -> Path:
    folder.mkdir(parents=True)
    (folder / "assignment.yaml").write_text(
        f"id: {assignment_id}\nchecks:\n  lab.says: {{points: 1}}\n", encoding="utf-8"
    )
    (folder / "test_lab.py").write_text(
        'from harness import _, check\n\n\n@check("lab.says")\ndef test_says(grading):\n'
        '    assert grading, _("Le laboratoire dit quelque chose.")\n',
        encoding="utf-8",
    )
    if reference:
        (folder / "reference").mkdir()
    return folder


@pytest.fixture
def french() -> Iterator[None]:
    """Whatever a test loads or switches, the next test starts in French with no assignment catalog."""
    yield
    use_assignment(None)
    set_language("fr")


@pytest.fixture
def two_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "checks"
    _lab(root / "cours2", "cours2")
    _lab(root / "proxy", "proxy")
    monkeypatch.setenv("GRADER_CHECKS_DIR", str(root))
    return root


def _args(*argv: str) -> argparse.Namespace:
    return grader._parser().parse_args(list(argv))


# -- finding an assignment ------------------------------------------------------------------------


def test_a_bundled_name_and_a_folder_anywhere_both_name_an_assignment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert find_assignment("cours2") == ROOT / "checks" / "cours2"
    lab = _lab(tmp_path / "somewhere" / "lab")
    assert find_assignment(str(lab)) == lab
    monkeypatch.chdir(tmp_path / "somewhere")
    assert find_assignment("lab") == lab  # a relative path, from the working folder
    assert find_assignment("./lab") == lab


def test_a_name_that_is_neither_says_what_is_installed(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"no assignment 'nope'.*installed: cours2"):
        find_assignment("nope")
    with pytest.raises(SpecError, match="no assignment"):
        find_assignment("../checks/cours2/..")  # a name never walks out of the checks folder


def test_the_installed_assignments_are_the_folders_of_the_checks_root(two_installed: Path) -> None:
    (two_installed / "notes").mkdir()  # no assignment.yaml: not an assignment
    assert checks_root() == two_installed
    assert installed_assignments() == ["cours2", "proxy"]


def test_the_project_installs_cours2_and_proxy() -> None:
    assert installed_assignments() == ["cours2", "proxy"]


# -- the default ----------------------------------------------------------------------------------


def test_without_the_flag_the_one_installed_assignment_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _lab(tmp_path / "checks" / "cours2", "cours2")
    monkeypatch.setenv("GRADER_CHECKS_DIR", str(tmp_path / "checks"))
    assert grader._assignment_name(_args("check")) == "cours2"
    assert grader._assignment_name(_args("images", "list")) == "cours2"


def test_a_second_installed_assignment_makes_the_flag_required(
    two_installed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (["kit", str(tmp_path / "kit")], ["check", "."], ["grade", ".", "--out", "o"]):
        with pytest.raises(SystemExit) as stopped:
            grader.main(argv)
        assert stopped.value.code == grader.EXIT_ERROR
        err = capsys.readouterr().err
        assert f"usage: grader {argv[0]}" in err
        assert "Plusieurs devoirs sont installés (cours2, proxy) : choisissez-en un avec --assignment" in err
    assert not (tmp_path / "kit").exists()
    assert grader._assignment_name(_args("check", "--assignment", "proxy")) == "proxy"


def test_no_installed_assignment_asks_for_a_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GRADER_CHECKS_DIR", str(tmp_path / "none"))
    with pytest.raises(SystemExit) as stopped:
        grader.main(["reference", "record"])
    assert stopped.value.code == grader.EXIT_ERROR
    assert "Aucun devoir n'est installé : donnez --assignment DOSSIER" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["check"],
        ["ci"],
        ["grade", "class"],
        ["merge", "out-1"],
        ["kit"],
        ["reference", "record"],
        ["images", "list"],
        ["images", "pull"],
        ["images", "save"],
    ],
)
def test_every_command_on_an_assignment_takes_the_same_option(argv: list[str], tmp_path: Path) -> None:
    extra = ["--out", "o"] if argv[0] in ("grade", "merge") else []
    file = ["a.tar"] if argv[-1] == "save" else ["kit"] if argv == ["kit"] else []
    args = _args(*argv, "--assignment", str(tmp_path), *extra, *file)
    assert args.assignment == str(tmp_path)
    assert getattr(args, "legacy_assignment", None) is None


# -- the deprecated positional --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "kept"),
    [
        (["kit", "cours2", "kitdir"], ("out", Path("kitdir"))),
        (["images", "save", "cours2", "a.tar"], ("archive", Path("a.tar"))),
        (["images", "pull", "cours2"], None),
        (["reference", "record", "cours2"], None),
    ],
)
def test_the_old_positional_still_works_once_with_a_deprecation_sentence(
    argv: list[str], kept: tuple[str, Path] | None, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _args(*argv)
    assert grader._assignment_name(args) == "cours2"
    assert grader._assignment_name(args) == "cours2"
    err = capsys.readouterr().err
    assert (
        err.count("est déprécié et ne sera plus accepté à la prochaine version : écrivez --assignment cours2")
        == 1
    )
    if kept is not None:
        assert getattr(args, kept[0]) == kept[1]


def test_the_old_positional_and_the_option_together_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as stopped:
        grader.main(["kit", "cours2", "--assignment", "cours2", "kitdir"])
    assert stopped.value.code == grader.EXIT_ERROR
    with pytest.raises(grader.UsageError, match="donné deux fois"):
        grader._assignment_name(_args("images", "pull", "cours2", "--assignment", "other"))


def test_images_save_without_an_assignment_still_takes_the_archive_alone() -> None:
    args = _args("images", "save", "a.tar")
    assert (args.legacy_assignment, args.archive) == (None, Path("a.tar"))


# -- where the reference lives --------------------------------------------------------------------


def test_a_folder_holding_its_reference_uses_it(tmp_path: Path) -> None:
    lab = load_assignment(_lab(tmp_path / "lab", reference=True))
    assert lab.reference_dir() == tmp_path / "lab" / "reference"
    assert lab.samples_dir() == tmp_path / "lab" / "samples"
    assert not lab.bundled


def test_the_bundled_cours2_keeps_its_reference_at_the_top_of_the_project() -> None:
    cours2 = load_assignment(find_assignment("cours2"))
    assert cours2.bundled
    assert cours2.reference_dir() == reference_root() / "cours2" == ROOT / "reference" / "cours2"
    assert (cours2.reference_dir() / "ENONCE.md").is_file()


def test_a_folder_outside_never_borrows_the_bundled_reference_of_the_same_id(tmp_path: Path) -> None:
    copy = load_assignment(_lab(tmp_path / "cours2", "cours2"))
    assert copy.reference_dir() == tmp_path / "cours2" / "reference"
    assert not copy.reference_dir().exists()


def test_the_reference_override_still_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lab = load_assignment(_lab(tmp_path / "lab", reference=True))
    monkeypatch.setenv("GRADER_REFERENCE_DIR", str(tmp_path / "elsewhere"))
    assert lab.reference_dir() == tmp_path / "elsewhere" / "lab"
    assert load_assignment(find_assignment("cours2")).reference_dir() == tmp_path / "elsewhere" / "cours2"


def test_the_checks_override_still_wins(two_installed: Path) -> None:
    assert find_assignment("proxy") == two_installed / "proxy"
    assert load_assignment(find_assignment("proxy")).bundled


def test_collecting_an_assignment_runs_nothing_from_its_reference_or_samples(tmp_path: Path) -> None:
    lab = _lab(tmp_path / "lab", reference=True)
    planted = 'open({marker!r}, "w").write("ran")\n'
    (lab / "reference" / "conftest.py").write_text(planted.format(marker=str(tmp_path / "reference-ran")))
    (lab / "samples" / "eve").mkdir(parents=True)
    (lab / "samples" / "eve" / "test_eve.py").write_text(planted.format(marker=str(tmp_path / "sample-ran")))
    subprocess.run(
        [sys.executable, "-P", "-m", "pytest", "-c", str(GRADING_INI), "--rootdir", str(checks_root()),
         "--confcutdir", str(lab), str(lab), "--collect-only", "-q"],
        cwd=tmp_path, capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert not (tmp_path / "reference-ran").exists()
    assert not (tmp_path / "sample-ran").exists()


# -- an assignment without English ----------------------------------------------------------------


@pytest.mark.usefixtures("french")
def test_lang_en_says_once_that_an_untranslated_assignment_stays_in_french(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lab = _lab(tmp_path / "lab")
    set_language("en")
    grader._load(_args("--lang", "en", "check", "--assignment", str(lab)), feedback=True)
    err = capsys.readouterr().err
    assert err.count("Assignment lab has no English translation: its feedback stays in French.") == 1
    grader._load(_args("--lang", "en", "kit", "--assignment", str(lab), "out"))
    assert capsys.readouterr().err == ""  # a kit gives no feedback: nothing to warn about


@pytest.mark.usefixtures("french")
def test_lang_en_says_nothing_for_cours2_which_is_translated(capsys: pytest.CaptureFixture[str]) -> None:
    set_language("en")
    grader._load(_args("--lang", "en", "check", "--assignment", "cours2"), feedback=True)
    assert capsys.readouterr().err == ""


@pytest.mark.usefixtures("french")
def test_lang_fr_never_warns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    grader._load(_args("check", "--assignment", str(_lab(tmp_path / "lab"))), feedback=True)
    assert capsys.readouterr().err == ""


# -- the wheel ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheel"))


def test_the_wheel_carries_the_bundled_assignments_and_their_references(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    bundled = "harness/_bundled/"
    for name in installed_assignments():
        shipped = {n for n in names if n.startswith(f"{bundled}checks/{name}/")}
        expected = {
            f"{bundled}checks/{path.relative_to(ROOT / 'checks').as_posix()}"
            for path in (ROOT / "checks" / name).rglob("*")
            if path.is_file() and "__pycache__" not in path.parts
        }
        assert shipped == expected, name
        assert f"{bundled}checks/{name}/locale/en/LC_MESSAGES/messages.mo" in names
    assert f"{bundled}reference/cours2/ENONCE.md" in names
    assert f"{bundled}reference/cours2/facts.json" in names
    assert "harness/locale/en/LC_MESSAGES/grader.mo" in names
    assert "grader.py" in names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)


def test_the_installed_wheel_finds_its_bundled_assignments(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)  # a pure-Python wheel installs by unpacking
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import harness; from harness.assignment import *;"
        "a = load_assignment(find_assignment('cours2'));"
        "print(harness.__file__); print(installed_assignments());"
        "print(a.directory); print(a.reference_dir()); print((a.reference_dir() / 'facts.json').is_file())"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    ran = subprocess.run(
        [sys.executable, "-P", "-c", probe, str(site)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    module, installed, directory, reference, facts = ran.stdout.splitlines()
    assert Path(module).is_relative_to(site)
    assert installed == "['cours2', 'proxy']"
    assert Path(directory) == site / "harness" / "_bundled" / "checks" / "cours2"
    assert Path(reference) == site / "harness" / "_bundled" / "reference" / "cours2"
    assert facts == "True"


# -- the command line's sentences ------------------------------------------------------------------


def _checks(*specs: tuple[str, str]) -> list[CheckResult]:
    return [
        CheckResult(id=f"c{i}", status=status, score=0.0, max_score=1.0, visibility=visibility)  # type: ignore[arg-type]
        for i, (status, visibility) in enumerate(specs)
    ]


def test_the_check_summary_says_visibles_only_when_only_visible_checks_ran() -> None:
    visible_only = _checks(("passed", "visible"), ("failed", "visible"), ("skipped", "visible"))
    assert grader._check_summary(visible_only, 0) == "1/2 vérifications visibles réussies"
    assert grader._check_summary(visible_only, 1).startswith(
        "1/2 vérifications visibles réussies, 1 vérification exécutée seulement à la correction finale"
    )
    with_hidden = _checks(("passed", "visible"), ("passed", "hidden"), ("failed", "visible"))
    assert grader._check_summary(with_hidden, 0) == "2/3 vérifications réussies"


def test_the_batch_plan_is_said_once_with_what_is_graded_now_and_what_is_reused() -> None:
    assert grader._plan_sentence(4, 0, 2) == "4 remises à corriger, 2 à la fois."
    assert grader._plan_sentence(1, 0, 8) == "1 remise à corriger, 1 à la fois."
    assert grader._plan_sentence(1, 3, 2) == (
        "1 remise à corriger, 1 à la fois. 3 remises déjà corrigées : leurs résultats sont réutilisés "
        "(--regrade pour tout refaire)."
    )
    assert grader._plan_sentence(0, 1, 2) == (
        "1 remise déjà corrigée : son résultat est réutilisé (--regrade pour tout refaire). "
        "Rien d'autre à corriger."
    )


def _actions(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.Action]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                for where, inner in _actions(child):
                    yield f"{name} {where}".strip(), inner
        else:
            yield "", action


def test_every_argument_has_a_help_text() -> None:
    bare = [
        f"{where}: {'/'.join(a.option_strings) or a.dest}"
        for where, a in _actions(grader._parser())
        if not a.help
    ]
    assert not bare


def test_the_help_documents_every_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        grader.main(["--help"])
    out = capsys.readouterr().out
    for code, words in (("0", "done"), ("1", "failed"), ("2", "usage error"), ("130", "interrupted (Ctrl-C")):
        assert any(line.split()[:1] == [code] and words in line for line in out.splitlines()), code
