"""The CI templates and examples are valid workflows for their platform, and pass a security audit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
GITHUB = [ROOT / "ci-templates" / "github" / "grader.yml", ROOT / "docs" / "examples" / "shards.github.yml"]
GITLAB = [
    ROOT / "ci-templates" / "gitlab" / "grader.gitlab-ci.yml",
    ROOT / "docs" / "examples" / "shards.gitlab-ci.yml",
]


def _run(*command: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize(
    ("files", "schema"), [(GITHUB, "vendor.github-workflows"), (GITLAB, "vendor.gitlab-ci")]
)
def test_templates_validate_against_their_platform_schema(files: list[Path], schema: str) -> None:
    done = _run(BIN / "check-jsonschema", "--builtin-schema", schema, *files)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_schema_check_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  grade:\n    steps: 3\n", encoding="utf-8")
    assert (
        _run(BIN / "check-jsonschema", "--builtin-schema", "vendor.github-workflows", broken).returncode != 0
    )


def test_github_workflows_pass_zizmor(tmp_path: Path) -> None:
    done = _run(BIN / "zizmor", "--offline", "--no-progress", *GITHUB)
    assert done.returncode == 0, done.stdout + done.stderr
    risky = tmp_path / "risky.yml"
    risky.write_text(
        "on: pull_request_target\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - uses: actions/checkout@v4\n      - run: echo ${{ github.event.pull_request.title }}\n",
        encoding="utf-8",
    )
    assert _run(BIN / "zizmor", "--offline", "--no-progress", risky).returncode != 0, "zizmor audits for real"


def test_templates_pin_the_checks_and_the_grader() -> None:
    github = GITHUB[0].read_text(encoding="utf-8")
    gitlab = GITLAB[0].read_text(encoding="utf-8")
    for text in (github, gitlab):
        assert "grader ci" in text
        assert "--assignment" in text, "the checks come from the instructor's kit, not the student's tree"
        assert "KIT_COMMIT" in text
        assert "@v0.1.0" in text
