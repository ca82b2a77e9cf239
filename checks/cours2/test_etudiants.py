"""etudiants/: a Compose project with db (MariaDB/MySQL) and api (Go), a secret, a network alias.

The checks run in this file's order: the ones that take the stack down come last.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import TYPE_CHECKING, Any

from harness import BuildSteps, Grading, _, check, go_toolchain_paths

if TYPE_CHECKING:  # test modules cannot import conftest at run time (importlib import mode)
    from conftest import Etudiants

SECRET = "db_password"
SECRET_PATH = "/run/secrets/db_password"
ALIAS = "mysql"

PORT = 8080
PROBE_IMAGE = "debian:bookworm-slim"
MIB = 1024 * 1024
_DEPENDENCY_STEP = re.compile(r"\b(apt-get|apt|apk|yum|dnf|pip3?|npm|go (get|mod download|install))\b")
_COMPILE_STEP = re.compile(r"\bgo build\b")


def _compile_is_last(dockerfile: str) -> bool:
    """Whether a RUN compiles with `go build` and no RUN after it (any stage) installs dependencies."""
    runs = [
        line
        for line in re.sub(r"\\\s*\n", " ", dockerfile).splitlines()
        if line.strip().upper().startswith("RUN ")
    ]
    compiling = [i for i, line in enumerate(runs) if _COMPILE_STEP.search(line)]
    return bool(compiling) and not any(_DEPENDENCY_STEP.search(line) for line in runs[compiling[0] + 1 :])


def _api(etudiants: Etudiants) -> Any:
    return etudiants.stack.up().service("api")


def _records(etudiants: Etudiants) -> set[tuple[Any, ...]]:
    """GET /etudiants as a set of (id, nom, prenom), or a failure saying what came back."""
    response = _api(etudiants).get("/etudiants", port=PORT)
    try:
        data = response.json()
    except (ValueError, UnicodeDecodeError):
        data = None
    ok = response.status == 200 and isinstance(data, list)
    ok = ok and all(isinstance(r, dict) and {"id", "nom", "prenom"} <= set(r) for r in data)
    assert ok, _(
        "GET /etudiants doit répondre 200 avec un tableau JSON d'objets {{id, nom, prenom}} ; reçu : code "
        "{status}, corps {body}"
    ).format(status=response.status, body=response.text[:300])
    return {(r["id"], r["nom"], r["prenom"]) for r in data}


def _by_id(record: tuple[Any, ...]) -> tuple[int, int, str]:
    """Numeric ids in order first, then anything else a student's API returned as an id."""
    return (0, record[0], "") if isinstance(record[0], int) else (1, 0, str(record[0]))


def _fmt(records: set[tuple[Any, ...]] | list[tuple[Any, ...]]) -> str:
    return "; ".join(f"{i} {n} {p}" for i, n, p in sorted(records, key=_by_id))


@check("etudiants.compose_valid")
def test_compose_file_declares_the_lab_contract(etudiants: Etudiants) -> None:
    model = etudiants.model
    services = model.get("services") or {}
    problems = [_("service « {s} » absent").format(s=s) for s in ("db", "api") if s not in services]
    key = etudiants.network_key()
    if key is None:
        problems.append(_("réseau nommé « cours2 » absent"))
    else:
        for name in ("db", "api"):
            if name in services and key not in (services[name].get("networks") or {}):
                problems.append(_("« {s} » n'est pas sur le réseau cours2").format(s=name))
        aliases = ((services.get("db", {}).get("networks") or {}).get(key) or {}).get("aliases") or []
        if ALIAS not in aliases:
            problems.append(_("« db » n'a pas l'alias « mysql » sur le réseau cours2"))
    secret = (model.get("secrets") or {}).get(SECRET) or {}
    if not str(secret.get("file", "")).endswith("secrets/db_password.txt"):
        problems.append(_("secret « db_password » absent ou pas lu dans secrets/db_password.txt"))
    for name in ("db", "api"):
        used = [s.get("source") for s in (services.get(name, {}).get("secrets") or [])]
        if name in services and SECRET not in used:
            problems.append(_("« {s} » ne reçoit pas le secret db_password").format(s=name))
    assert not problems, _("Le fichier Compose ne respecte pas l'énoncé : {problems}.").format(
        problems="; ".join(problems)
    )


