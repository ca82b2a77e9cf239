"""The sandbox policy: an allowlist over every key of a submission's Compose model.

:mod:`harness.compose_keys` decides every key Compose knows. A key it does not name is
refused, wherever it appears; a refused key is refused; a checked or capped key has its
value checked here. The raw files are gated before ``docker compose config`` reads them
(:func:`enforce_file_references`), the resolved model before anything is built or run
(:func:`enforce`). Each refusal names the service (or network, volume...) and the key.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .compose_files import read_sources
from .compose_keys import LEVELS, MAX_NETWORKS, MAX_REPLICAS, RULES
from .errors import PolicyViolation
from .i18n import _

__all__ = ["MAX_NETWORKS", "MAX_REPLICAS", "RULES", "enforce", "enforce_file_references", "violations"]

_DOCKER_SOCKETS = ("docker.sock", "docker.pid", "containerd.sock")
_JOINABLE = ("service:",)  # another service of the same project: fine


@dataclass(frozen=True)
class _Place:
    """Where a key sits, as the student reads it: "service « api »" and "build.ssh"."""

    where: str
    key: str
    root: Path


Refusal = tuple[str, str]
_Check = Callable[[Any, dict[str, Any], _Place], Iterator[Refusal]]


def _owner(kind: str, name: str) -> str:
    texts = {
        "services": _("service « {name} »"),
        "networks": _("réseau « {name} »"),
        "volumes": _("volume « {name} »"),
        "secrets": _("secret « {name} »"),
        "configs": _("config « {name} »"),
    }
    return texts[kind].format(name=name)


def _inside(path: str, root: Path) -> bool:
    return Path(path).is_absolute() and Path(path).resolve().is_relative_to(root.resolve())


def _shown(path: Any, root: Path) -> str:
    """A path as the student can place it: relative to the submission when it is near it.

    Compose resolves relative paths against the private copy; its folder name means nothing
    to the student, "../.." does. Paths elsewhere (/etc) are shown as they are.
    """
    text = str(path)
    if Path(text).is_absolute() and Path(text).is_relative_to(root.parent):
        return os.path.relpath(text, root)
    return text


def _refused(place: _Place, rule: str, value: Any = None) -> Refusal:
    if value is None:
        text = _("{where} : « {key} » est interdit dans le bac à sable ; retirez-le.")
    else:
        text = _("{where} : « {key}: {value} » est interdit dans le bac à sable ; retirez-le.")
    return rule, text.format(where=place.where, key=place.key, value=value)


# -- the checked and capped keys ----------------------------------------------------------


def _namespace_mode(allowed: tuple[str, ...]) -> _Check:
    def check(value: Any, _owner: dict[str, Any], place: _Place) -> Iterator[Refusal]:
        text = str(value)
        if text not in allowed and not text.startswith(_JOINABLE):
            yield _refused(place, "host_namespaces", text)

    return check


def _one_of(rule: str, *allowed: Any) -> _Check:
    def check(value: Any, _owner: dict[str, Any], place: _Place) -> Iterator[Refusal]:
        if value not in allowed:
            yield _refused(place, rule, value)

    return check


#: Pull policies the sandbox turns into ``missing`` (see sandbox.namespace); anything else is refused.
PULLING_POLICIES = re.compile(r"always|daily|weekly|refresh|every_\w+")


def _pull_policy(value: Any, _owner: dict[str, Any], place: _Place) -> Iterator[Refusal]:
    if value not in ("", "build", "never", "missing", "if_not_present") and not (
        isinstance(value, str) and PULLING_POLICIES.fullmatch(value)
    ):
        yield _refused(place, "pull_policy", value)


def _at_most(rule: str, cap: int) -> _Check:
    def check(value: Any, _owner: dict[str, Any], place: _Place) -> Iterator[Refusal]:
        if _number(value) > cap:
            yield rule, _("{where} : « {key}: {value} » dépasse le maximum de {cap} permis ; demandez-en au plus {cap}.").format(
                where=place.where, key=place.key, value=value, cap=cap
            )  # fmt: skip

    return check


def _few_networks(value: Any, _owner: dict[str, Any], place: _Place) -> Iterator[Refusal]:
    if isinstance(value, dict) and len(value) > MAX_NETWORKS:
        yield "networks", _("{where} : le projet déclare {count} réseaux ; le bac à sable en permet au plus {cap}, le réseau « default » compris : regroupez vos services sur moins de réseaux.").format(
            where=place.where, count=len(value), cap=MAX_NETWORKS
        )  # fmt: skip


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("inf")  # not a number: Compose would refuse it, the cap does too


def _security_opt(value: Any, _owner: dict[str, Any], place: _Place) -> Iterator[Refusal]:
    for option in value or []:
        if str(option).replace("=", ":") not in ("no-new-privileges", "no-new-privileges:true"):
            yield (
                "security_opt",
                _(
                    "{where} : « security_opt: {value} » n'est pas permis ; seule l'option « no-new-privileges » l'est."
                ).format(where=place.where, value=option),
            )


def _oom_score(value: Any, _owner: dict[str, Any], place: _Place) -> Iterator[Refusal]:
    if _number(value) < 0:
        yield _refused(place, "oom_score_adj", value)


def _mount_type(value: Any, _owner: dict[str, Any], place: _Place) -> Iterator[Refusal]:
    if value not in ("bind", "volume", "tmpfs"):
        yield "mount_type", _("{where} : un montage de type « {kind} » est interdit ; utilisez bind, volume ou tmpfs.").format(
            where=place.where, kind=value
        )  # fmt: skip


def _mount_source(value: Any, owner: dict[str, Any], place: _Place) -> Iterator[Refusal]:
    source = str(value)
    socket = any(name in source for name in _DOCKER_SOCKETS)
    if owner.get("type") == "bind" and (socket or not _inside(source, place.root)):
        yield (
            "docker_socket" if socket else "bind_outside",
            _(
                "{where} : le montage de « {source} » sort de la remise : seuls les dossiers de la remise "
                "peuvent être montés."
            ).format(where=place.where, source=_shown(source, place.root)),
        )


def _build_context(value: Any, _owner: dict[str, Any], place: _Place) -> Iterator[Refusal]:
    if "://" in str(value) or not _inside(str(value), place.root):
        yield (
            "build_context_outside",
            _(
                "{where} : le contexte de construction « {context} » sort de la remise ; choisissez un dossier "
                "de la remise."
            ).format(where=place.where, context=_shown(value, place.root)),
        )


def _dockerfile(value: Any, owner: dict[str, Any], place: _Place) -> Iterator[Refusal]:
    context = str(owner.get("context", ""))
    if owner.get("dockerfile_inline") or not _inside(context, place.root):
        return  # an inline Dockerfile reads no file; a context outside is refused on its own
    path = Path(context) / str(value)
    if not _inside(str(path), place.root):
        yield (
            "build_context_outside",
            _("{where} : le Dockerfile « {file} » est hors de la remise ; placez-le dans la remise.").format(
                where=place.where, file=value
            ),
        )


def _additional_contexts(value: Any, _owner: dict[str, Any], place: _Place) -> Iterator[Refusal]:
    contexts = value.values() if isinstance(value, dict) else value or []
    for extra in contexts:
        if "://" in str(extra) or not _inside(str(extra), place.root):
            yield (
                "build_context_outside",
                _(
                    "{where} : le contexte additionnel « {context} » sort de la remise ; choisissez un dossier "
                    "de la remise."
                ).format(where=place.where, context=_shown(extra, place.root)),
            )


def _file_source(value: Any, _owner: dict[str, Any], place: _Place) -> Iterator[Refusal]:
    if not _inside(str(value), place.root):
        yield "file_outside", _("{where} : le fichier « {file} » sort de la remise ; placez-le dans la remise.").format(
            where=place.where, file=_shown(value, place.root)
        )  # fmt: skip


CHECKS: dict[tuple[str, str], _Check] = {
    ("top", "networks"): _few_networks,
    ("service", "network_mode"): _namespace_mode(("", "none", "bridge", "default")),
    ("service", "pid"): _namespace_mode(("", "private")),
    ("service", "ipc"): _namespace_mode(("", "private", "shareable", "none")),
    ("service", "uts"): _namespace_mode(("",)),
    ("service", "userns_mode"): _namespace_mode(("",)),
    ("service", "cgroup"): _namespace_mode(("", "private")),
    ("service", "security_opt"): _security_opt,
    ("service", "scale"): _at_most("replicas", MAX_REPLICAS),
    ("service", "cpu_shares"): _at_most("cpu_shares", 1024),
    ("service", "oom_score_adj"): _oom_score,
    ("service", "pull_policy"): _pull_policy,
    ("deploy", "replicas"): _at_most("replicas", MAX_REPLICAS),
    ("build", "context"): _build_context,
    ("build", "dockerfile"): _dockerfile,
    ("build", "additional_contexts"): _additional_contexts,
    ("build", "network"): _one_of("build_host", "", "default", "none", "bridge"),
    ("build", "pull"): _one_of("pull_policy", False),
    ("hook", "privileged"): _one_of("privileged", False),
    ("mount", "type"): _mount_type,
    ("mount", "source"): _mount_source,
    ("bind", "propagation"): _one_of("bind.propagation", "", "private", "rprivate"),
    ("network", "driver"): _one_of("network_driver", "", "bridge"),
    ("ipam", "driver"): _one_of("subnets", "", "default"),
    ("volume", "driver"): _one_of("volume_driver_opts", "", "local"),
    ("secret", "file"): _file_source,
    ("config", "file"): _file_source,
}

#: Keys Compose consumes while it resolves the model (:mod:`harness.compose_files` proves them).
RESOLVED_AWAY = frozenset(
    {("top", "include"), ("include", "path"), ("include", "env_file"), ("include", "project_directory"),
     ("service", "env_file"), ("service", "label_file"), ("service", "extends"), ("extends", "file"),
     ("env_file", "path")}
)  # fmt: skip


# -- the walk ------------------------------------------------------------------------------


def _walk(
    level: str, obj: dict[str, Any], where: str, path: str, root: Path, *, values: bool
) -> Iterator[Refusal]:
    """Every refusal in ``obj``, an object of ``level``; without ``values``, only unknown keys."""
    keys = LEVELS[level]
    for name, value in obj.items():
        if isinstance(name, str) and name.startswith("x-"):
            continue  # extension fields: Compose ignores them
        shown = f"{path}{name}"
        place = _Place(where, shown, root)
        key = keys.get(name) if isinstance(name, str) else None
        if key is None:
            yield (
                "",
                _(
                    "{where} : la clé « {key} » est inconnue du correcteur, qui la refuse par prudence ; retirez-la."
                ).format(where=where, key=shown),
            )
            continue
        if key.decision == "refused":
            if values:
                yield _refused(place, key.rule)
            continue
        if value is None:
            continue
        check = CHECKS.get((level, name))
        if values and check is not None:
            yield from check(value, obj, place)
        if key.children:
            yield from _children(key.children, key.shape, name, value, where, shown, root, values=values)


def _children(
    level: str, shape: str, name: str, value: Any, where: str, shown: str, root: Path, *, values: bool
) -> Iterator[Refusal]:
    if level in ("service", "network", "volume", "secret", "config"):  # the owners a sentence names
        for owned, item in value.items() if isinstance(value, dict) else []:
            if isinstance(item, dict):
                yield from _walk(level, item, _owner(name, str(owned)), "", root, values=values)
    elif shape == "map" and isinstance(value, dict):
        for item_name, item in value.items():
            if isinstance(item, dict):
                yield from _walk(level, item, where, f"{shown}.{item_name}.", root, values=values)
    elif shape == "list" and isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                yield from _walk(level, item, where, f"{shown}.", root, values=values)
    elif isinstance(value, dict):
        yield from _walk(level, value, where, f"{shown}.", root, values=values)


def violations(model: dict[str, Any], root: Path) -> Iterator[Refusal]:
    """Every reason to refuse the resolved ``model``: (rule, a sentence for the student).

    ``root`` is the submission. The rule is what ``policy.allow`` names to relax it; "" for
    a key the grader does not know, which nothing relaxes.
    """
    yield from _walk("top", model, _("le fichier Compose"), "", root, values=True)


def raw_violations(document: dict[str, Any], origin: str, root: Path) -> Iterator[Refusal]:
    """Keys of one raw Compose file (``origin``) the grader does not know, before Compose reads it.

    A known key Compose could read a file through is proven by :mod:`harness.compose_files`;
    an unknown one might be such a key. Refused keys wait for the resolved model
    (:func:`enforce`, before the build): ``config`` runs nothing, and a check that only reads
    the file (is it valid Compose?) still may.
    """
    for rule, sentence in _walk("top", document, _("le fichier Compose"), "", root, values=False):
        yield rule, f"{origin} › {sentence}"


def _raise_if_any(found: list[str]) -> None:
    if found:
        raise PolicyViolation(
            _("La remise demande ce que le bac à sable refuse ; rien n'a été lancé."),
            details="\n".join(f"- {line}" for line in dict.fromkeys(found)),
        )


def enforce_file_references(compose_file: Path, root: Path, allow: frozenset[str] = frozenset()) -> None:
    """Refuse a Compose project whose files make ``config`` read outside the submission, or use a
    key the grader does not allow, before ``config`` reads anything."""
    sources = read_sources(compose_file, root)
    found = [sentence for rule, sentence in sources.refusals if rule not in allow]
    for origin, document in sources.documents:
        found += [sentence for rule, sentence in raw_violations(document, origin, root) if rule not in allow]
    _raise_if_any(found)


def enforce(model: dict[str, Any], root: Path, allow: frozenset[str] = frozenset()) -> None:
    """Raise :class:`PolicyViolation` listing every refusal not in ``allow``, if there is any."""
    _raise_if_any([sentence for rule, sentence in violations(model, root) if rule not in allow])
