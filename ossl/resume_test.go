package ossl_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
)

// TestResumeFromInternalCache resumes through libssl's internal server cache
// and checks the SSL_CTX_sess_* counters on both sides.
func TestResumeFromInternalCache(t *testing.T) {
	tests := []struct {
		v variant
		// cached: sessions in the server's internal cache after the full
		// handshake (stateless tickets keep nothing on the server).
		cached int64
		// hits counted by the server when the ticket or ID resumes.
		hits int64
	}{
		{tls12, 1, 1},
		{tls13Stateful, 2, 1}, // one session per ticket (two by default)
		{tls13, 0, 1},
		{tls12Tickets, 0, 1}, // libssl 3.0 keeps no server state with tickets
	}
	for _, tt := range tests {
		t.Run(tt.v.Name, func(t *testing.T) {
			server, client := newServer(t, tt.v), newClient(t, tt.v)
			full := handshake(t, client, server, ossltest.Options{})
			assert.False(t, full.ClientReused)
			assert.False(t, full.ServerReused)
			assert.Equal(t, tt.v.Version, full.Version)
			require.NotNil(t, full.ClientSession)
			require.True(t, full.ClientSession.IsResumable())
			s := server.Stats()
			assert.Equal(t, tt.cached, s.Sessions)
			assert.Equal(t, int64(1), s.Accept)
			assert.Equal(t, int64(1), s.AcceptGood)
			c := client.Stats()
			assert.Equal(t, int64(1), c.Connect)
			assert.Equal(t, int64(1), c.ConnectGood)
			assert.Equal(t, int64(0), c.Sessions, "CLIENT is not in the default mode")

			res := handshake(t, client, server, ossltest.Options{Session: full.ClientSession})
			assert.True(t, res.ClientReused)
			assert.True(t, res.ServerReused)
			s = server.Stats()
			assert.Equal(t, tt.hits, s.Hits)
			assert.Equal(t, int64(0), s.Misses)
			assert.Equal(t, int64(0), s.CallbackHits)
			assert.Equal(t, int64(2), s.AcceptGood)
		})
	}
}

// TestResumeFailsOverToFullHandshake offers a session the server cannot
// know: the handshake completes as a full one and the miss is counted.
func TestResumeFailsOverToFullHandshake(t *testing.T) {
	for _, v := range []variant{tls12, tls13Stateful} {
		t.Run(v.Name, func(t *testing.T) {
			a, b, client := newServer(t, v), newServer(t, v), newClient(t, v)
			full := handshake(t, client, a, ossltest.Options{})
			res := handshake(t, client, b, ossltest.Options{Session: full.ClientSession})
			assert.False(t, res.ClientReused)
			assert.False(t, res.ServerReused)
			assert.Equal(t, int64(1), b.Stats().Misses)
		})
	}
}

func TestSNIAndClientCertificates(t *testing.T) {
	c := testCert(t)
	server, err := ossltest.NewServerCtx(c, ossltest.ServerOptions{Version: ossl.VersionTLS13, SessionIDContext: []byte("mtls"), VerifyClient: true})
	require.NoError(t, err)
	defer server.Close()
	client, err := ossltest.NewClientCtx(c, ossltest.ClientOptions{Version: ossl.VersionTLS13, PresentCertificate: true, VerifyServer: true})
	require.NoError(t, err)
	defer client.Close()
	full := handshake(t, client, server, ossltest.Options{ServerName: "other.test"})
	assert.Equal(t, "other.test", full.ServerName)
	res := handshake(t, client, server, ossltest.Options{ServerName: "other.test", Session: full.ClientSession})
	assert.True(t, res.ServerReused)

	// A client without a certificate is refused by the verifying server,
	// with OpenSSL's reason in the error.
	bare, err := ossltest.NewClientCtx(c, ossltest.ClientOptions{Version: ossl.VersionTLS13})
	require.NoError(t, err)
	defer bare.Close()
	_, err = ossltest.Handshake(bare, server, ossltest.Options{})
	var oe *ossl.Error
	require.ErrorAs(t, err, &oe)
	assert.True(t, oe.HasReason("peer did not return a certificate"), err.Error())
}

func TestClientVerifiesServer(t *testing.T) {
	other, err := ossltest.NewCertificate("localhost")
	require.NoError(t, err)
	server, err := ossltest.NewServerCtx(other, ossltest.ServerOptions{})
	require.NoError(t, err)
	defer server.Close()
	client := newClient(t, tls13)
	_, err = ossltest.Handshake(client, server, ossltest.Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "certificate verify failed")
}
