package store

import (
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

// NewClientLRU returns a cache for capacity servers (64 if <= 0).
func NewClientLRU(capacity int) *ClientLRU {
	if capacity <= 0 {
		capacity = 64
	}
	return &ClientLRU{capacity: capacity, m: make(map[string]*list.Element)}
}

// Put keeps a reference to sess as key's newest session.
func (c *ClientLRU) Put(key string, sess *ossl.Session) {
	ref, err := sess.Ref()
	if err != nil {
		return
	}
	var old []*ossl.Session
	c.mu.Lock()
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

// Len returns the number of servers held.
func (c *ClientLRU) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}
