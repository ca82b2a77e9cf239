"""compteur/: a counter on port 8080 whose count lives in /data (a named volume)."""

from __future__ import annotations

from harness import HttpResponse, Service, Stack, _, check

PORT = 8080
PATH = "/compteur"


def _count(response: HttpResponse, action: str) -> int:
    """The N of ``{"etudiants": N}``, or a failure saying what was received instead."""
    try:
        data = response.json()
    except (ValueError, UnicodeDecodeError):
        data = None
    if response.status != 200 or not isinstance(data, dict) or not isinstance(data.get("etudiants"), int):
        raise AssertionError(
            _(
                '{action} /compteur doit répondre 200 avec {{"etudiants": N}} ; reçu : code {status}, corps {body}'
            ).format(action=action, status=response.status, body=response.text[:200])
        )
    return int(data["etudiants"])


def _get(service: Service) -> int:
    return _count(service.get(PATH, port=PORT), "GET")


def _post(service: Service) -> int:
    return _count(service.http("POST", PATH, port=PORT), "POST")


@check("compteur.counter_api")
def test_compteur_get_and_post_count(compteur: Stack) -> None:
    service = compteur.up().service("compteur")
    before = _get(service)
    after_post = _post(service)
    assert after_post == before + 1, _(
        "POST /compteur doit renvoyer {expected} (compte + 1), reçu {got}."
    ).format(expected=before + 1, got=after_post)
    again = _get(service)
    assert again == after_post, _(
        "Après un POST, GET /compteur doit renvoyer {expected}, reçu {got}."
    ).format(expected=after_post, got=again)


@check("compteur.volume_persists")
def test_compteur_count_survives_its_container(compteur: Stack) -> None:
    # Counts on from wherever the count is (compteur.counter_api may have left it at 1): starting
    # on a fresh volume would cost one more container, and the fresh-volume case is tested last.
    service = compteur.up().service("compteur")
    start = _get(service)
    for _i in range(3):
        _post(service)
    kept = _get(compteur.recreate("compteur"))
    assert kept == start + 3, _(
        "Après 3 POST, suppression du conteneur et nouveau conteneur sur le même volume nommé, "
        "GET /compteur renvoie {got} au lieu de {expected} : le compte doit être écrit dans /data "
        "(notion : volumes nommés)."
    ).format(got=kept, expected=start + 3)
    fresh = _get(compteur.renew_volumes().up().service("compteur"))
    assert fresh == 0, _("Sur un volume neuf, GET /compteur doit renvoyer 0, reçu {got}.").format(got=fresh)
