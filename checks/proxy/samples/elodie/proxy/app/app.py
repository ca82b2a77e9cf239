"""Le service app : GET / renvoie {"instance": "<nom d'hôte>"}, GET /health renvoie 200."""

from __future__ import annotations

import json
import signal
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = 8000
INSTANCE = socket.gethostname()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/":
            self.send_json(200, {"instance": INSTANCE})
        elif self.path == "/health":
            self.send_json(200, {"status": "ok"})
        else:
            self.send_json(404, {"erreur": "introuvable"})

    def send_json(self, status: int, payload: dict[str, str]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        if self.path != "/health":  # le healthcheck interroge /health toutes les 2 secondes
            super().log_message(format, *args)


def stop(signum: int, frame: object) -> None:
    sys.exit(0)


if __name__ == "__main__":
    # Processus 1 du conteneur : sans gestionnaire, SIGTERM serait ignoré et chaque arrêt attendrait.
    signal.signal(signal.SIGTERM, stop)
    ThreadingHTTPServer(("0.0.0.0", PORT), Handler).serve_forever()
