"""siteweb/: an nginx image that serves the student's site on port 80."""

from __future__ import annotations

import difflib

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
        "GET / ne renvoie pas le contenu de siteweb/files/index.html. Première différence "
        "(attendu → observé) :\n{diff}\nNotion à revoir : COPY des fichiers du site dans l'image."
    ).format(diff=first_difference(expected, response.body))


def first_difference(expected: bytes, observed: bytes, context: int = 6) -> str:
    """The first lines where ``observed`` departs from ``expected``, as a short unified diff."""
    diff = difflib.unified_diff(
        expected.decode("utf-8", "replace").splitlines(),
        observed.decode("utf-8", "replace").splitlines(),
        "attendu",
        "observé",
        lineterm="",
        n=1,
    )
    lines = list(diff)[2:]
    return "\n".join(lines[: context * 2]) or _("(même texte, octets différents : encodage ou fins de ligne)")
