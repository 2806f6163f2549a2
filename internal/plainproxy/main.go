// Command plainproxy relays TCP connections to an upstream with nothing
// but package net and io.Copy, no TLS: make proxy-bench runs it beside
// nginx's stream module without TLS, so that what Go's runtime costs per
// proxied connection (goroutines, the network poller, the scheduler's
// threads) is measured apart from libssl and cgo.
//
// Usage: plainproxy LISTEN UPSTREAM
package main

import (
	"fmt"
	"io"
	"net"
	"os"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: plainproxy LISTEN UPSTREAM")
		os.Exit(2)
	}
	l, err := net.Listen("tcp", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "plainproxy:", err)
		os.Exit(1)
	}
	for {
		c, err := l.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "plainproxy:", err)
			os.Exit(1)
		}
		go relay(c.(*net.TCPConn), os.Args[2])
	}
}

// relay copies both ways, passing each side's end on as a half-close.
func relay(c *net.TCPConn, upstream string) {
	defer c.Close()
	u, err := net.Dial("tcp", upstream)
	if err != nil {
		return
	}
	up := u.(*net.TCPConn)
	defer up.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(c, up)
		_ = c.CloseWrite()
	}()
	_, _ = io.Copy(up, c)
	_ = up.CloseWrite()
	<-done
}
