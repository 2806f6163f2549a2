package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/store"
)

// FuzzBytesGet plants arbitrary bytes where the adapter looks: Get either
// errors or returns a session that works; nothing crashes.
func FuzzBytesGet(f *testing.F) {
	f.Add([]byte("garbage"))
	f.Add([]byte{0x30, 0x82, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, blob []byte) {
		kv := store.NewMapKV(store.MapKVOptions{})
		b := store.NewBytes(kv, store.BytesOptions{})
		id := []byte("0123456789abcdef0123456789abcdef")
		require.NoError(t, kv.Put(bg, store.Key{ID: id}, blob, time.Now().Add(time.Hour)))
		s, err := b.Get(context.Background(), id)
		if err != nil {
			if s != nil {
				t.Fatal("a session and an error")
			}
			return
		}
		if s == nil {
			if len(blob) != 0 {
				t.Fatal("a non-empty blob vanished")
			}
			return
		}
		defer s.Close()
		_ = s.ID()
		_, _ = s.Marshal()
	})
}
