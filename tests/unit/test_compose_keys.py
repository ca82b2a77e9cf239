"""The allowlist decides every key of Compose's own schema, and docs/security.md shows it."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.compose_keys import LEVELS, RULES, markdown_table
from harness.policy import CHECKS, RESOLVED_AWAY

ROOT = Path(__file__).parents[2]
#: The schema Compose 2.40.3 embeds (extracted from the binary with ``schema_of`` below).
VENDORED = ROOT / "tests" / "schemas" / "compose-spec.json"
_NEEDS_NO_CHILDREN = ("refused", "ignored", "replaced")


def schema_of(binary: Path) -> dict[str, Any]:
    """The compose-spec JSON schema a Compose binary embeds (it validates every file against it)."""
    data = binary.read_bytes()
    found = data.find(b'"compose_spec.json"')
    assert found > 0, f"{binary} embeds no compose-spec schema"
    start = data.rfind(b"{", 0, found)
    schema, _end = json.JSONDecoder().raw_decode(data[start : start + 4_000_000].decode("utf-8", "replace"))
    return schema  # type: ignore[no-any-return]


def _objects(schema: dict[str, Any], node: Any) -> Iterator[dict[str, Any]]:
    """The object schemas (with ``properties``) a value of ``node`` may hold, at any depth of nesting."""
    if not isinstance(node, dict):
        return
    if "$ref" in node:
        target: Any = schema
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        yield from _objects(schema, target)
    if "properties" in node:
        yield node
        return
    for keyword in ("oneOf", "anyOf", "allOf"):
        for option in node.get(keyword, []):
            yield from _objects(schema, option)
    items = node.get("items")
    for item in items if isinstance(items, list) else [items]:
        yield from _objects(schema, item)
    for pattern, value in (node.get("patternProperties") or {}).items():
        if pattern != "^x-":
            yield from _objects(schema, value)
    if isinstance(node.get("additionalProperties"), dict):
        yield from _objects(schema, node["additionalProperties"])


def undecided(schema: dict[str, Any]) -> tuple[list[str], set[tuple[str, str]]]:
    """Keys of ``schema`` the table does not decide ("level.key"), and every (level, key) it visited."""
    missing: list[str] = []
    visited: set[tuple[str, str]] = set()
    todo: list[tuple[str, dict[str, Any]]] = [("top", schema)]
    done: set[tuple[str, int]] = set()
    while todo:
        level, node = todo.pop()
        if (level, id(node)) in done:
            continue
        done.add((level, id(node)))
        for name, value in node["properties"].items():
            key = LEVELS[level].get(name)
            visited.add((level, name))
            if key is None:
                missing.append(f"{level}.{name}")
                continue
            nested = list(_objects(schema, value))
            if key.decision in _NEEDS_NO_CHILDREN or not nested:
                continue
            if not key.children:
                missing.append(f"{level}.{name}: holds objects, but no level decides their keys")
                continue
            todo += [(key.children, obj) for obj in nested]
    return missing, visited


def test_every_key_of_the_compose_schema_is_decided() -> None:
    schema = json.loads(VENDORED.read_text(encoding="utf-8"))
    missing, visited = undecided(schema)
    assert missing == []
    table = {(level, name) for level, keys in LEVELS.items() for name in keys}
    assert table - visited == set(), "the table decides keys the schema does not have"


def test_the_walk_fails_on_a_key_compose_gains() -> None:
    schema = json.loads(VENDORED.read_text(encoding="utf-8"))
    schema["definitions"]["service"]["properties"]["teleport"] = {"type": "string"}
    schema["definitions"]["service"]["properties"]["build"]["oneOf"][1]["properties"]["host_cache"] = {}
    missing, _visited = undecided(schema)
    assert sorted(missing) == ["build.host_cache", "service.teleport"]


def _installed_compose() -> Path | None:
    for folder in (
        "~/.docker/cli-plugins",
        "/usr/local/lib/docker/cli-plugins",
        "/usr/libexec/docker/cli-plugins",
    ):
        candidate = Path(folder).expanduser() / "docker-compose"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def test_the_installed_compose_has_no_key_the_table_does_not_decide() -> None:
    binary = _installed_compose()
    if binary is None:
        pytest.skip("no Docker Compose plugin installed")
    missing, _visited = undecided(schema_of(binary))
    assert missing == [], (
        f"{binary} knows keys the allowlist does not decide: decide them in harness/compose_keys.py"
    )


def test_every_checked_key_is_checked_and_every_check_belongs_to_a_checked_key() -> None:
    checked = {
        (level, name)
        for level, keys in LEVELS.items()
        for name, key in keys.items()
        if key.decision == "checked"
    }
    assert checked - set(CHECKS) - RESOLVED_AWAY == set()
    for level, name in CHECKS:
        assert LEVELS[level][name].decision in ("checked", "capped"), (level, name)


def test_every_refusal_can_be_named_by_a_rule() -> None:
    for level, keys in LEVELS.items():
        for name, key in keys.items():
            if key.decision in ("refused", "checked"):
                assert key.rule in RULES, (level, name)
    assert {"privileged", "cap_add", "host_namespaces", "file_reference", "external"} <= RULES


def test_docs_security_shows_the_table_as_it_is() -> None:
    text = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- compose-keys:start -->\n(.*?)<!-- compose-keys:end -->", text, re.DOTALL)
    assert found is not None, "docs/security.md has no compose-keys table"
    assert found.group(1) == markdown_table(), (
        "regenerate it: python -c 'from harness.compose_keys import markdown_table as t; print(t())'"
    )
