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

// CheckKeyFile is serve's rule for -redis-key-file: a Redis store needs a
// key file (stored sessions hold their master secrets, and are always
// sealed), and a key file is only for a Redis store.
func CheckKeyFile(spec StoreSpec, keyFile string) error {
	switch {
	case spec.Kind == StoreRedis && keyFile == "":
		return fmt.Errorf("-store %s needs -redis-key-file: stored sessions hold their master secrets, and are always sealed", spec.Text)
	case spec.Kind != StoreRedis && keyFile != "":
		return fmt.Errorf("-redis-key-file is only for a Redis store")
	}
	return nil
}

// StoreKeys applies CheckKeyFile to a parsed -store and reads the key file,
// if any, with ReadKeyFile (warning through log about loose permissions).
func StoreKeys(spec StoreSpec, keyFile string, log *slog.Logger) (redisstore.Keyring, error) {
	if err := CheckKeyFile(spec, keyFile); err != nil || keyFile == "" {
		return redisstore.Keyring{}, err
	}
	k, err := ReadKeyFile(keyFile, log)
	if err != nil {
		return redisstore.Keyring{}, fmt.Errorf("-redis-key-file: %w", err)
	}
	return k, nil
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
