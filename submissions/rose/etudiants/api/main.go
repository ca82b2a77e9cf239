// api: le service web du laboratoire.
//
//	GET /etudiants -> [{"id": 1, "nom": "Tremblay", "prenom": "Élodie"}, ...]
//
// Le mot de passe root de la base est lu dans le secret /run/secrets/db_password ;
// la base est jointe par son alias réseau « mysql ».
package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"strings"

	_ "github.com/go-sql-driver/mysql"
)

type etudiant struct {
	ID     int    `json:"id"`
	Nom    string `json:"nom"`
	Prenom string `json:"prenom"`
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}

func openDB() (*sql.DB, error) {
	secret := envOr("DB_PASSWORD_FILE", "/run/secrets/db_password")
	raw, err := os.ReadFile(secret)
	if err != nil {
		return nil, fmt.Errorf("secret %s illisible: %w", secret, err)
	}
	password := strings.TrimRight(string(raw), "\r\n")
	dsn := fmt.Sprintf("root:%s@tcp(%s:3306)/cours2?charset=utf8mb4&collation=utf8mb4_unicode_ci",
		password, envOr("DB_HOST", "mysql"))
	return sql.Open("mysql", dsn)
}

func main() {
	db, err := openDB()
	if err != nil {
		log.Fatal(err)
	}
	http.HandleFunc("/etudiants", func(w http.ResponseWriter, r *http.Request) {
		rows, err := db.Query("SELECT id, nom, prenom FROM etudiants ORDER BY id")
		if err != nil {
			http.Error(w, "base de données injoignable", http.StatusServiceUnavailable)
			log.Println(err)
			return
		}
		defer rows.Close()
		list := []etudiant{}
		for rows.Next() {
			var e etudiant
			if err := rows.Scan(&e.ID, &e.Nom, &e.Prenom); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			list = append(list, e)
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_ = json.NewEncoder(w).Encode(list)
	})
	log.Println("api: écoute sur :8080")
	log.Fatal(http.ListenAndServe(":8080", nil))
}
