"""siteweb/: an nginx image that serves the student's site on port 80."""

from __future__ import annotations

from harness import _, check
from harness.grading import Grading
from harness.target import Stack


@check("siteweb.builds")
def test_siteweb_image_builds(siteweb: Stack) -> None:
    siteweb.build()


@check("siteweb.serves_site")
def test_siteweb_serves_the_submitted_index(siteweb: Stack, grading: Grading) -> None:
    expected = (grading.part_dir("siteweb") / "files" / "index.html").read_bytes()
    response = siteweb.up().service("siteweb").get("/", port=80)
    assert response.status == 200, _(
        "GET / renvoie le code HTTP {status} au lieu de 200. Vérifiez que le site est copié dans "
        "/usr/share/nginx/html (notion : COPY dans un Dockerfile)."
    ).format(status=response.status)
    assert response.body == expected, _(
        "GET / ne renvoie pas le contenu de siteweb/files/index.html. Première différence, {diff}\n"
        "Notion à revoir : COPY des fichiers du site dans l'image (dossier /usr/share/nginx/html)."
    ).format(diff=first_difference(expected, response.body))


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
