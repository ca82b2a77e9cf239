-- Jeu de données du laboratoire (cours 2). UTF-8 ; la base et la connexion sont en utf8mb4.
SET NAMES utf8mb4;
CREATE DATABASE IF NOT EXISTS cours2 CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
USE cours2;
CREATE TABLE IF NOT EXISTS etudiants (
  id INT PRIMARY KEY,
  nom VARCHAR(100),
  prenom VARCHAR(100)
) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
INSERT INTO etudiants (id, nom, prenom) VALUES
  (1, 'Tremblay', 'Élodie'),
  (2, 'Gagnon', 'François'),
  (3, 'Côté', 'Zoé'),
  (4, 'Bélanger', 'Jérôme'),
  (5, 'Lévesque', 'Anaïs'),
  (6, 'Bouchard', 'Noël'),
  (7, 'Gauthier', 'Maëlle'),
  (8, 'Ouellet', 'Jean-Sébastien'),
  (9, 'D''Amours', 'Chloé'),
  (10, 'Pelletier', 'Benoît');
