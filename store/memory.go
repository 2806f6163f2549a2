package store

import (
	"container/list"
	"context"
	"hash/maphash"
	"sync"
	"time"

	"github.com/osslcache/osslcache/ossl"
)

const memoryShards = 32

// DefaultMemoryCapacity is libssl's own default cache size.
const DefaultMemoryCapacity = 20480

// MemoryOptions configures NewMemory.
type MemoryOptions struct {
	// Capacity bounds the sessions held (DefaultMemoryCapacity if 0),
	// rounded up to a multiple of the shard count.
	Capacity int
	// Now reads the time (time.Now if nil), for tests that move time on
	// without sleeping.
	Now func() time.Time
}

// Memory is an in-process ossl.SessionStore of native sessions: each entry
// is an SSL_SESSION kept when stored (the reference Put is handed, or a
// private copy when libssl keeps its own object in its internal cache) and
// handed to libssl by reference on every lookup (no DER round trip). It
// holds at most its capacity (the least recently used entry goes first),
// drops entries at their expiry, and spreads entries over shards so
// concurrent handshakes rarely contend. Safe for concurrent use; it never
// blocks, so the bridge calls it inline (ossl.InlineStore).
type Memory struct {
	seed     maphash.Seed
	perShard int
	now      func() time.Time
	shards   [memoryShards]memoryShard
}

type memoryShard struct {
	mu  sync.Mutex
	m   map[string]*list.Element
	lru list.List // front: most recently used *memoryEntry
}

type memoryEntry struct {
	key     string
	sess    *ossl.Session
	expires time.Time
}

// NewMemory returns an empty store.
func NewMemory(o MemoryOptions) *Memory {
	if o.Capacity <= 0 {
		o.Capacity = DefaultMemoryCapacity
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	m := &Memory{seed: maphash.MakeSeed(), perShard: (o.Capacity + memoryShards - 1) / memoryShards, now: o.Now}
	for i := range m.shards {
		m.shards[i].m = make(map[string]*list.Element)
	}
	return m
}

func (m *Memory) shard(id []byte) *memoryShard {
	return &m.shards[maphash.Bytes(m.seed, id)%memoryShards]
}

// RunsInline reports whether installed is this very store: Memory never
// blocks, but a type embedding it may override its methods.
func (m *Memory) RunsInline(installed ossl.SessionStore) bool {
	return installed == ossl.SessionStore(m)
}

// Put keeps sess until its expiry. When the context keeps sessions in its
// internal cache too, the store keeps a private copy (SSL_SESSION_dup)
// instead, so that libssl evicting or flushing its own object (which marks
// that object not resumable) leaves the store's entry alive; libssl tells
// the store what to drop through the remove callback. Under
// NO_INTERNAL_STORE libssl keeps nothing, and the store keeps sess itself.
func (m *Memory) Put(ctx context.Context, sess *ossl.Session) error {
	id := sess.ID()
	if len(id) == 0 {
		sess.Close()
		return errNoID
	}
	expires := sess.Expires()
	if !expires.After(m.now()) {
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
	s := m.shard(id)
	var evicted []*ossl.Session
	s.mu.Lock()
	if el, ok := s.m[string(id)]; ok {
		evicted = append(evicted, s.remove(el))
	}
	s.m[string(id)] = s.lru.PushFront(&memoryEntry{key: string(id), sess: keep, expires: expires})
	for s.lru.Len() > m.perShard {
		evicted = append(evicted, s.remove(s.lru.Back()))
	}
	s.mu.Unlock()
	for _, e := range evicted {
		e.Close()
	}
	return nil
}

func (s *memoryShard) remove(el *list.Element) *ossl.Session {
	e := el.Value.(*memoryEntry)
	s.lru.Remove(el)
	delete(s.m, e.key)
	return e.sess
}

// Get returns a new reference to the session stored under id, or nil.
func (m *Memory) Get(_ context.Context, id []byte) (*ossl.Session, error) {
	s := m.shard(id)
	s.mu.Lock()
	el, ok := s.m[string(id)]
	if !ok {
		s.mu.Unlock()
		return nil, nil
	}
	e := el.Value.(*memoryEntry)
	if !e.expires.After(m.now()) {
		old := s.remove(el)
		s.mu.Unlock()
		old.Close()
		return nil, nil
	}
	s.lru.MoveToFront(el)
	ref, err := e.sess.Ref()
	s.mu.Unlock()
	return ref, err
}

// Delete drops the session stored under id.
func (m *Memory) Delete(_ context.Context, id []byte) error {
	s := m.shard(id)
	s.mu.Lock()
	var old *ossl.Session
	if el, ok := s.m[string(id)]; ok {
		old = s.remove(el)
	}
	s.mu.Unlock()
	old.Close()
	return nil
}

// Len returns the number of sessions held (expired ones included until they
// are looked up or evicted).
func (m *Memory) Len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += s.lru.Len()
		s.mu.Unlock()
	}
	return n
}

// Close releases every session held. The store stays usable.
func (m *Memory) Close() {
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		var old []*ossl.Session
		for el := s.lru.Front(); el != nil; el = el.Next() {
			old = append(old, el.Value.(*memoryEntry).sess)
		}
		s.lru.Init()
		clear(s.m)
		s.mu.Unlock()
		for _, o := range old {
			o.Close()
		}
	}
}
