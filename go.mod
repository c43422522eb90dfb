module github.com/goreload/reload

go 1.26

require (
	github.com/pion/dtls/v3 v3.1.15
	github.com/pion/transport/v5 v5.0.1
	go.uber.org/goleak v1.3.0
)

require (
	github.com/pion/logging v0.2.4 // indirect
	golang.org/x/crypto v0.51.0 // indirect
	golang.org/x/net v0.55.0 // indirect
	golang.org/x/sys v0.45.0 // indirect
)
