module cours2/compteur

go 1.19
