package proxy_test

import (
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/proxy"
	"github.com/osslcache/osslcache/store"
	"github.com/osslcache/osslcache/store/redisstore"
)

// TestStoreKeysAndOpenStore: the exported -store path other programs use
// keeps serve's rules and opens the same stores.
func TestStoreKeysAndOpenStore(t *testing.T) {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	keyFile := filepath.Join(t.TempDir(), "redis.keys")
	require.NoError(t, os.WriteFile(keyFile, []byte("k1:"+base64.StdEncoding.EncodeToString(key)+"\n"), 0o600))
	tests := []struct {
		name, spec, keyFile string
		wantErr             string
		wantKeys            bool
	}{
		{"none", "none", "", "", false},
		{"memory", "memory?capacity=10", "", "", false},
		{"redis with keys", "redis://127.0.0.1:1?prefix=p", keyFile, "", true},
		{"redis reading plaintext still needs keys", "redis://127.0.0.1:1?read_plaintext=1", "", "needs -redis-key-file", false},
		{"redis without keys", "redis://127.0.0.1:1", "", "needs -redis-key-file", false},
		{"keys without redis", "memory", keyFile, "only for a Redis store", false},
		{"missing key file", "redis://127.0.0.1:1", filepath.Join(t.TempDir(), "none"), "-redis-key-file: ", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, err := proxy.ParseStoreSpec(tt.spec)
			require.NoError(t, err)
			keys, err := proxy.StoreKeys(spec, tt.keyFile, nil)
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantKeys, keys.Current == "k1")
			st, err := proxy.OpenStore(spec, keys, time.Second, nil)
			require.NoError(t, err)
			defer st.Close()
			assert.Equal(t, spec, st.Spec())
			switch spec.Kind {
			case proxy.StoreNone:
				assert.Nil(t, st.SessionStore())
			case proxy.StoreMemory:
				assert.IsType(t, &store.Memory{}, st.SessionStore())
			case proxy.StoreRedis:
				assert.NotNil(t, st.SessionStore())
			}
		})
	}
	_, err := proxy.OpenStore(proxy.StoreSpec{Kind: "memcached"}, redisstore.Keyring{}, time.Second, nil)
	assert.ErrorContains(t, err, "unknown store kind")
}
