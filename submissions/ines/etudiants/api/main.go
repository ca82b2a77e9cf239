// api: renvoie la liste des étudiants (copiée à la main depuis etudiants.sql).
package main

import (
	"log"
	"net/http"
)

const etudiants = `[{"id":1,"nom":"Tremblay","prenom":"Élodie"},{"id":2,"nom":"Gagnon","prenom":"François"},` +
	`{"id":3,"nom":"Côté","prenom":"Zoé"},{"id":4,"nom":"Bélanger","prenom":"Jérôme"},` +
	`{"id":5,"nom":"Lévesque","prenom":"Anaïs"},{"id":6,"nom":"Bouchard","prenom":"Noël"},` +
	`{"id":7,"nom":"Gauthier","prenom":"Maëlle"},{"id":8,"nom":"Ouellet","prenom":"Jean-Sébastien"},` +
	`{"id":9,"nom":"D'Amours","prenom":"Chloé"},{"id":10,"nom":"Pelletier","prenom":"Benoît"}]`

func main() {
	http.HandleFunc("/etudiants", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write([]byte(etudiants))
	})
	log.Fatal(http.ListenAndServe(":8080", nil))
}
