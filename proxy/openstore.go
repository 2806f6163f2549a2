package proxy

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/store/redisstore"
)

// The exported face of the -store machinery, for programs other than
// osslcache serve that take the same -store and -redis-key-file flags
// (examples/http): parse with ParseStoreSpec, read the keys with
// StoreKeys, open with OpenStore.

// StoreKeys applies serve's rules for -redis-key-file to a parsed -store:
// a Redis store needs a key file unless its URL has allow_plaintext=1, and
// a key file is only for a Redis store. It reads the file with
// ReadKeyFile (warning through log about loose permissions).
func StoreKeys(spec StoreSpec, keyFile string, log *slog.Logger) (redisstore.Keyring, error) {
	switch {
	case spec.Kind == StoreRedis && keyFile != "":
		k, err := ReadKeyFile(keyFile, log)
		if err != nil {
			return redisstore.Keyring{}, fmt.Errorf("-redis-key-file: %w", err)
		}
		return k, nil
	case spec.Kind == StoreRedis && !spec.Redis.AllowPlaintext:
		return redisstore.Keyring{}, fmt.Errorf("-store %s needs -redis-key-file: stored sessions hold their master secrets (or add allow_plaintext=1 to the URL)", spec.Text)
	case keyFile != "":
		return redisstore.Keyring{}, fmt.Errorf("-redis-key-file is only for a redis:// store")
	}
	return redisstore.Keyring{}, nil
}

// OpenedStore is a session store opened from a StoreSpec.
type OpenedStore struct{ o *openedStore }

// OpenStore opens the store spec names, as the proxy does: store.Memory
// in process, or a redisstore.Store sealed with keys and bounded by
// lookupTimeout, logging through log. For StoreNone, SessionStore is nil.
func OpenStore(spec StoreSpec, keys redisstore.Keyring, lookupTimeout time.Duration, log *slog.Logger) (*OpenedStore, error) {
	if log == nil {
		log = slog.Default()
	}
	o, err := openStore(spec, keys, lookupTimeout, log)
	if err != nil {
		return nil, err
	}
	return &OpenedStore{o}, nil
}

// SessionStore returns the store to install with ossl.Ctx.SetSessionStore,
// or nil for "none".
func (s *OpenedStore) SessionStore() ossl.SessionStore { return s.o.sessionStore() }

// Spec returns the spec the store was opened from.
func (s *OpenedStore) Spec() StoreSpec { return s.o.spec }

// Close closes the store (a Redis store's connections).
func (s *OpenedStore) Close() { s.o.close() }