@check("etudiants.compose_up")
def test_compose_builds_and_every_service_becomes_ready(etudiants: Etudiants) -> None:
    etudiants.stack.up()


@check("etudiants.network_alias")
def test_db_is_reachable_as_mysql_on_cours2_only(etudiants: Etudiants, grading: Grading) -> None:
    key = etudiants.network_key()
    assert key is not None, _("Aucun réseau nommé « cours2 » dans le fichier Compose.")
    stack = etudiants.stack.up()
    network = stack.network_name(key)
    db_ip = stack.service("db").ip_on(network)
    # One probe on cours2, one on a network of its own: both at once. `ahosts` asks for IPv4 and
    # IPv6 together: outside cours2, Docker's resolver never answers a name it does not know, and
    # `hosts` waited for each family in turn (2 s instead of 1).
    inside, outside = grading.probes(
        PROBE_IMAGE, "getent", "ahosts", ALIAS, networks=[network, grading.network("dehors")]
    )
    resolved = inside.output.split()[0] if inside.exit_code == 0 and inside.output.strip() else ""
    assert resolved and resolved == db_ip, _(
        "Un conteneur sur le réseau cours2 résout « mysql » en « {got} » au lieu de l'adresse de db ({ip}) "
        "(notion : alias réseau)."
    ).format(got=resolved or _("rien"), ip=db_ip or "?")
    assert outside.exit_code != 0, _(
        "Un conteneur hors du réseau cours2 résout quand même « mysql » : l'alias doit être propre au réseau."
    )


@check("etudiants.secret_mounted")
def test_secret_is_mounted_in_db_and_api(etudiants: Etudiants) -> None:
    stack = etudiants.stack.up()
    missing = []
    for name in ("db", "api"):
        mounts = stack.service(name).inspect().get("Mounts") or []
        if not any(m.get("Destination") == SECRET_PATH for m in mounts):
            missing.append(name)
    assert not missing, _("{path} n'est pas monté dans : {services} (notion : secrets Compose).").format(
        path=SECRET_PATH, services=", ".join(missing)
    )


def _leaks(etudiants: Etudiants, grading: Grading) -> list[str]:
    stack = etudiants.stack.up()
    candidates = [etudiants.password, etudiants.student_password]
    passwords = [p for p in candidates if p]
    traceable = [p for p in passwords if len(p) >= 6]  # shorter ones would match by chance in layers

    def contains(text: str) -> bool:
        return any(p in text for p in traceable) or any(text == p for p in passwords)

    found: list[str] = []
    for name, spec in (etudiants.model.get("services") or {}).items():
        for var, value in (spec.get("environment") or {}).items():
            if value is not None and contains(str(value)):
                found.append(
                    _("la variable {var} de « {s} » dans le fichier Compose").format(var=var, s=name)
                )
        for arg, value in ((spec.get("build") or {}).get("args") or {}).items():
            if value is not None and contains(str(value)):
                found.append(_("l'argument de construction {arg} de « {s} »").format(arg=arg, s=name))
    for name in stack.services:
        container_env = stack.service(name).inspect().get("Config", {}).get("Env") or []
        if any(contains(e.split("=", 1)[-1]) for e in container_env):
            found.append(_("l'environnement du conteneur « {s} »").format(s=name))
    for name in stack.built_services():
        config = stack.image_attrs(name).get("Config") or {}
        if any(contains(e.split("=", 1)[-1]) for e in config.get("Env") or []):
            found.append(_("l'environnement de l'image de « {s} »").format(s=name))
        if any(contains(str(v)) for v in (config.get("Labels") or {}).values()):
            found.append(_("une étiquette de l'image de « {s} »").format(s=name))
        if any(contains(line) for line in stack.image_history(name)):
            found.append(_("l'historique (docker history) de l'image de « {s} »").format(s=name))
        scan = stack.scan_image(name, [p.encode() for p in traceable])
        places = sorted({w for p in traceable for w in scan.where(p.encode())})
        if places:
            where = ", ".join(w.split(":", 1)[-1] for w in places[:3])
            found.append(_("une couche de l'image de « {s} » ({where})").format(s=name, where=where))
    return found


