package store

import (
	"container/heap"
	"context"
	"errors"
	"sync"
	"time"

	"github.com/osslcache/osslcache/ossl"
)

// ReplayFilterOptions configures NewReplayFilter.
type ReplayFilterOptions struct {
	// Capacity bounds the tickets remembered (DefaultMemoryCapacity if
	// 0). A filter full of unexpired tickets refuses early data
	// (ErrReplayFilterFull) rather than forget one.
	Capacity int
	// Now reads the time (time.Now if nil), for tests that move time on
	// without sleeping.
	Now func() time.Time
}

// ErrReplayFilterFull is returned by ReplayFilter.AllowEarlyData when every
// slot holds a ticket that has not expired: the early data is rejected.
var ErrReplayFilterFull = errors.New("store: replay filter full")

// ReplayFilter is the in-process anti-replay check of TLS 1.3 early data,
// for ossl.Ctx.SetAllowEarlyDataCallback: it accepts the first use of each
// ticket's early data and refuses the later ones, remembering each ticket
// (by session ID context and session ID, which libssl makes fresh for
// every ticket it issues) until its session expires. It is what libssl's
// own anti-replay does with its internal cache, kept apart from where the
// sessions live, so it also covers stateless tickets (with
// ossl.OptionNoAntiReplay) and an external store; a fleet shares
// redisstore.Store.AllowEarlyData instead. Safe for concurrent use; it
// never blocks.
type ReplayFilter struct {
	capacity int
	now      func() time.Time

	mu   sync.Mutex
	seen map[string]time.Time
	heap expiryHeap
}

// NewReplayFilter returns an empty filter.
func NewReplayFilter(o ReplayFilterOptions) *ReplayFilter {
	if o.Capacity <= 0 {
		o.Capacity = DefaultMemoryCapacity
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &ReplayFilter{capacity: o.Capacity, now: o.Now, seen: map[string]time.Time{}}
}

// AllowEarlyData reports whether req is the first use of its ticket's
// early data; an expired session, or one without an ID, is refused.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_max_early_data/.
func (f *ReplayFilter) AllowEarlyData(_ context.Context, req ossl.EarlyDataRequest) (bool, error) {
	now := f.now()
	if len(req.SessionID) == 0 || !req.Expires.After(now) {
		return false, nil
	}
	key := Key{IDContext: req.SessionIDContext, ID: req.SessionID}.String()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.prune(now)
	if _, ok := f.seen[key]; ok {
		return false, nil
	}
	if len(f.seen) >= f.capacity {
		return false, ErrReplayFilterFull
	}
	f.seen[key] = req.Expires
	heap.Push(&f.heap, expiring{key: key, at: req.Expires})
	return true, nil
}

// Len returns the number of tickets remembered, expired ones not yet
// dropped included.
func (f *ReplayFilter) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.seen)
}

// prune drops the tickets expired at now; the caller holds mu.
func (f *ReplayFilter) prune(now time.Time) {
	for len(f.heap) > 0 && !f.heap[0].at.After(now) {
		e := heap.Pop(&f.heap).(expiring)
		delete(f.seen, e.key)
	}
}

type expiring struct {
	key string
	at  time.Time
}

// expiryHeap orders the remembered tickets by expiry, soonest first.
type expiryHeap []expiring

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiring)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
