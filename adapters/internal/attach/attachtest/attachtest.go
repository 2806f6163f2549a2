// Package attachtest holds the tests both adapters run against their
// library: a real server of the library on a loopback socket, whose SSL_CTX
// was attached to osslcache, resumes clients through an osslcache store.
package attachtest

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/internal/testutil"
	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/store"
)

// deadline bounds every socket operation so that a bug fails instead of
// hanging; nothing measures time.
const deadline = 30 * time.Second

// Handshaker is what both libraries' connections offer.
type Handshaker interface {
	net.Conn
	Handshake() error
}

// ServeEcho accepts on l, the library's TLS listener: each connection is
// handshaken by the library, echoes one line and is closed by the library
// (close_notify). It returns the address and a channel of the handlers'
// errors.
func ServeEcho(t *testing.T, raw net.Listener, l net.Listener) (string, <-chan error) {
	t.Helper()
	errs := make(chan error, 64)
	testutil.Serve(t, l, func(c net.Conn) { errs <- echoOnce(c) })
	return raw.Addr().String(), errs
}

func echoOnce(c net.Conn) error {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(deadline))
	if h, ok := c.(Handshaker); ok {
		if err := h.Handshake(); err != nil {
			return err
		}
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	_, err = io.WriteString(c, line)
	return err
}

// Variant is one way of resuming.
type Variant struct {
	Name     string
	Version  ossl.Version
	NoTicket bool
	// OsslClient uses an ossl client (libssl), which resumes TLS 1.2 by
	// session ID; crypto/tls resumes with tickets only.
	OsslClient bool
}

// Variants are the resumptions through the store: TLS 1.2 session IDs and
// TLS 1.3 stateful tickets.
var Variants = []Variant{
	{"tls1.2 session IDs, ossl client", ossl.VersionTLS12, true, true},
	{"tls1.3 stateful tickets, crypto/tls client", ossl.VersionTLS13, true, false},
	{"tls1.3 stateful tickets, ossl client", ossl.VersionTLS13, true, true},
}

// CheckResumption installs a fresh store.Memory as the only session cache
// of c, the attached context of the library's server at addr, then runs
// two connections: the second must resume, on both sides' word, from the
// store.
func CheckResumption(t *testing.T, c *ossl.Ctx, addr string, errs <-chan error, certPEM []byte, leaf *x509.Certificate, v Variant) {
	t.Helper()
	require.NoError(t, c.SetSessionIDContext([]byte("adapter-test")))
	_, err := c.SetSessionCacheMode(ossl.CacheServer | ossl.CacheNoInternal)
	require.NoError(t, err)
	if v.NoTicket {
		_, err = c.SetOptions(ossl.OptionNoTicket)
	} else {
		_, err = c.ClearOptions(ossl.OptionNoTicket)
	}
	require.NoError(t, err)
	mem := store.NewMemory(store.MemoryOptions{})
	t.Cleanup(mem.Close)
	require.NoError(t, c.SetSessionStore(ossl.StoreConfig{Store: mem}))
	before := c.CallbackStats()
	st0 := c.Stats()

	var connect func() bool
	if v.OsslClient {
		client, err := ossl.NewCtx(ossl.Config{Role: ossl.RoleClient, MinVersion: v.Version, MaxVersion: v.Version})
		require.NoError(t, err)
		t.Cleanup(func() { client.Close() })
		require.NoError(t, client.AddTrustedCertificatePEM(certPEM))
		require.NoError(t, client.SetVerify(ossl.VerifyPeer))
		_, err = client.SetSessionCacheMode(ossl.CacheClient | ossl.CacheNoInternalStore)
		require.NoError(t, err)
		require.NoError(t, client.SetClientSessionCache(ossl.ClientCacheConfig{Cache: store.NewClientLRU(store.ClientLRUOptions{Capacity: 2})}))
		connect = func() bool {
			raw, err := net.Dial("tcp", addr)
			require.NoError(t, err)
			require.NoError(t, raw.SetDeadline(time.Now().Add(deadline)))
			tc, err := ossl.Client(raw, client, ossl.ClientConfig{ServerName: "localhost", CacheKey: addr})
			require.NoError(t, err)
			defer tc.Close()
			require.NoError(t, tc.Handshake())
			echo(t, tc)
			return tc.ConnectionState().DidResume
		}
	} else {
		pool := x509.NewCertPool()
		pool.AddCert(leaf)
		tv := uint16(tls.VersionTLS13)
		if v.Version == ossl.VersionTLS12 {
			tv = tls.VersionTLS12
		}
		cfg := &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tv, MaxVersion: tv,
			ClientSessionCache: tls.NewLRUClientSessionCache(2)}
		connect = func() bool {
			raw, err := net.Dial("tcp", addr)
			require.NoError(t, err)
			require.NoError(t, raw.SetDeadline(time.Now().Add(deadline)))
			tc := tls.Client(raw, cfg)
			defer tc.Close()
			require.NoError(t, tc.Handshake())
			echo(t, tc)
			return tc.ConnectionState().DidResume
		}
	}
	assert.False(t, connect(), "first connection: full handshake")
	require.NoError(t, <-errs)
	assert.True(t, connect(), "second connection: resumed")
	require.NoError(t, <-errs)

	cs := c.CallbackStats()
	st := c.Stats()
	assert.Positive(t, cs.Stored-before.Stored, "the library's handshake put its session in the store")
	assert.Equal(t, int64(1), cs.GetHits-before.GetHits, "and found it there")
	assert.Equal(t, int64(1), st.Hits-st0.Hits, "libssl counts the resumption")
	assert.Equal(t, int64(1), st.CallbackHits-st0.CallbackHits, "through the get callback")
	assert.Positive(t, mem.Len())
}

func echo(t *testing.T, c io.ReadWriter) {
	t.Helper()
	_, err := io.WriteString(c, "through the library\n")
	require.NoError(t, err)
	line, err := bufio.NewReader(c).ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "through the library\n", line)
}
