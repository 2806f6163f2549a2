package ossltest

import (
	"context"
	"io"
	"net"
	"sync"
	"time"

	"github.com/osslcache/osslcache/ossl"
)

// DefaultConnTimeout bounds each connection of a Server, handshake and
// handler, so that a bug fails a test instead of hanging it.
const DefaultConnTimeout = 30 * time.Second

// Server is a TLS server on a loopback port whose connections libssl serves
// (ossl.Conn), in the manner of httptest.Server.
type Server struct {
	// Addr is the server's host:port.
	Addr string
	// Ctx serves every connection.
	Ctx *ossl.Ctx

	l       net.Listener
	handler func(*ossl.Conn)
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	closed  bool
}

// NewServer starts a server of ctx on 127.0.0.1 and an ephemeral port.
// handler gets each connection before its handshake (which its first Read
// or Write, or its HandshakeContext, runs) and the Server closes the
// connection when handler returns; a nil handler echoes what the client
// sends until it closes. Each connection lives at most
// DefaultConnTimeout. As httptest.NewServer, it panics if it cannot
// listen.
func NewServer(ctx *ossl.Ctx, handler func(*ossl.Conn)) *Server {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic("ossltest: listen: " + err.Error())
	}
	if handler == nil {
		handler = Echo
	}
	s := &Server{Addr: l.Addr().String(), Ctx: ctx, l: l, handler: handler, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go s.serve()
	return s
}

// Echo is the default handler: it copies what the client sends back to
// it until the client's EOF, then sends close_notify.
func Echo(c *ossl.Conn) {
	if _, err := io.Copy(c, c); err == nil {
		_ = c.CloseWrite()
	}
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		raw, err := s.l.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			raw.Close()
			return
		}
		s.conns[raw] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.handle(raw)
	}
}

func (s *Server) handle(raw net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, raw)
		s.mu.Unlock()
	}()
	_ = raw.SetDeadline(time.Now().Add(DefaultConnTimeout))
	c, err := ossl.Server(raw, s.Ctx)
	if err != nil {
		raw.Close()
		return
	}
	defer c.Close()
	s.handler(c)
}

// Dial connects to the server with a client of clientCtx set up by cfg,
// and runs the handshake.
func (s *Server) Dial(clientCtx *ossl.Ctx, cfg ossl.ClientConfig) (*ossl.Conn, error) {
	return Dial(s.Addr, clientCtx, cfg)
}

// Dial connects to addr with a client of clientCtx set up by cfg, and runs
// the handshake within DefaultConnTimeout.
func Dial(addr string, clientCtx *ossl.Ctx, cfg ossl.ClientConfig) (*ossl.Conn, error) {
	raw, err := net.DialTimeout("tcp", addr, DefaultConnTimeout)
	if err != nil {
		return nil, err
	}
	_ = raw.SetDeadline(time.Now().Add(DefaultConnTimeout))
	c, err := ossl.Client(raw, clientCtx, cfg)
	if err != nil {
		raw.Close()
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), DefaultConnTimeout)
	defer cancel()
	if err := c.HandshakeContext(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Close stops accepting, breaks the connections still open and waits for
// their handlers.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.l.Close()
	s.wg.Wait()
}
