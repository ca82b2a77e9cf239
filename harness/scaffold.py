"""``grader new NAME``: a new assignment folder that works as written, to edit from there.

The folder (templates in ``harness/templates/new/``) holds ``assignment.yaml`` (one part,
``web``, a Dockerfile; one reusable check and one pytest check), the check file, a reference
solution that passes both checks, the French statement with its grading table, and one sample
with its expected outcome: ``grader reference record`` then ``grader validate`` pass on it
before anything is changed.

Template files ending in ``.tmpl`` have their ``{{placeholders}}`` filled (so do the names of
every file); the others are copied byte for byte.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

import yaml

from .assignment import ASSIGNMENT_FILE, CheckSpec
from .errors import GraderError
from .i18n import _
from .validate import STATEMENT_FILE, render_grading_table

TEMPLATES = Path(__file__).resolve().parent / "templates" / "new"
_TEMPLATE_SUFFIX = ".tmpl"
_VALID_ID = re.compile(r"[A-Za-z0-9_-]+")
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


def valid_id(name: str) -> bool:
    """Whether ``name`` may be an assignment's id: letters, digits, ``-`` and ``_``."""
    return _VALID_ID.fullmatch(name) is not None


def module_name(name: str) -> str:
    """The check file's name part for the assignment ``name`` (``demo-lab`` -> ``demo_lab``)."""
    return name.replace("-", "_")


def _fill(text: str, values: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda found: values.get(found[1], found[0]), text)


def _checks(assignment_yaml: str) -> dict[str, CheckSpec]:
    """The checks of the written assignment.yaml, as the grading table shows them."""
    raw = yaml.safe_load(assignment_yaml)
    return {
        str(check_id): CheckSpec(
            id=str(check_id), points=float(spec["points"]), visibility=spec.get("visibility", "visible")
        )
        for check_id, spec in raw["checks"].items()
    }


def scaffold(name: str, parent: Path) -> Path:
    """Write the assignment ``name`` into ``parent/name`` and return that folder.

    The folder is written beside its place and moved there whole: an interrupted ``new`` leaves
    nothing half-written under that name.
    """
    if not valid_id(name):
        raise GraderError(
            _(
                "« {name} » n'est pas un identifiant de devoir valide : utilisez seulement des lettres, des "
                "chiffres, « - » et « _ »."
            ).format(name=name)
        )
    target = parent / name
    if target.exists() or target.is_symlink():
        raise GraderError(
            _("{path} existe déjà : choisissez un autre nom ou un autre dossier (--dir).").format(path=target)
        )
    parent.mkdir(parents=True, exist_ok=True)
    values = {"name": name, "module": module_name(name)}
    with tempfile.TemporaryDirectory(prefix=f".{name}-", dir=parent) as tmp:
        folder = Path(tmp) / name
        for template in sorted(TEMPLATES.rglob("*")):
            if template.is_dir() or "__pycache__" in template.parts:
                continue
            rel = _fill(template.relative_to(TEMPLATES).as_posix(), values)
            dest = folder / rel.removesuffix(_TEMPLATE_SUFFIX)
            dest.parent.mkdir(parents=True, exist_ok=True)
            if template.suffix == _TEMPLATE_SUFFIX:
                dest.write_text(_fill(template.read_text(encoding="utf-8"), values), encoding="utf-8")
            else:
                shutil.copyfile(template, dest)
        statement = folder / "reference" / STATEMENT_FILE
        table = render_grading_table(_checks((folder / ASSIGNMENT_FILE).read_text(encoding="utf-8")))
        statement.write_text(
            _fill(statement.read_text(encoding="utf-8"), {"grading_table": table}), encoding="utf-8"
        )
        folder.rename(target)
    return target
