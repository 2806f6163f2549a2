package store

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/osslcache/osslcache/ossl"
)

var errNoID = errors.New("store: session has no ID")

// Key names one stored session: the session id context of the context that
// made it (so that services sharing a store cannot resume each other's
// sessions) and the session ID.
type Key struct {
	IDContext []byte
	ID        []byte
}

// String returns "hex(IDContext):hex(ID)".
func (k Key) String() string { return hex.EncodeToString(k.IDContext) + ":" + hex.EncodeToString(k.ID) }

// KV is a key-value store of encoded sessions with an expiry time, the
// shape Redis, memcached or a database table can take. Implementations must
// be safe for concurrent use and honour ctx's deadline.
type KV interface {
	// Get returns the bytes stored under key, or nil, nil when there are
	// none (expired entries included).
	Get(ctx context.Context, key Key) ([]byte, error)
	// Put stores value under key until expires.
	Put(ctx context.Context, key Key, value []byte, expires time.Time) error
	// Delete removes key; a missing key is not an error.
	Delete(ctx context.Context, key Key) error
}

// DefaultMaxBlobSize bounds an encoded session read back from a KV.
const DefaultMaxBlobSize = ossl.MaxSessionDERSize

// BytesOptions configures Bytes.
type BytesOptions struct {
	// MaxBlobSize refuses larger blobs on Put and Get
	// (DefaultMaxBlobSize if 0).
	MaxBlobSize int
}

// Bytes adapts a KV to ossl.SessionStore (an ossl.InlineStore when its KV
// is an InlineKV): sessions are stored in DER
// (i2d_SSL_SESSION) under a Key built from the looking-up context's session
// id context and the session ID, and decoded on Get. Anything a KV returns
// that does not decode is an error (the handshake goes on as a full one).
type Bytes struct {
	kv      KV
	maxBlob int
}

// NewBytes returns the adapter over kv.
func NewBytes(kv KV, o BytesOptions) *Bytes {
	if o.MaxBlobSize <= 0 {
		o.MaxBlobSize = DefaultMaxBlobSize
	}
	return &Bytes{kv: kv, maxBlob: o.MaxBlobSize}
}

// ErrBlobTooLarge is returned for encoded sessions over MaxBlobSize.
var ErrBlobTooLarge = errors.New("store: encoded session over the size limit")

func keyFor(ctx context.Context, id []byte) Key {
	li, _ := ossl.LookupInfoFrom(ctx)
	return Key{IDContext: li.SessionIDContext, ID: id}
}

// Put encodes sess, closes it, and stores the encoding until the
// session's expiry.
func (b *Bytes) Put(ctx context.Context, sess *ossl.Session) error {
	defer sess.Close()
	id := sess.ID()
	if len(id) == 0 {
		return errNoID
	}
	der, err := sess.Marshal()
	if err != nil {
		return err
	}
	if len(der) > b.maxBlob {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrBlobTooLarge, len(der), b.maxBlob)
	}
	// The key's id context is the context's (from LookupInfo), as on Get,
	// so that both sides agree even when it was set outside this package.
	return b.kv.Put(ctx, keyFor(ctx, id), der, sess.Expires())
}

// Get decodes the session stored under id, or returns nil, nil.
func (b *Bytes) Get(ctx context.Context, id []byte) (*ossl.Session, error) {
	blob, err := b.kv.Get(ctx, keyFor(ctx, id))
	if err != nil || blob == nil {
		return nil, err
	}
	if len(blob) > b.maxBlob {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrBlobTooLarge, len(blob), b.maxBlob)
	}
	return ossl.UnmarshalSession(blob)
}

// InlineKV is implemented by KVs that never block. As with
// ossl.InlineStore, a KV answers for itself alone: RunsInline gets the KV
// Bytes was given, and a type embedding a never-blocking KV is not taken
// for one by the promoted method.
type InlineKV interface {
	KV
	RunsInline(installed KV) bool
}

// RunsInline reports whether installed is this very adapter and its KV
// never blocks (an InlineKV that says so of itself).
func (b *Bytes) RunsInline(installed ossl.SessionStore) bool {
	if installed != ossl.SessionStore(b) {
		return false
	}
	i, ok := b.kv.(InlineKV)
	return ok && i.RunsInline(b.kv)
}

// Delete removes the session stored under id.
func (b *Bytes) Delete(ctx context.Context, id []byte) error {
	return b.kv.Delete(ctx, keyFor(ctx, id))
}