@check("etudiants.secret_not_leaked")
def test_password_appears_nowhere_but_the_secret(etudiants: Etudiants, grading: Grading) -> None:
    found = _leaks(etudiants, grading)
    assert not found, _(
        "Le mot de passe apparaît ailleurs que dans le secret : {places}. Il ne doit être lu que dans "
        "/run/secrets/db_password (notion : secrets, couches d'image, docker history)."
    ).format(places="; ".join(found))


@check("etudiants.json_matches_reference")
def test_api_returns_the_reference_students(etudiants: Etudiants, grading: Grading) -> None:
    got = _records(etudiants)
    expected = {tuple(r) for r in grading.fact("etudiants.records", sorted(got, key=_by_id))}
    by_id = {r[0]: r for r in expected}
    wrong = {r for r in got - expected if r[0] in by_id}
    missing = {r for r in expected - got if r[0] not in {w[0] for w in wrong}}
    extra = got - expected - wrong
    problems = []
    if missing:
        problems.append(_("manquants : {r}").format(r=_fmt(missing)))
    if extra:
        problems.append(_("en trop : {r}").format(r=_fmt(extra)))
    if wrong:
        problems.append(
            _("différents : {r} (attendu : {e})").format(r=_fmt(wrong), e=_fmt([by_id[w[0]] for w in wrong]))
        )
    assert not problems, _(
        "GET /etudiants ne renvoie pas les étudiants du jeu de données : {problems}. Vérifiez le chargement "
        "de etudiants.sql et l'encodage utf8mb4."
    ).format(problems=" ; ".join(problems))


@check("etudiants.json_reads_database")
def test_api_reads_the_database_with_the_secret(etudiants: Etudiants) -> None:
    _api(etudiants)
    new_id = 9000 + secrets.randbelow(999)
    etudiants.sql(f"INSERT INTO etudiants (id, nom, prenom) VALUES ({new_id}, 'Québec-Test', 'Éloïse')")
    got = _records(etudiants)
    assert (new_id, "Québec-Test", "Éloïse") in got, _(
        "Un étudiant ajouté dans la base (id {id}, Québec-Test Éloïse) n'apparaît pas dans GET /etudiants : "
        "l'API doit lire la base à chaque requête, avec le mot de passe du secret (notion : secrets)."
    ).format(id=new_id)


@check("etudiants.multistage_small")
def test_api_image_is_multistage_without_toolchain(etudiants: Etudiants, grading: Grading) -> None:
    dockerfile = etudiants.stack.dockerfile("api")
    assert dockerfile is not None, _("Le service api doit être construit depuis un Dockerfile (build:).")
    stages = [
        line
        for line in grading.read_bytes(dockerfile).decode("utf-8", "replace").splitlines()
        if re.match(r"\s*FROM\s", line, re.I)
    ]
    assert len(stages) >= 2, _(
        "Le Dockerfile de l'api n'a qu'une étape (FROM) : compilez dans une étape et copiez le binaire dans "
        "une image finale légère (notion : construction multi-étapes)."
    )
    toolchain = go_toolchain_paths(etudiants.stack.scan_image("api").paths)
    assert not toolchain, _(
        "L'image finale de l'api contient la chaîne Go ({paths}) : elle doit rester dans l'étape de compilation."
    ).format(paths=", ".join(toolchain[:2]))
    # What the final stage adds over the image it starts from: the base is the student's choice
    # (scratch, alpine, debian...), and an official image weighs what its registry says.
    added, base = etudiants.stack.added_size("api")
    limit = grading.assignment.threshold("api_image_added_max_mb") * 1e6
    assert added <= limit, _(
        "L'étape finale de l'image de l'api ajoute {added} Mo à son image de base ({base}) ; la limite est "
        "{limit} Mo : ne copiez que le binaire compilé (notion : construction multi-étapes)."
    ).format(added=f"{added / 1e6:.0f}", base=base or "?", limit=f"{limit / 1e6:.0f}")


