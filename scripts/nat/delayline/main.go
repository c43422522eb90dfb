//go:build linux

package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

const ethPAll = 0x0003 // ETH_P_ALL

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func open(name string) (int, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return -1, err
	}
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW, int(htons(ethPAll)))
	if err != nil {
		return -1, fmt.Errorf("packet socket: %w", err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrLinklayer{Protocol: htons(ethPAll), Ifindex: ifi.Index}); err != nil {
		syscall.Close(fd)
		return -1, fmt.Errorf("bind %s: %w", name, err)
	}
	return fd, nil
}

type frame struct {
	b   []byte
	due time.Time
}

// pipe copies frames from in to out: drop with probability loss, else
// deliver delay later, in order.
func pipe(in, out int, delay time.Duration, loss float64, stats *[2]atomic.Uint64) {
	q := make(chan frame, 8192)
	go func() {
		for f := range q {
			if d := time.Until(f.due); d > 0 {
				time.Sleep(d)
			}
			_, _ = syscall.Write(out, f.b)
		}
	}()
	buf := make([]byte, 65536)
	for {
		n, from, err := syscall.Recvfrom(in, buf, 0)
		if err != nil {
			if err == syscall.EINTR || err == syscall.ENETDOWN {
				// ENETDOWN reports a link state change of the interface
				// (it was moved off a bridge or brought up) and clears.
				time.Sleep(10 * time.Millisecond)
				continue
			}
			fmt.Fprintln(os.Stderr, "delayline:", err)
			os.Exit(1)
		}
		if ll, ok := from.(*syscall.SockaddrLinklayer); ok && ll.Pkttype == syscall.PACKET_OUTGOING {
			continue // our own writes, seen on the way out
		}
		if rand.Float64() < loss {
			stats[1].Add(1)
			continue
		}
		stats[0].Add(1)
		select {
		case q <- frame{b: append([]byte(nil), buf[:n]...), due: time.Now().Add(delay)}:
		default: // queue full: a drop, like a full link
			stats[1].Add(1)
		}
	}
}

func main() {
	a := flag.String("a", "", "first interface")
	b := flag.String("b", "", "second interface")
	delay := flag.Duration("delay", 50*time.Millisecond, "one-way delay")
	loss := flag.Float64("loss", 15, "loss in percent, each direction")
	flag.Parse()
	if *a == "" || *b == "" || *loss < 0 || *loss > 100 || *delay < 0 {
		flag.Usage()
		os.Exit(2)
	}
	fa, err := open(*a)
	if err != nil {
		fmt.Fprintln(os.Stderr, "delayline:", err)
		os.Exit(1)
	}
	fb, err := open(*b)
	if err != nil {
		fmt.Fprintln(os.Stderr, "delayline:", err)
		os.Exit(1)
	}
	var ab, ba [2]atomic.Uint64
	go pipe(fa, fb, *delay, *loss/100, &ab)
	go pipe(fb, fa, *delay, *loss/100, &ba)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	fmt.Printf("delayline %s<->%s: %d frames passed, %d dropped\n", *a, *b, ab[0].Load()+ba[0].Load(), ab[1].Load()+ba[1].Load())
}
