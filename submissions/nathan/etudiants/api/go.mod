module cours2/api

go 1.19

require github.com/go-sql-driver/mysql v1.5.0
