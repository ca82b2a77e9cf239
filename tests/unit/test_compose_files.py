"""Normalization cannot touch the host: every file ``compose config`` would read is proven first."""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from harness.compose import normalize
from harness.compose_cli import CommandResult
from harness.compose_files import MAX_FILE_BYTES, read_sources
from harness.errors import ComposeFileError, PolicyViolation
from harness.policy import enforce_file_references


def _part(tmp_path: Path, compose: str, **files: str) -> tuple[Path, Path]:
    root = tmp_path / "sub"
    (root / "etudiants").mkdir(parents=True)
    compose_file = root / "etudiants" / "compose.yaml"
    compose_file.write_text(compose)
    for name, text in files.items():
        path = root / "etudiants" / name.replace("__", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return compose_file, root


def _refusal(compose_file: Path, root: Path) -> str:
    with pytest.raises(PolicyViolation, match="rien n'a été lancé") as caught:
        enforce_file_references(compose_file, root)
    return caught.value.details


@pytest.mark.parametrize(
    ("compose", "expected"),
    [
        ("include:\n  - ../../outside/compose.yaml\nservices: {}\n", "hors de la remise"),
        ("include:\n  - path: [/etc/compose.yaml]\nservices: {}\n", "include: /etc/compose.yaml"),
        (
            "include:\n  - path: base.yaml\n    env_file: /etc/environment\n",
            "include.env_file: /etc/environment",
        ),
        ("include:\n  - path: base.yaml\n    project_directory: /etc\n", "include.project_directory: /etc"),
        ("services:\n  a:\n    image: x\n    env_file: /etc/environment\n", "a.env_file: /etc/environment"),
        ("services:\n  a:\n    image: x\n    env_file:\n      - path: ../../.env\n", "hors de la remise"),
        ("services:\n  a:\n    image: x\n    label_file: /etc/os-release\n", "a.label_file: /etc/os-release"),
        (
            "services:\n  a:\n    extends:\n      file: /home/prof/compose.yaml\n      service: b\n",
            "a.extends.file",
        ),
        ("services:\n  a:\n    image: x\n    env_file: ${HOME}/.env\n", "dépend d'une variable"),
        ("services:\n  a:\n    image: x\n    env_file: ~/.aws/credentials\n", "dossier personnel"),
        ("include:\n  - oci://registry.example/compose:latest\n", "source distante"),
        ("include:\n  - https://github.com/someone/labs.git#main:compose.yaml\n", "source distante"),
        ("include:\n  - git@github.com:someone/labs.git\n", "source distante"),
        (
            "services:\n  a:\n    extends:\n      file: oci://registry.example/base\n      service: b\n",
            "source distante",
        ),
        ('services:\n  a:\n    image: x\n    env_file: "a\\0b"\n', "hors de la remise"),
    ],
)
def test_files_pulled_in_from_outside_are_refused_before_config_reads_them(
    tmp_path: Path, compose: str, expected: str
) -> None:
    compose_file, root = _part(tmp_path, compose, **{"base.yaml": "services: {}\n"})
    assert expected in _refusal(compose_file, root)


def test_files_pulled_in_from_inside_are_fine(tmp_path: Path) -> None:
    compose_file, root = _part(
        tmp_path,
        "include:\n  - base.yaml\n  - path: sub/inc.yaml\n    env_file: sub/inc.env\n"
        "services:\n  a:\n    image: x\n    env_file: [.env, ../commun.env, {path: opt.env, required: false}]\n"
        "    label_file: labels\n    extends: {file: sub/base.yaml, service: b}\n",
        **{".env": "A=1\n", "base.yaml": "services: {}\n", "sub__inc.yaml": "services:\n  i:\n    image: y\n",
           "sub__inc.env": "I=1\n", "labels": "l=1\n", "sub__base.yaml": "services:\n  b:\n    env_file: b.env\n"},
    )  # fmt: skip
    (root / "commun.env").write_text("C=1\n")
    (root / "etudiants" / "lien.env").symlink_to("sub/inc.env")  # a link inside, to inside
    enforce_file_references(compose_file, root)
    origins = [origin for origin, _document in read_sources(compose_file, root).documents]
    assert origins == [
        "etudiants/compose.yaml",
        "etudiants/base.yaml",
        "etudiants/sub/inc.yaml",
        "etudiants/sub/base.yaml",
    ]


def test_a_link_inside_the_submission_to_a_host_file_is_followed_and_refused(tmp_path: Path) -> None:
    compose_file, root = _part(tmp_path, "services:\n  a:\n    image: x\n    env_file: innocent.env\n")
    (root / "etudiants" / "innocent.env").symlink_to("/etc/os-release")
    assert "a.env_file: innocent.env" in _refusal(compose_file, root)


def test_a_link_chain_through_a_folder_is_followed_too(tmp_path: Path) -> None:
    compose_file, root = _part(tmp_path, "include:\n  - conf/compose.yaml\n")
    (root / "etudiants" / "conf").symlink_to("/etc")
    assert "include: conf/compose.yaml" in _refusal(compose_file, root)


@pytest.mark.parametrize("where", ["etudiants/.env", "etudiants/sub/.env"])
def test_a_dotenv_beside_any_project_must_be_a_file_of_the_submission(tmp_path: Path, where: str) -> None:
    """Compose reads ``.env`` beside the project and beside each included project, for ``${VAR}``."""
    compose_file, root = _part(
        tmp_path,
        "include:\n  - sub/inc.yaml\n",
        **{"sub__inc.yaml": "services:\n  i:\n    image: '${PRETTY_NAME}'\n"},
    )
    (root / where).symlink_to("/etc/os-release")
    assert "« .env:" in _refusal(compose_file, root)


def test_an_unknown_key_of_an_included_file_is_refused_before_config_reads_it(tmp_path: Path) -> None:
    compose_file, root = _part(
        tmp_path,
        "include:\n  - sub/inc.yaml\nservices:\n  web:\n    image: x\n",
        **{"sub__inc.yaml": "services:\n  helper:\n    image: y\n    env_from_host: /etc/passwd\n"},
    )
    details = _refusal(compose_file, root)
    assert "etudiants/sub/inc.yaml › service « helper » : la clé « env_from_host » est inconnue" in details


def test_a_refused_key_waits_for_the_resolved_model(tmp_path: Path) -> None:
    """``config`` runs nothing: a check that only reads the file still can (is it valid Compose?)."""
    compose_file, root = _part(tmp_path, "services:\n  db:\n    image: y\n    privileged: true\n")
    enforce_file_references(compose_file, root)


def test_every_document_of_a_file_is_gated(tmp_path: Path) -> None:
    compose_file, root = _part(
        tmp_path, "services:\n  a:\n    image: x\n---\nservices:\n  b:\n    teleport: 1\n"
    )
    assert "la clé « teleport »" in _refusal(compose_file, root)


def test_compose_tags_are_read(tmp_path: Path) -> None:
    compose_file, root = _part(
        tmp_path, "services:\n  a:\n    image: x\n    environment: !reset []\n    labels: !override {a: b}\n"
    )
    enforce_file_references(compose_file, root)


def test_a_fifo_is_never_opened(tmp_path: Path) -> None:
    compose_file, root = _part(tmp_path, "services:\n  a:\n    image: x\n    env_file: tube.env\n")
    os.mkfifo(root / "etudiants" / "tube.env")
    assert "n'est pas un fichier ordinaire" in _refusal(compose_file, root)


@pytest.mark.parametrize("name", ["compose.yaml", "gros.env"])
def test_huge_files_are_refused_without_being_read(tmp_path: Path, name: str) -> None:
    compose_file, root = _part(tmp_path, "services:\n  a:\n    image: x\n    env_file: gros.env\n")
    with (root / "etudiants" / name).open("ab") as handle:  # sparse: no disk, and no memory if never read
        handle.truncate(12 * 1024 * 1024)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert f"{MAX_FILE_BYTES // 1024} Kio" in _refusal(compose_file, root)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50 * 1024  # KiB


@pytest.mark.parametrize(
    ("compose", "expected"),
    [
        ("services:\n  a:\n    image: x\n    labels: " + "[" * 1000 + "]" * 1000 + "\n", "niveaux"),
        ("x-deep: " + "{a: " * 1000 + "1" + "}" * 1000 + "\n", "niveaux"),
        (
            "x-a: &a ["
            + ",".join(["x"] * 10)
            + "]\n"
            + "".join(f"x-{i}: &{chr(98 + i)} [{','.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(8))
            + "services: {}\n",
            "éléments",
        ),
        ("x-self: &self\n  - *self\n", "éléments"),
    ],
    ids=["deep-flow", "deep-map", "billion-laughs", "self-reference"],
)
def test_bombs_are_refused_quickly_with_a_sentence(tmp_path: Path, compose: str, expected: str) -> None:
    compose_file, root = _part(tmp_path, compose)
    started = time.monotonic()
    assert expected in _refusal(compose_file, root)
    assert time.monotonic() - started < 5


def test_merge_keys_of_merge_keys_do_not_double_at_each_level(tmp_path: Path) -> None:
    lines = ["x-0: &m0 {a: 1, b: 2, c: 3}"]
    lines += [f"x-{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}, *m{i - 1}, *m{i - 1}]}}" for i in range(1, 40)]
    compose_file, root = _part(tmp_path, "\n".join(lines) + "\nservices: {}\n")
    started = time.monotonic()
    enforce_file_references(compose_file, root)  # 4**39 pairs if PyYAML kept every merged copy
    assert time.monotonic() - started < 5


def test_too_many_files_are_refused(tmp_path: Path) -> None:
    files = {f"f{i}.yaml": f"include: [f{i + 1}.yaml]\n" for i in range(40)}
    compose_file, root = _part(tmp_path, "include: [f0.yaml]\n", **files, **{"f40.yaml": "services: {}\n"})
    assert "plus de 32 fichiers" in _refusal(compose_file, root)


def test_an_include_cycle_reads_each_file_once(tmp_path: Path) -> None:
    compose_file, root = _part(
        tmp_path, "include: [a.yaml]\nservices: {}\n", **{"a.yaml": "include: [compose.yaml]\n"}
    )
    assert len(read_sources(compose_file, root).documents) == 2


def test_malformed_yaml_is_refused_with_its_line(tmp_path: Path) -> None:
    compose_file, root = _part(tmp_path, "services:\n  web:\n    build: .\n   ports: [80\n")
    with pytest.raises(ComposeFileError, match="refuse le fichier") as caught:
        enforce_file_references(compose_file, root)
    assert "ligne" in caught.value.details


class _RecordingCLI:
    def __init__(self) -> None:
        self.calls: list[Sequence[str]] = []

    def run(
        self, args: Sequence[str], *, timeout: float, cwd: Path | None = None, bare_env: bool = False
    ) -> CommandResult:
        self.calls.append(args)
        return CommandResult(0, '{"services": {}}')


def test_normalize_never_runs_compose_on_a_refused_project(tmp_path: Path) -> None:
    compose_file, root = _part(tmp_path, "services:\n  a:\n    image: x\n    env_file: /etc/os-release\n")
    cli = _RecordingCLI()
    with pytest.raises(PolicyViolation):
        normalize(cli, compose_file, "p", root=root)  # type: ignore[arg-type]
    assert cli.calls == []
    compose_file.write_text("services:\n  a:\n    image: x\n")
    normalize(cli, compose_file, "p", root=root)  # type: ignore[arg-type]
    assert len(cli.calls) == 1


@pytest.mark.parametrize(
    ("compose", "tag"),
    [
        ("services:\n  a:\n    image: x\n    env_file: !!binary L2V0Yy9zaGFkb3c=\n", "!!binary"),
        ("services:\n  a:\n    image: x\n    env_file: !!omap [{path: /etc/shadow}]\n", "!!omap"),
        ("services:\n  a:\n    image: x\n    env_file: !!pairs [{path: /etc/shadow}]\n", "!!pairs"),
        ("x-note: !!timestamp not-a-date\nservices: {}\n", "!!timestamp"),
        ("services:\n  a:\n    image: !!str x\n", "!!str"),
        ("services:\n  a:\n    image: !env x\n", "!env"),
        ("services:\n  ? !!binary YQ==\n  : {image: x}\n", "!!binary"),
        ("%TAG !e! tag:example.com,2000:\n---\nservices: !e!thing {}\n", "tag:example.com,2000:thing"),
        ("!!python/object/apply:os.system [id]\n", "!!python/object/apply:os.system"),
    ],
)
def test_yaml_tags_other_than_compose_s_own_are_refused(tmp_path: Path, compose: str, tag: str) -> None:
    """PyYAML reads ``!!binary`` as bytes and ``!!omap`` as pairs; Compose's parser reads a path."""
    compose_file, root = _part(tmp_path, compose)
    assert f"l'étiquette YAML « {tag} »" in _refusal(compose_file, root)


@pytest.mark.parametrize(
    ("compose", "key"),
    [
        ("services:\n  a:\n    image: x\n    env_file: on\n", "a.env_file: True"),
        ("services:\n  a:\n    image: x\n    env_file: [2001-01-01]\n", "a.env_file: 2001-01-01"),
        ("services:\n  a:\n    image: x\n    env_file: [{path: 1_000}]\n", "a.env_file: 1000"),
        ("services:\n  a:\n    image: x\n    label_file: 1.5\n", "a.label_file: 1.5"),
        ("services:\n  a:\n    extends: {file: yes, service: b}\n", "a.extends.file: True"),
        ("include:\n  - 12\n", "include: 12"),
        ("include:\n  - path: [base.yaml, 1:20]\n", "include: 80"),
        ("include:\n  - path: base.yaml\n    env_file: [off]\n", "include.env_file: False"),
        ("include:\n  - path: base.yaml\n    project_directory: 7\n", "include.project_directory: 7"),
        ("services:\n  a:\n    build: 2001-01-01\n", "a.build: 2001-01-01"),
        ("services:\n  a:\n    build: {context: 0x10}\n", "a.build.context: 16"),
        ("services:\n  a:\n    build: {context: ., dockerfile: [D]}\n", "a.build.dockerfile: ['D']"),
        (
            "services:\n  a:\n    build: {context: ., additional_contexts: {b: 1.5}}\n",
            "a.build.additional_contexts: 1.5",
        ),
        ("secrets:\n  s:\n    file: on\n", "secrets.s.file: True"),
        ("configs:\n  c:\n    file: 2001-01-01\n", "configs.c.file: 2001-01-01"),
    ],
)
def test_a_key_that_names_a_file_takes_a_string_only(tmp_path: Path, compose: str, key: str) -> None:
    """PyYAML reads ``on`` or ``2001-01-01`` as a boolean or a date; Compose reads a file of that name."""
    compose_file, root = _part(tmp_path, compose, **{"base.yaml": "services: {}\n"})
    details = _refusal(compose_file, root)
    where, value = key.split(": ", 1)
    assert f"« {where} » doit nommer un fichier par un texte, mais YAML y lit « {value} »" in details


def test_an_included_project_directory_elsewhere_is_refused(tmp_path: Path) -> None:
    """Compose reads ``other/base.yaml`` (from project_directory), not ``sub/base.yaml`` beside the file."""
    compose_file, root = _part(
        tmp_path,
        "include:\n  - path: sub/inc.yaml\n    project_directory: other\n",
        **{
            "sub__inc.yaml": "services:\n  w:\n    extends: {file: base.yaml, service: b}\n",
            "sub__base.yaml": "services:\n  b:\n    image: x\n",
            "other__base.yaml": "services:\n  b:\n    image: x\n    env_file: /etc/shadow\n",
        },
    )
    details = _refusal(compose_file, root)
    assert "« include: sub/inc.yaml » n'est pas dans le dossier de projet de l'inclusion" in details
    assert "etudiants/other/base.yaml" not in read_sources(compose_file, root).documents.__repr__()


def test_a_later_file_of_an_include_entry_must_share_the_first_one_s_folder(tmp_path: Path) -> None:
    """Compose resolves ``over/over.yaml``'s relative paths from ``sub/``, the first file's folder."""
    compose_file, root = _part(
        tmp_path,
        "include:\n  - path: [sub/inc.yaml, over/over.yaml]\n",
        **{
            "sub__inc.yaml": "services:\n  w:\n    image: x\n",
            "over__over.yaml": "services:\n  w:\n    extends: {file: base.yaml, service: b}\n",
            "over__base.yaml": "services:\n  b:\n    image: x\n",
            "sub__base.yaml": "services:\n  b:\n    image: x\n    env_file: /etc/shadow\n",
        },
    )
    assert "« include: over/over.yaml » n'est pas dans le dossier de projet" in _refusal(compose_file, root)


def test_a_project_directory_that_is_the_included_file_s_folder_is_fine(tmp_path: Path) -> None:
    compose_file, root = _part(
        tmp_path,
        "include:\n  - path: [sub/inc.yaml, sub/over.yaml]\n    project_directory: sub\n",
        **{
            "sub__inc.yaml": "services:\n  w:\n    extends: {file: base.yaml, service: b}\n",
            "sub__over.yaml": "services:\n  w:\n    environment: [A=1]\n",
            "sub__base.yaml": "services:\n  b:\n    image: x\n",
        },
    )
    enforce_file_references(compose_file, root)
    origins = [origin for origin, _document in read_sources(compose_file, root).documents]
    assert "etudiants/sub/base.yaml" in origins


def test_any_error_while_reading_a_file_is_the_submission_s_refusal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PyYAML's constructors raise more than YAMLError: never a traceback that stops a batch."""
    compose_file, root = _part(tmp_path, "services: {}\n")

    def constructor_bug(*_args: object, **_kwargs: object) -> object:
        raise AttributeError("'NoneType' object has no attribute 'group'")

    monkeypatch.setattr("harness.compose_files.yaml.load_all", constructor_bug)
    with pytest.raises(ComposeFileError, match=r"refuse le fichier etudiants/compose\.yaml") as caught:
        enforce_file_references(compose_file, root)
    assert "AttributeError" in caught.value.details
    monkeypatch.setattr("harness.compose_files._Reader.parse", constructor_bug)
    with pytest.raises(ComposeFileError, match=r"refuse le fichier etudiants/compose\.yaml"):
        enforce_file_references(compose_file, root)
