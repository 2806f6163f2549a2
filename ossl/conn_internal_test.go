package ossl

import (
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConnTransport checks which transport a Conn gets: libssl on the
// socket for a *net.TCPConn only, a BIO pair for anything else (a wrapper
// around one too), or when forced.
func TestConnTransport(t *testing.T) {
	ctx, err := NewCtx(Config{Role: RoleServer})
	require.NoError(t, err)
	defer ctx.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	tcp, err := net.Dial("tcp", l.Addr().String())
	require.NoError(t, err)
	defer tcp.Close()
	pipe, peer := net.Pipe()
	defer pipe.Close()
	defer peer.Close()
	tests := []struct {
		name   string
		conn   net.Conn
		force  bool
		socket bool
	}{
		{"TCP", tcp, false, true},
		{"TCP, BIO pair forced", tcp, true, false},
		{"net.Pipe", pipe, false, false},
		{"a wrapped TCP conn", struct{ net.Conn }{tcp}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forceBIOPair.Store(tt.force)
			defer forceBIOPair.Store(false)
			c, err := Server(tt.conn, ctx)
			require.NoError(t, err)
			defer c.free()
			assert.Equal(t, tt.socket, c.rc != nil)
			assert.Equal(t, tt.socket, c.c.bio == nil, "no pair over the socket")
			assert.Equal(t, tt.socket, c.rbuf == nil && c.fbuf == nil, "no Go buffers over the socket")
			assert.Nil(t, c.c.wbuf, "no write buffer before a write")
		})
	}
}
