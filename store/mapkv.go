package store

import (
	"context"
	"sync"
	"time"
)

// MapKV is an in-memory KV: a map behind a mutex, for tests, benchmarks
// and single-process use of Bytes.
type MapKV struct {
	mu  sync.Mutex
	m   map[string]mapEntry
	now func() time.Time
}

type mapEntry struct {
	v       []byte
	expires time.Time
}

// NewMapKV returns an empty MapKV.
func NewMapKV() *MapKV { return &MapKV{m: make(map[string]mapEntry), now: time.Now} }

// NeverBlocks reports true: MapKV calls never wait on anything but a
// short-held mutex.
func (m *MapKV) NeverBlocks() bool { return true }

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
	m.m[k.String()] = mapEntry{v: append([]byte(nil), v...), expires: expires}
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

// Set stores raw bytes under k, for tests that plant hostile data.
func (m *MapKV) Set(k Key, v []byte, expires time.Time) {
	_ = m.Put(context.Background(), k, v, expires)
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
