package ossltest

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// Serve accepts connections on l until the test ends, handling each on its
// own goroutine; at cleanup it closes l and waits for every handler.
func Serve(tb testing.TB, l net.Listener, handle func(net.Conn)) {
	tb.Helper()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				handle(c)
			}()
		}
	}()
	tb.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
}

// EchoServer runs a plaintext TCP echo server on loopback until the test
// ends (a stand-in upstream for proxies); each connection may live for
// limit. It returns the server's address.
func EchoServer(tb testing.TB, limit time.Duration) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	Serve(tb, l, func(c net.Conn) {
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(limit))
		_, _ = io.Copy(c, c)
		_ = c.(*net.TCPConn).CloseWrite()
	})
	return l.Addr().String()
}
