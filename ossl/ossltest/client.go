package ossltest

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"

	"github.com/osslcache/osslcache/ossl"
)

// GoClientConfig returns a crypto/tls client configuration for servers of
// c, the counterpart of NewClientCtx with VerifyServer for crypto/tls: it
// trusts c, sends c's first DNS name, and pins version v (TLS 1.2 and 1.3
// when 0; crypto/tls numbers versions as libssl does). Set its
// ClientSessionCache to resume.
func (c *Certificate) GoClientConfig(v ossl.Version) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(c.Leaf)
	lo, hi := bounds(v)
	return &tls.Config{RootCAs: pool, ServerName: c.Leaf.DNSNames[0], MinVersion: uint16(lo), MaxVersion: uint16(hi)}
}

// HalfCloser is a connection whose writing side can end alone: *ossl.Conn
// and *tls.Conn (close_notify), *net.TCPConn.
type HalfCloser interface {
	io.ReadWriter
	CloseWrite() error
}

// EchoLine sends line and a newline over c and checks that the same comes
// back: one round trip through an echo server such as Echo. On TLS 1.3 the
// client has then read the tickets the server sent after the handshake.
func EchoLine(c io.ReadWriter, line string) error {
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return err
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if got != line+"\n" {
		return fmt.Errorf("ossltest: echo %q, want %q", got, line+"\n")
	}
	return nil
}

// Exchange is a client's whole conversation with an echo server: EchoLine,
// a half-close (close_notify over TLS), then reading to the server's end,
// which must bring nothing more. A clean end keeps a TLS session
// resumable.
func Exchange(c HalfCloser, line string) error {
	if err := EchoLine(c, line); err != nil {
		return err
	}
	if err := c.CloseWrite(); err != nil {
		return err
	}
	rest, err := io.ReadAll(c)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("ossltest: %d unexpected bytes after the echo", len(rest))
	}
	return nil
}
