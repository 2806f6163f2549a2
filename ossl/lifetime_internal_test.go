package ossl

import (
	"encoding/asn1"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestCloseKeepsItsObjectAcrossStop holds open the window of every Close
// between reading the object's cleanup and stopping it, with collections
// in it, on objects whose last reference the Close drops. Before the fix
// (issue 11's heap abort), the collection queued the cleanup and the
// SSL_SESSION (or SSL_CTX, SSL, BIO pair) was freed twice: under -asan
// "attempting double-free", under glibc "free(): corrupted unsorted
// chunks".
func TestCloseKeepsItsObjectAcrossStop(t *testing.T) {
	hook := func() {
		runtime.GC()
		runtime.GC()
		time.Sleep(5 * time.Millisecond) // cleanups run on their own goroutines
	}
	testHookBeforeStop.Store(&hook)
	defer testHookBeforeStop.Store(nil)

	ctx, err := NewCtx(Config{Role: RoleAny})
	require.NoError(t, err)
	ssl, err := ctx.NewSSL()
	require.NoError(t, err)
	ssl.Close()
	raw, peer := net.Pipe()
	defer peer.Close()
	conn, err := Server(raw, ctx)
	require.NoError(t, err)
	conn.free()
	ctx.Close()

	s, err := UnmarshalSession(minimalSessionDER(t))
	require.NoError(t, err)
	s.Close()
}

// minimalSessionDER encodes the fewest fields of SSL_SESSION_ASN1 that
// d2i_SSL_SESSION takes: a TLS 1.2 session with an ID and a master key.
func minimalSessionDER(t *testing.T) []byte {
	der, err := asn1.Marshal(struct {
		Version, SSLVersion          int
		Cipher, SessionID, MasterKey []byte
	}{1, 0x0303, []byte{0x00, 0x9c}, make([]byte, 32), make([]byte, 48)})
	require.NoError(t, err)
	return der
}
