"""Compteur d'étudiants (cours 2).

GET  /compteur -> {"etudiants": N}
POST /compteur -> ajoute 1 et renvoie {"etudiants": N+1}

Le compte est gardé dans /data/compteur.txt, pour qu'il survive au conteneur (volume nommé).
"""

import json
import os
from http.server import BaseHTTPRequestHandler, HTTPServer

DOSSIER = os.environ.get("DATA_DIR", "/data")
FICHIER = os.path.join(DOSSIER, "compteur.txt")


def lire_compte():
    try:
        with open(FICHIER, encoding="utf-8") as f:
            return int(f.read().strip() or 0)
    except FileNotFoundError:
        return 0


def ecrire_compte(n):
    with open(FICHIER, "w", encoding="utf-8") as f:
        f.write(f"{n}\n")


class Compteur(BaseHTTPRequestHandler):
    def envoyer(self, n):
        corps = json.dumps({"etudiants": n}).encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(corps)))
        self.end_headers()
        self.wfile.write(corps)

    def do_GET(self):
        if self.path != "/compteur":
            self.send_error(404, "Rien ici : essayez /compteur")
            return
        self.envoyer(lire_compte())

    def do_POST(self):
        if self.path != "/compteur":
            self.send_error(404, "Rien ici : essayez /compteur")
            return
        n = lire_compte() + 1
        ecrire_compte(n)
        self.envoyer(n)


if __name__ == "__main__":
    os.makedirs(DOSSIER, exist_ok=True)
    print("compteur : écoute sur le port 8080, données dans", DOSSIER, flush=True)
    HTTPServer(("", 8080), Compteur).serve_forever()
