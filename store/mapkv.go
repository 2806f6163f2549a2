package store

import (
	"context"
	"sync"
	"time"
)

// MapKV is an in-memory KV: a map behind a mutex, for tests, benchmarks
// and single-process use of Bytes.
type MapKV struct {
	mu       sync.Mutex
	m        map[string]mapEntry
	now      func() time.Time
	capacity int
}

type mapEntry struct {
	v       []byte
	expires time.Time
}

// MapKVOptions configures NewMapKV.
type MapKVOptions struct {
	// Capacity bounds the entries (no bound if 0); past it, Put drops an
	// arbitrary entry.
	Capacity int
}

// NewMapKV returns an empty MapKV.
func NewMapKV(o MapKVOptions) *MapKV {
	return &MapKV{m: make(map[string]mapEntry), now: time.Now, capacity: o.Capacity}
}

// RunsInline reports whether installed is this very MapKV: its calls
// never wait on anything but a short-held mutex.
func (m *MapKV) RunsInline(installed KV) bool { return installed == KV(m) }

// Get implements KV.
func (m *MapKV) Get(_ context.Context, k Key) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.m[k.String()]
	if !ok {
		return nil, nil
	}
	if !e.expires.After(m.now()) {
		delete(m.m, k.String())
		return nil, nil
	}
	return e.v, nil
}

// Put implements KV.
func (m *MapKV) Put(_ context.Context, k Key, v []byte, expires time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := k.String()
	if _, ok := m.m[key]; !ok && m.capacity > 0 && len(m.m) >= m.capacity {
		for old := range m.m { // map order is random: an arbitrary victim
			delete(m.m, old)
			break
		}
	}
	m.m[key] = mapEntry{v: append([]byte(nil), v...), expires: expires}
	return nil
}

// Delete implements KV.
func (m *MapKV) Delete(_ context.Context, k Key) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.m, k.String())
	return nil
}

// Len returns the number of entries.
func (m *MapKV) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.m)
}

// Keys returns the stored keys' String forms.
func (m *MapKV) Keys() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, 0, len(m.m))
	for k := range m.m {
		out = append(out, k)
	}
	return out
}
