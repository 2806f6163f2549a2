package ossl_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
	"github.com/osslcache/osslcache/store"
)

// TestLoadSystemTrust: the system trust store is where SSL_CERT_FILE
// says; a client that loads it verifies a server whose certificate is
// there, and one that does not refuses it.
func TestLoadSystemTrust(t *testing.T) {
	file := filepath.Join(t.TempDir(), "roots.pem")
	require.NoError(t, os.WriteFile(file, testCert(t).CertPEM, 0o600))
	t.Setenv("SSL_CERT_FILE", file)
	t.Setenv("SSL_CERT_DIR", t.TempDir())
	srv := ossltest.NewServer(newServer(t, tls13), nil)
	t.Cleanup(srv.Close)

	for _, load := range []bool{true, false} {
		client, err := ossl.NewCtx(ossl.Config{Role: ossl.RoleClient})
		require.NoError(t, err)
		assert.Equal(t, ossl.VerifyNone, client.VerifyMode())
		require.NoError(t, client.SetVerify(ossl.VerifyPeer))
		assert.Equal(t, ossl.VerifyPeer, client.VerifyMode())
		if load {
			require.NoError(t, client.LoadSystemTrust())
		}
		c, err := srv.Dial(client, ossl.ClientConfig{ServerName: "localhost"})
		if load {
			require.NoError(t, err)
			c.Close()
		} else {
			var oe *ossl.Error
			require.ErrorAs(t, err, &oe)
			assert.True(t, oe.HasReason("certificate verify failed"), err.Error())
		}
		require.NoError(t, client.Close())
		assert.Equal(t, ossl.VerifyNone, client.VerifyMode(), "after Close")
		assert.ErrorIs(t, client.LoadSystemTrust(), ossl.ErrClosed)
	}
}

func TestClientSessionCacheGetter(t *testing.T) {
	client := newClient(t, tls13)
	assert.Nil(t, client.ClientSessionCache())
	lru := store.NewClientLRU(store.ClientLRUOptions{Capacity: 2})
	require.NoError(t, client.SetClientSessionCache(ossl.ClientCacheConfig{Cache: lru}))
	assert.Same(t, lru, client.ClientSessionCache())
	require.NoError(t, client.SetClientSessionCache(ossl.ClientCacheConfig{}))
	assert.Nil(t, client.ClientSessionCache())
}
