//go:build !linux

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "delayline: needs Linux (AF_PACKET sockets)")
	os.Exit(1)
}
