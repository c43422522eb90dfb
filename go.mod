module github.com/goreload/reload

go 1.26
