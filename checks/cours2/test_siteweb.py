"""siteweb/: an nginx image that serves the student's site on port 80."""

from __future__ import annotations

import shutil
import time

from harness import Grading, Stack, _, check

HTML_ROOT = "/usr/share/nginx/html"
PROBE_BASE = "debian:bookworm-slim"


@check("siteweb.serves_site")
def test_siteweb_serves_the_submitted_index(siteweb: Stack, grading: Grading) -> None:
    expected = grading.read_bytes(grading.part_dir("siteweb") / "files" / "index.html")
    response = siteweb.up().service("siteweb").get("/", port=80)
    assert response.status == 200, _(
        "GET / renvoie le code HTTP {status} au lieu de 200. Vérifiez que le site est copié dans "
        "/usr/share/nginx/html (notion : COPY dans un Dockerfile)."
    ).format(status=response.status)
    assert response.body == expected, _(
        "GET / ne renvoie pas le contenu de siteweb/files/index.html. Première différence, {diff}\n"
        "Notion à revoir : COPY des fichiers du site dans l'image (dossier /usr/share/nginx/html)."
    ).format(diff=first_difference(expected, response.body))


@check("siteweb.bind_mount_live")
def test_siteweb_bind_mount_shows_edits_without_restart(siteweb: Stack, grading: Grading) -> None:
    siteweb.build()
    live = grading.scratch_dir("bind-mount")
    page = live / "index.html"
    first, second = b"<p>version 1</p>\n", b"<p>version 2, modifiee</p>\n"
    grading.write_bytes(page, first)
    model = {
        "services": {
            "web": {
                "image": siteweb.image_name("siteweb"),
                "ports": [{"target": 80, "protocol": "tcp"}],
                "volumes": [{"type": "bind", "source": str(live), "target": HTML_ROOT}],
            }
        }
    }
    web = grading.custom_stack("siteweb-live", model, http_ports=(80,)).up().service("web")
    served = web.get("/", port=80).body
    assert served == first, _(
        "Avec un dossier de l'hôte monté en bind sur {root}, GET / ne sert pas ce dossier. "
        "L'image doit servir le site depuis {root} (notion : montage bind)."
    ).format(root=HTML_ROOT)
    started = web.inspect()["State"]["StartedAt"]
    grading.write_bytes(page, second)
    deadline = time.monotonic() + 5
    while (served := web.get("/", port=80).body) != second and time.monotonic() < deadline:
        time.sleep(0.3)
    assert served == second, _(
        "Après modification de index.html sur l'hôte, GET / sert encore l'ancienne version : "
        "la modification doit être visible sans reconstruire ni redémarrer (notion : montage bind)."
    )
    assert web.inspect()["State"]["StartedAt"] == started, _("Le conteneur a redémarré pendant le test.")


@check("siteweb.dockerignore")
def test_siteweb_dockerignore_keeps_planted_files_out(grading: Grading) -> None:
    part = grading.part_dir("siteweb")
    assert (part / ".dockerignore").is_file(), _(
        "siteweb/.dockerignore est absent : tout le dossier (y compris .git et les fichiers temporaires) "
        "part dans le contexte de construction (notion : .dockerignore)."
    )
    probe = grading.scratch_dir("dockerignore") / "siteweb"
    shutil.copytree(part, probe, symlinks=True)
    grading.write_bytes(probe / "brouillon.tmp", "fichier temporaire planté par le correcteur\n".encode())
    grading.private_path(probe / ".git").mkdir(exist_ok=True)
    grading.write_bytes(probe / ".git" / "HEAD", b"ref: refs/heads/main\n")
    model = {
        "services": {
            "contexte": {
                "build": {
                    "context": str(probe),
                    "dockerfile_inline": f"FROM {PROBE_BASE}\nCOPY . /contexte/\n",
                }
            }
        }
    }
    stack = grading.custom_stack("siteweb-context", model).build()
    listing = grading.probe(stack.image_name("contexte"), "find", "/contexte", "-mindepth", "1").output
    leaked = [name for name in ("brouillon.tmp", ".git") if f"/contexte/{name}\n" in listing + "\n"]
    assert not leaked, _(
        "Le .dockerignore laisse entrer dans le contexte de construction : {names}. Excluez au moins "
        ".git et les fichiers *.tmp (notion : .dockerignore)."
    ).format(names=", ".join(leaked))


@check("siteweb.image_size")
def test_siteweb_image_is_small(siteweb: Stack, grading: Grading) -> None:
    size = siteweb.image_size("siteweb")
    reference = float(grading.fact("siteweb.image_size_bytes", size))
    ratio = grading.assignment.threshold("siteweb_image_size_ratio")
    assert size <= reference * ratio, _(
        "L'image siteweb fait {size} Mo ; la limite est {limit} Mo ({ratio} × la référence). Nettoyez "
        "les listes apt dans la même instruction RUN et n'installez que nginx (notion : taille des couches)."
    ).format(size=_mb(size), limit=_mb(reference * ratio), ratio=ratio)


def _mb(size: float) -> str:
    return f"{size / 1e6:.0f}"


def first_difference(expected: bytes, observed: bytes) -> str:
    """Where ``observed`` first departs from ``expected``: the line number and both lines."""
    want = expected.decode("utf-8", "replace").splitlines()
    got = observed.decode("utf-8", "replace").splitlines()
    for number, (a, b) in enumerate(zip(want, got, strict=False), start=1):
        if a != b:
            return _("ligne {n} :\n  attendu : {expected}\n  observé : {observed}").format(
                n=number, expected=_clip(a), observed=_clip(b)
            )
    if len(want) != len(got):
        return _(
            "le début est identique, mais la page attendue a {want} lignes et la page servie {got}."
        ).format(want=len(want), got=len(got))
    return _("même texte, octets différents (encodage ou fins de ligne).")


def _clip(line: str, width: int = 120) -> str:
    line = line.strip()
    return line if len(line) <= width else line[: width - 1] + "…"