@check("etudiants.build_cache")
def test_api_rebuild_after_a_code_change_reuses_dependency_layers(
    etudiants: Etudiants, grading: Grading
) -> None:
    dockerfile = etudiants.stack.dockerfile("api")
    assert dockerfile is not None, _("Le service api doit être construit depuis un Dockerfile (build:).")
    sources = sorted(dockerfile.parent.rglob("*.go"), key=lambda p: (p.name != "main.go", str(p)))
    assert sources, _("Aucun fichier source Go (*.go) dans le contexte de construction de l'api.")
    etudiants.stack.build()
    # Unique each time: content the build cache has seen before would hit the cache anyway.
    change = f"\n// modification du correcteur {secrets.token_hex(8)} : test du cache de construction\n"
    grading.write_bytes(sources[0], change.encode(), append=True)
    # The build may stop as soon as its log has the answer: a dependency step running again
    # (fails), or the compile step started with no dependency step after it, once no dependency
    # step is undecided (a step starts after those it builds on are over, so the ones before the
    # compile step are known by then). Compiling to the end would only cost time.
    steps = BuildSteps()
    compile_is_last = _compile_is_last(grading.read_bytes(dockerfile).decode("utf-8", "replace"))

    def answered(line: str | None) -> bool:
        if line is not None:
            steps.feed(line)
        now = time.monotonic()
        if any(_DEPENDENCY_STEP.search(t) for t in steps.running(now)):
            return True
        compiling = compile_is_last and any(_COMPILE_STEP.search(t) for t in steps.started())
        return compiling and not any(_DEPENDENCY_STEP.search(t) for t in steps.undecided(now))

    etudiants.stack.rebuild("api", stop_when=answered)
    # A finished build says DONE or CACHED for every step; a stopped one, what it had settled.
    redone = [text for text in steps.running(time.monotonic()) if _DEPENDENCY_STEP.search(text)]
    assert not redone, _(
        "Après une modification de {file} seulement, la reconstruction refait : {steps}. Installez les "
        "dépendances avant de copier le code (notion : cache des couches)."
    ).format(file=sources[0].name, steps="; ".join(s[:100] for s in redone))


@check("etudiants.memory_limit")
def test_api_memory_is_limited(etudiants: Etudiants, grading: Grading) -> None:
    limit = int(grading.assignment.threshold("api_memory_max_mb")) * MIB
    memory = int(etudiants.stack.up().service("api").inspect().get("HostConfig", {}).get("Memory") or 0)
    api = (etudiants.model.get("services") or {}).get("api") or {}
    declared = api.get("mem_limit") or (
        ((api.get("deploy") or {}).get("resources") or {}).get("limits") or {}
    ).get("memory")
    assert declared and 0 < memory <= limit, _(
        "La mémoire de l'api doit être limitée à {max} Mio au plus (mem_limit ou deploy.resources.limits.memory) ; "
        "observé : {got}."
    ).format(max=limit // MIB, got=f"{memory // MIB} Mio" if declared else _("aucune limite déclarée"))


@check("etudiants.db_volume_persists")
def test_database_survives_down_and_up(etudiants: Etudiants) -> None:
    stack = etudiants.stack.up()
    marker = 8000 + secrets.randbelow(999)
    etudiants.sql(f"INSERT INTO etudiants (id, nom, prenom) VALUES ({marker}, 'Persistance', 'Hélène')")
    stack.down().up()
    count = etudiants.sql(f"SELECT COUNT(*) FROM etudiants WHERE id = {marker}").strip()
    assert count == "1", _(
        "Une ligne insérée disparaît après « docker compose down » puis « up » : les données de db doivent "
        "être dans un volume nommé monté sur /var/lib/mysql (notion : volumes nommés)."
    )


@check("etudiants.compose_down_clean")
def test_compose_down_removes_containers_and_networks(etudiants: Etudiants, grading: Grading) -> None:
    left = etudiants.stack.up().down().leftovers()
    assert not left, _("Après « docker compose down », il reste : {left}.").format(left=", ".join(left))
