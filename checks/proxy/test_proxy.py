"""proxy/: nginx on port 8080 in front of two replicas of a small app.

The build, the app's ports, health and user are declared checks (assignment.yaml); what is
particular to this lab is here: the declared restart policy, and what the proxy answers.
"""

from __future__ import annotations

from typing import Any

from harness import HttpResponse, Stack, _, check

APP = "app"
PROXY = "proxy"
#: The proxy's container port, and the host port the statement asks it to be published on.
PROXY_PORT = 80
PUBLISHED_PORT = "8080"
#: Requests sent through the proxy to see the replicas take turns (nginx alternates them).
REQUESTS = 20
#: Restart policies that bring a stopped app back (``no`` is the default, when none is declared).
RESTARTING = ("always", "unless-stopped", "on-failure")


@check("proxy.restart_policy")
def test_app_declares_a_restart_policy(proxy: Stack) -> None:
    policy = proxy.service(APP).restart_policy()
    assert policy.partition(":")[0] in RESTARTING, _(
        "Le service app ne déclare pas de politique de redémarrage (trouvé : {policy}) : ajoutez "
        "restart: unless-stopped (ou always, on-failure) pour qu'une réplique arrêtée reparte "
        "(notion : politiques de redémarrage)."
    ).format(policy=policy)


@check("proxy.serves_app")
def test_proxy_serves_the_app_json_on_8080(proxy: Stack) -> None:
    ports = proxy.service(PROXY).declared.get("ports") or []
    assert any(str(p.get("published")) == PUBLISHED_PORT and p.get("target") == PROXY_PORT for p in ports), _(
        'Le service proxy doit publier son port 80 sur le port 8080 de l\'hôte (ports: ["8080:80"]) ; '
        "trouvé : {ports}."
    ).format(ports=_ports(ports) or _("aucun"))
    _instance(proxy.up(services=[PROXY]).service(PROXY).get("/", port=PROXY_PORT))


@check("proxy.balances")
def test_requests_reach_both_replicas(proxy: Stack) -> None:
    service = proxy.up(services=[PROXY]).service(PROXY)
    instances = [_instance(service.get("/", port=PROXY_PORT)) for _i in range(REQUESTS)]
    assert len(set(instances)) >= 2, _(
        "Sur {n} requêtes GET / au proxy, une seule instance a répondu ({instance}) : l'app doit "
        "tourner en 2 répliques (deploy.replicas: 2) et le proxy doit les joindre par le nom du "
        "service, app (notion : répliques et répartition de charge)."
    ).format(n=REQUESTS, instance=instances[0])


def _instance(response: HttpResponse) -> str:
    """The ``instance`` of the app's answer relayed by the proxy, or a failure saying what came instead."""
    try:
        data = response.json()
    except (ValueError, UnicodeDecodeError):
        data = None
    instance = data.get("instance") if isinstance(data, dict) else None
    if response.status != 200 or not isinstance(instance, str) or not instance:
        raise AssertionError(
            _(
                'GET / sur le port 8080 du proxy doit renvoyer la réponse de l\'app, {{"instance": "<nom '
                "d'hôte>\"}} avec le code 200 ; reçu : code {status}, corps {body}. Vérifiez que la "
                "configuration nginx (proxy_pass) transmet vers le service app (notion : proxy inverse)."
            ).format(status=response.status, body=_clip(response.text))
        )
    return instance


def _ports(ports: list[dict[str, Any]]) -> str:
    """Published ports as a Compose file writes them: ``8080:80``, or ``8000`` when Docker picks the host port."""
    return ", ".join(
        f"{p['published']}:{p.get('target')}" if p.get("published") else str(p.get("target")) for p in ports
    )


def _clip(text: str, width: int = 120) -> str:
    """An answer's text on one line, cut to ``width`` characters."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"
