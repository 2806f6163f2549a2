package ossl_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
)

// TestVerifyingServerWithoutSessionIDContext: libssl documents that a
// server verifying peers needs a session id context. Without one it caches
// nothing (session IDs: the resumption silently becomes a full handshake)
// and fails the handshake of a client that offers a ticket; the binding's
// error names the fix.
func TestVerifyingServerWithoutSessionIDContext(t *testing.T) {
	c := testCert(t)
	for _, tt := range []struct {
		v       variant
		wantErr bool
	}{
		{tls12, false},
		{tls13Stateful, false},
		{tls12Tickets, true},
		{tls13, true},
	} {
		t.Run(tt.v.Name, func(t *testing.T) {
			server, err := ossltest.NewServerCtx(c, ossltest.ServerOptions{Version: tt.v.Version, NoTicket: tt.v.NoTicket, VerifyClient: true})
			require.NoError(t, err)
			defer server.Close()
			client, err := ossltest.NewClientCtx(c, ossltest.ClientOptions{Version: tt.v.Version, PresentCertificate: true})
			require.NoError(t, err)
			defer client.Close()
			full := handshake(t, client, server, ossltest.Options{})
			assert.Equal(t, int64(0), server.Stats().Sessions, "nothing cached without an id context")
			r, err := ossltest.Handshake(client, server, ossltest.Options{Session: full.ClientSession})
			if !tt.wantErr {
				require.NoError(t, err)
				defer r.Close()
				assert.False(t, r.ServerReused)
				return
			}
			var oe *ossl.Error
			require.ErrorAs(t, err, &oe)
			assert.True(t, oe.HasReason("session id context uninitialized"), err.Error())
			assert.Contains(t, oe.Hint(), "SetSessionIDContext")
			assert.Contains(t, err.Error(), "fix: a server that verifies peers")

			// The fix works.
			require.NoError(t, server.SetSessionIDContext([]byte("svc")))
			full2 := handshake(t, client, server, ossltest.Options{})
			again := handshake(t, client, server, ossltest.Options{Session: full2.ClientSession})
			assert.True(t, again.ServerReused)
		})
	}
}
