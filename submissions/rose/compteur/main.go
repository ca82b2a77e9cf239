// compteur: un compteur d'étudiants persistant.
//
//	GET  /compteur  -> {"etudiants": N}
//	POST /compteur  -> ajoute 1, renvoie {"etudiants": N+1}
//
// Le compte est gardé dans /data/compteur.txt (un volume nommé en production).
package main

import (
	"encoding/json"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

var (
	dataDir = envOr("DATA_DIR", "/data")
	mu      sync.Mutex
)

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}

func countFile() string { return filepath.Join(dataDir, "compteur.txt") }

func read() (int, error) {
	raw, err := os.ReadFile(countFile())
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(raw)))
}

func write(n int) error {
	tmp := countFile() + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(n)+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, countFile())
}

func compteur(w http.ResponseWriter, r *http.Request) {
	mu.Lock()
	defer mu.Unlock()
	n, err := read()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	switch r.Method {
	case http.MethodGet:
	case http.MethodPost:
		n++
		if err := write(n); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "méthode non permise", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(map[string]int{"etudiants": n})
}

func main() {
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		log.Fatal(err)
	}
	http.HandleFunc("/compteur", compteur)
	log.Println("compteur: écoute sur :8080, données dans", dataDir)
	log.Fatal(http.ListenAndServe(":8080", nil))
}
