"""registry (hidden): the siteweb image named in IMAGE pulls from its registry and serves the same site."""

from __future__ import annotations

import pytest

from harness import Grading, InfrastructureError, _, check, registry_host, registry_listed


@check("registry.image_pullable")
def test_named_image_pulls_and_serves_the_site(grading: Grading) -> None:
    image_file = grading.submission / "IMAGE"
    if not image_file.is_file():
        pytest.skip(_("Pas de fichier IMAGE : rien à tirer d'un registre."))
    image = grading.read_bytes(image_file).decode("utf-8", "replace").strip().splitlines()[0].strip()
    host = registry_host(image)
    if not registry_listed(host):
        pytest.skip(_("Le registre {host} n'est pas accessible depuis ce correcteur.").format(host=host))
    already_here = grading.image_present(image)
    try:
        found = grading.pull(image)
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
            stack.down(volumes=True)
            grading.remove_image(image)
