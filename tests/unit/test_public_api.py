"""The public API: what ``harness`` exports, what importing it costs, and that cours2's checks
use nothing else."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import harness
from harness.compose import ComposeProject

ROOT = Path(__file__).resolve().parents[2]


def test_every_exported_name_resolves() -> None:
    for name in harness.__all__:
        assert getattr(harness, name) is not None, name
    with pytest.raises(AttributeError):
        harness.__getattr__("ComposeProject")


def test_importing_the_package_costs_neither_pytest_nor_the_docker_sdk() -> None:
    code = "import sys, harness; print(sorted(m for m in ('pytest', 'docker') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert done.stdout.strip() == "[]", done.stdout


def _harness_imports(path: Path) -> list[str]:
    """The harness modules a file imports (``harness`` itself is the public API)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("harness"):
            found.append(node.module or "")
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.startswith("harness")]
    return found


@pytest.mark.parametrize("path", sorted((ROOT / "checks").glob("*/*.py")), ids=lambda p: p.name)
def test_checks_import_only_the_public_api(path: Path) -> None:
    private = [module for module in _harness_imports(path) if module != "harness"]
    assert not private, f"{path.relative_to(ROOT)} imports {private}: use `from harness import ...`"


def _project(services: dict[str, dict[str, object]]) -> ComposeProject:
    project = object.__new__(ComposeProject)
    project.model = {"services": services}
    return project


def test_a_partial_start_needs_what_the_services_depend_on() -> None:
    project = _project(
        {
            "api": {"depends_on": {"db": {"condition": "service_healthy"}}},
            "db": {"depends_on": {"init": {}}},
            "init": {},
            "proxy": {"depends_on": {"api": {}}},
            "other": {},
        }
    )
    assert project.needed(["api"]) == {"api", "db", "init"}
    assert project.needed(["proxy", "other"]) == {"proxy", "api", "db", "init", "other"}
    assert project.needed(["init"]) == {"init"}
