package store

import (
	"bytes"
	"container/list"
	"sync"

	"github.com/osslcache/osslcache/ossl"
)

// ClientLRU is an ossl.ClientSessionCache holding the newest session of up
// to capacity servers, least recently used out first, like
// crypto/tls.NewLRUClientSessionCache. Safe for concurrent use.
type ClientLRU struct {
	mu       sync.Mutex
	capacity int
	m        map[string]*list.Element
	lru      list.List
}

type clientEntry struct {
	key  string
	sess *ossl.Session
}

// ClientLRUOptions configures NewClientLRU.
type ClientLRUOptions struct {
	// Capacity is the number of servers held (64 if 0).
	Capacity int
}

// NewClientLRU returns an empty cache.
func NewClientLRU(o ClientLRUOptions) *ClientLRU {
	if o.Capacity <= 0 {
		o.Capacity = 64
	}
	return &ClientLRU{capacity: o.Capacity, m: make(map[string]*list.Element)}
}

// Put keeps sess, which it owns from the call on, as key's newest
// session; a nil sess deletes key's entry.
func (c *ClientLRU) Put(key string, sess *ossl.Session) {
	var old []*ossl.Session
	c.mu.Lock()
	if sess == nil {
		if el, ok := c.m[key]; ok {
			e := el.Value.(*clientEntry)
			c.lru.Remove(el)
			delete(c.m, key)
			old = append(old, e.sess)
		}
		c.mu.Unlock()
		for _, s := range old {
			s.Close()
		}
		return
	}
	ref := sess
	if el, ok := c.m[key]; ok {
		e := el.Value.(*clientEntry)
		old = append(old, e.sess)
		e.sess = ref
		c.lru.MoveToFront(el)
	} else {
		c.m[key] = c.lru.PushFront(&clientEntry{key: key, sess: ref})
	}
	for c.lru.Len() > c.capacity {
		el := c.lru.Back()
		e := el.Value.(*clientEntry)
		c.lru.Remove(el)
		delete(c.m, e.key)
		old = append(old, e.sess)
	}
	c.mu.Unlock()
	for _, s := range old {
		s.Close()
	}
}

// Get returns a new reference to key's newest session, or nil.
func (c *ClientLRU) Get(key string) *ossl.Session {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.m[key]
	if !ok {
		return nil
	}
	c.lru.MoveToFront(el)
	ref, err := el.Value.(*clientEntry).sess.Ref()
	if err != nil {
		return nil
	}
	return ref
}

// RemoveSession deletes key's entry if it holds the session of ID id (an
// ossl.ClientSessionRemover), and reports whether it did.
func (c *ClientLRU) RemoveSession(key string, id []byte) bool {
	c.mu.Lock()
	el, ok := c.m[key]
	if !ok || !bytes.Equal(el.Value.(*clientEntry).sess.ID(), id) {
		c.mu.Unlock()
		return false
	}
	e := el.Value.(*clientEntry)
	c.lru.Remove(el)
	delete(c.m, key)
	c.mu.Unlock()
	e.sess.Close()
	return true
}

// Len returns the number of servers held.
func (c *ClientLRU) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}
