"""registry (hidden): the siteweb image named in IMAGE pulls from its registry and serves the same site."""

from __future__ import annotations

import os

import pytest

from harness import _, check
from harness.errors import InfrastructureError
from harness.grading import Grading

#: Registries the grader may pull from (host or host:port, comma-separated). Loopback by default,
#: so that grading never reaches out anywhere unless the instructor allows it.
ALLOWED = os.environ.get("GRADER_REGISTRY_HOSTS", "127.0.0.1,localhost")


def _registry_host(image: str) -> str:
    first = image.split("/", 1)[0]
    return first if "/" in image and ("." in first or ":" in first or first == "localhost") else "docker.io"


def _allowed(host: str) -> bool:
    allowed = [h.strip() for h in ALLOWED.split(",") if h.strip()]
    return any(host == h or host.split(":", 1)[0] == h for h in allowed)


@check("registry.image_pullable")
def test_named_image_pulls_and_serves_the_site(grading: Grading) -> None:
    image_file = grading.submission / "IMAGE"
    if not image_file.is_file():
        pytest.skip(_("Pas de fichier IMAGE : rien à tirer d'un registre."))
    image = grading.read_bytes(image_file).decode("utf-8", "replace").strip().splitlines()[0].strip()
    host = _registry_host(image)
    if not _allowed(host):
        pytest.skip(_("Le registre {host} n'est pas accessible depuis ce correcteur.").format(host=host))
    already_here = grading.docker.image_attrs(image) is not None
    try:
        found = grading.docker.pull(image)
    except InfrastructureError:
        pytest.skip(_("Le registre {host} ne répond pas.").format(host=host))
    assert found, _("L'image {image} est introuvable dans le registre (notion : docker push).").format(
        image=image
    )
    model = {"services": {"web": {"image": image, "ports": [{"target": 80, "protocol": "tcp"}]}}}
    stack = grading.custom_stack("registry", model, http_ports=(80,))
    try:
        response = stack.up().service("web").get("/", port=80)
        expected = grading.read_bytes(grading.part_dir("siteweb") / "files" / "index.html")
        assert response.body == expected, _(
            "L'image {image} tirée du registre ne sert pas siteweb/files/index.html : poussez la version à jour."
        ).format(image=image)
    finally:
        if not already_here:  # a pulled image carries no grader label: remove it by name
            stack.project.down(volumes=True)
            grading.docker.remove_image(image)
