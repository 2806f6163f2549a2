package bench

import (
	"context"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/store"
)

// otterStore is store.Memory's contract (native sessions, a capacity
// bound, expiry at each session's own time, a private copy unless the
// context runs NO_INTERNAL_STORE, inline) over
// github.com/maypok86/otter/v2 in place of Memory's sharded LRU, so that
// the bridge benchmark compares the two side by side (docs/benchmarks.md).
type otterStore struct {
	c *otter.Cache[string, *ossl.Session]
}

func newOtterStore(capacity int) *otterStore {
	if capacity <= 0 {
		capacity = store.DefaultMemoryCapacity
	}
	return &otterStore{c: otter.Must(&otter.Options[string, *ossl.Session]{
		MaximumSize: capacity,
		ExpiryCalculator: otter.ExpiryCreatingFunc(func(e otter.Entry[string, *ossl.Session]) time.Duration {
			return time.Until(e.Value.Expires())
		}),
		// Every entry leaves through here: evicted, expired, replaced
		// or deleted, the store's reference is released.
		OnAtomicDeletion: func(e otter.DeletionEvent[string, *ossl.Session]) { e.Value.Close() },
	})}
}

func (o *otterStore) RunsInline(installed ossl.SessionStore) bool {
	return installed == ossl.SessionStore(o)
}

func (o *otterStore) Put(ctx context.Context, sess *ossl.Session) error {
	id := sess.ID()
	if len(id) == 0 || !sess.Expires().After(time.Now()) {
		sess.Close()
		return nil
	}
	keep := sess
	if li, _ := ossl.LookupInfoFrom(ctx); li.CacheMode&ossl.CacheNoInternalStore == 0 {
		d, err := sess.Dup()
		sess.Close()
		if err != nil {
			return err
		}
		keep = d
	}
	o.c.Set(string(id), keep)
	return nil
}

// Get returns a new reference; an entry evicted (and closed) between the
// lookup and Ref is a miss.
func (o *otterStore) Get(_ context.Context, id []byte) (*ossl.Session, error) {
	s, ok := o.c.GetIfPresent(string(id))
	if !ok {
		return nil, nil
	}
	ref, err := s.Ref()
	if err != nil {
		return nil, nil
	}
	return ref, nil
}

func (o *otterStore) Delete(_ context.Context, id []byte) error {
	o.c.Invalidate(string(id))
	return nil
}

func (o *otterStore) Close() {
	o.c.InvalidateAll()
	o.c.StopAllGoroutines()
}
