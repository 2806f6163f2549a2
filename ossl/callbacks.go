package ossl

/*
#include "shim.h"

// go_ssl_stateless_ticket reports whether the session a server connection
// hands the new-session callback is sealed into a stateless TLS 1.3
// ticket, which libssl decrypts itself and never looks up in a cache: TLS
// 1.3 without SSL_OP_NO_TICKET, unless early data with anti-replay makes
// libssl keep tickets stateful.
static int go_ssl_stateless_ticket(const SSL *s) {
	uint64_t op = (uint64_t)SSL_get_options(s);
	if (SSL_version(s) != TLS1_3_VERSION || (op & SSL_OP_NO_TICKET) != 0)
		return 0;
	return !(SSL_get_max_early_data(s) > 0 && (op & SSL_OP_NO_ANTI_REPLAY) == 0);
}
*/
import "C"

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/cgo"
	"sync"
	"sync/atomic"
	"time"
)

// This file is the bridge between libssl's callbacks and Go: the state
// each SSL_CTX carries, the wrapper that runs user code with a deadline and
// recovers its panics, and the handlers the C trampolines of
// cachemode_cgo.c reach through callbacks_export.go. The rules it keeps are
// in the package documentation (doc.go).

// maxAbandoned bounds the store calls that outlived their timeout and still
// run; past it, calls to a store that hangs are skipped outright.
const maxAbandoned = 256

// ctxState is the Go side of one SSL_CTX, reached from C through a
// cgo.Handle kept as an integer in the context's ex_data and released by
// libssl's ex_data free callback when the SSL_CTX is freed.
type ctxState struct {
	handle cgo.Handle
	sidCtx atomic.Pointer[[]byte] // immutable once stored
	store  atomic.Pointer[storeConfig]
	client atomic.Pointer[ClientCacheConfig]
	sni    atomic.Pointer[serverNameFunc]
	// TLS 1.3 ticket and PSK callbacks (tickets.go, psk.go).
	tickets atomic.Pointer[TicketCallbacks]
	pskUse  atomic.Pointer[pskUseFunc]
	pskFind atomic.Pointer[pskFindFunc]
	early   atomic.Pointer[earlyDataConfig] // earlydata.go
	n       callbackCounters

	// Removals wait here for a store that is not inline, or a client
	// cache, so that libssl, which calls the remove callback under its
	// cache lock, never waits for them.
	queueOnce sync.Once
	queue     chan removal
	freed     chan struct{} // closed when libssl frees the SSL_CTX
}

// storeConfig is a StoreConfig with its defaults filled in and whether the
// store runs inline decided once, at installation.
type storeConfig struct {
	StoreConfig
	inline bool
}

type callbackCounters struct {
	newCalls, stored, storeErrors, getCalls, getHits, getMisses, getErrors,
	timeouts, rejected, removeCalls, deleted, removeErrors, removeDropped,
	removeSkipped, clientPuts, sniRefused, panics, abandoned,
	earlyAllowed, earlyRefused, earlyErrors atomic.Int64
}

// removal is one delete waiting in the queue: a server session (cfg set)
// or a client one (cache key set).
type removal struct {
	cfg *storeConfig
	key string
	id  []byte
}

var liveStates atomic.Int64 // states whose SSL_CTX libssl has not freed

func newCtxState() *ctxState { return &ctxState{freed: make(chan struct{})} }

func stateOf(h C.uintptr_t) *ctxState {
	s, _ := cgo.Handle(h).Value().(*ctxState)
	return s
}

// release runs in the ex_data free callback, when libssl frees the SSL_CTX.
func (st *ctxState) release() {
	st.handle.Delete()
	liveStates.Add(-1)
	close(st.freed)
}

// SetSessionStore installs cfg.Store as the context's external session cache
// through the callbacks cfg.Callbacks selects, replacing any store installed
// before. A nil cfg.Store removes the callbacks. The context's cache mode
// still decides when libssl calls them: SERVER for a server; add
// NO_INTERNAL_LOOKUP or NO_INTERNAL_STORE to make the store the only cache.
//
// While libssl's internal cache is on, it also runs the remove callback for
// sessions it merely evicts (cache full) or flushes (expired). A store
// shared by several servers should therefore use SERVER|NO_INTERNAL, or
// leave CallbackRemove out, so that one server's evictions do not delete
// sessions the others still resume. The sessions SSL_CTX_free empties from
// the cache of a context whose last reference is gone are never forwarded.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_sess_set_new_cb/.
func (c *Ctx) SetSessionStore(cfg StoreConfig) error {
	if cfg.Callbacks == 0 {
		cfg.Callbacks = CallbackAll
	}
	if cfg.LookupTimeout <= 0 {
		cfg.LookupTimeout = DefaultLookupTimeout
	}
	if cfg.DeleteQueue <= 0 {
		cfg.DeleteQueue = DefaultDeleteQueue
	}
	return c.installCallbacks(func(st *ctxState) {
		if cfg.Store == nil {
			st.store.Store(nil)
			return
		}
		st.store.Store(&storeConfig{StoreConfig: cfg, inline: isInline(cfg.Store)})
	})
}

func isInline(s SessionStore) bool {
	i, ok := s.(InlineStore)
	return ok && i.RunsInline(s)
}

// installCallbacks applies change to the state and installs the session
// callbacks the state now needs, under the context's lock.
func (c *Ctx) installCallbacks(change func(*ctxState)) error {
	return c.do("SSL_CTX_sess_set_new/get/remove_cb", func(p *C.SSL_CTX) bool {
		change(c.st)
		var set CallbackSet
		if s := c.st.store.Load(); s != nil {
			set = s.Callbacks
		}
		if c.st.client.Load() != nil {
			set |= CallbackNew | CallbackRemove
		}
		C.go_ctx_install_session_callbacks(p, b2i(set&CallbackNew != 0), b2i(set&CallbackGet != 0), b2i(set&CallbackRemove != 0))
		return true
	})
}

func b2i(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// CallbackStats returns the counters of the context's callbacks; they stay
// readable after Close (and count what libssl's SSL_CTX_free did, such as
// RemoveSkipped).
func (c *Ctx) CallbackStats() CallbackStats {
	n := &c.st.n
	return CallbackStats{
		NewCalls: n.newCalls.Load(), Stored: n.stored.Load(), StoreErrors: n.storeErrors.Load(),
		GetCalls: n.getCalls.Load(), GetHits: n.getHits.Load(), GetMisses: n.getMisses.Load(), GetErrors: n.getErrors.Load(),
		Rejected: n.rejected.Load(), RemoveCalls: n.removeCalls.Load(), Deleted: n.deleted.Load(),
		RemoveErrors: n.removeErrors.Load(), RemoveDropped: n.removeDropped.Load(), RemoveSkipped: n.removeSkipped.Load(),
		ClientPuts: n.clientPuts.Load(), SNIRefused: n.sniRefused.Load(), Timeouts: n.timeouts.Load(), Panics: n.panics.Load(),
		EarlyDataAllowed: n.earlyAllowed.Load(), EarlyDataRefused: n.earlyRefused.Load(), EarlyDataErrors: n.earlyErrors.Load(),
	}
}

// ---- running user code ----

// recoverInto turns a panic in user code into a counted event.
func (st *ctxState) recoverInto(op string, id []byte, hook func(Event)) {
	if r := recover(); r != nil {
		st.n.panics.Add(1)
		st.report(hook, Event{Kind: EventPanic, Op: op, SessionID: id, Err: fmt.Errorf("ossl: %s panicked: %v", op, r)})
	}
}

func (st *ctxState) report(hook func(Event), ev Event) {
	if hook == nil {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			st.n.panics.Add(1)
		}
	}()
	hook(ev)
}

var errAbandonedCall = errors.New("ossl: store call abandoned at the lookup timeout")

// call runs f against the store: inline for an inline store, otherwise on
// a goroutine that is abandoned at the lookup timeout. A panic in f becomes
// a *panicError. The result of an abandoned call is handed to discard, if
// set, whenever it arrives; a panic there is counted and reported too. It
// reports false in ran when f was never started (too many abandoned calls
// still run).
func call[T any](st *ctxState, cfg *storeConfig, op string, id []byte, info LookupInfo, f func(context.Context) (T, error), discard func(T)) (v T, ran bool, err error) {
	var ctx context.Context = &infoCtx{Context: context.Background(), info: info}
	run := func(ctx context.Context) (v T, err error) {
		defer func() {
			if p := recover(); p != nil {
				err = &panicError{op: op, v: p}
			}
		}()
		return f(ctx)
	}
	if cfg.inline {
		v, err = run(ctx)
		return v, true, err
	}
	if st.n.abandoned.Load() >= maxAbandoned {
		return v, false, errAbandonedCall
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.LookupTimeout)
	defer cancel()
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := run(ctx)
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		if dl, _ := ctx.Deadline(); isTimeout(r.err) && !time.Now().Before(dl) {
			// The store gave up at the deadline it was handed (a Redis
			// client's socket deadline set from ctx, whose "i/o timeout"
			// does not wrap ctx's error, and whose timer may fire before
			// ctx's): a timeout, as if the bridge had seen the deadline
			// first, which the scheduler decides.
			return r.v, true, &deadlineError{r.err}
		}
		return r.v, true, r.err
	case <-ctx.Done():
		st.n.abandoned.Add(1)
		go func() {
			r := <-ch
			st.n.abandoned.Add(-1)
			if discard != nil {
				func() {
					defer st.recoverInto(op+" after timeout", id, cfg.OnEvent)
					discard(r.v)
				}()
			}
			var pe *panicError
			if errors.As(r.err, &pe) {
				st.n.panics.Add(1)
				st.report(cfg.OnEvent, Event{Kind: EventPanic, Op: op + " after timeout", SessionID: id, Err: r.err})
			}
		}()
		return v, true, errAbandonedCall
	}
}

// isTimeout reports whether err says it is a timeout (net.Error's
// Timeout, os.ErrDeadlineExceeded): a refused connection that only came
// late stays a store error.
func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return err != nil && (errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &t) && t.Timeout())
}

// deadlineError is a store's error returned once its deadline had
// passed; it is a timeout (errors.Is context.DeadlineExceeded).
type deadlineError struct{ err error }

func (e *deadlineError) Error() string {
	return e.err.Error() + " (the lookup timeout had passed)"
}
func (e *deadlineError) Unwrap() error { return e.err }
func (e *deadlineError) Is(target error) bool {
	return target == context.DeadlineExceeded
}

type panicError struct {
	op string
	v  any
}

func (e *panicError) Error() string { return fmt.Sprintf("ossl: store %s panicked: %v", e.op, e.v) }

// classify counts a failed store call in its operation's error counter,
// and in Timeouts or Panics, and reports it.
func (st *ctxState) classify(hook func(Event), op string, id []byte, err error, errCounter *atomic.Int64) {
	errCounter.Add(1)
	kind := EventStoreError
	var pe *panicError
	switch {
	case errors.Is(err, errAbandonedCall), errors.Is(err, context.DeadlineExceeded):
		// A store that gave up at the deadline it was handed timed out
		// too, whichever of it and the bridge noticed first.
		kind = EventTimeout
		st.n.timeouts.Add(1)
	case errors.As(err, &pe):
		kind = EventPanic
		st.n.panics.Add(1)
	}
	st.report(hook, Event{Kind: kind, Op: op, SessionID: id, Err: err})
}

func (st *ctxState) lookupInfo(ssl *C.SSL, mode CacheMode) LookupInfo {
	return LookupInfo{SessionIDContext: st.sessionIDContext(), ServerName: serverName(ssl), CacheMode: mode}
}

// sessionIDContext returns the id context set through SetSessionIDContext,
// shared and read-only, or nil.
func (st *ctxState) sessionIDContext() []byte {
	if p := st.sidCtx.Load(); p != nil && len(*p) > 0 {
		return *p
	}
	return nil
}

// ---- new session ----

// onNewSession takes over the reference libssl lends the new-session
// callback when a store or a client cache wants the session, and reports
// whether it did.
func (st *ctxState) onNewSession(ssl *C.SSL, sp *C.SSL_SESSION, mode CacheMode) bool {
	if C.SSL_is_server(ssl) == 0 {
		return st.onNewClientSession(ssl, sp)
	}
	cfg := st.store.Load()
	if cfg == nil || cfg.Callbacks&CallbackNew == 0 {
		return false
	}
	st.n.newCalls.Add(1)
	id := sessionID(sp)
	// The store owns sess from here, whatever happens to the call.
	sess := newSession(sp, true)
	info := st.lookupInfo(ssl, mode)
	info.StatelessTicket = C.go_ssl_stateless_ticket(ssl) == 1
	_, ran, err := call(st, cfg, "put", id, info, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, cfg.Store.Put(ctx, sess)
	}, nil)
	if !ran {
		sess.Close() // the store never saw it
	}
	if err != nil {
		st.classify(cfg.OnEvent, "put", id, err, &st.n.storeErrors)
		return true
	}
	st.n.stored.Add(1)
	return true
}

func (st *ctxState) onNewClientSession(ssl *C.SSL, sp *C.SSL_SESSION) bool {
	cfg := st.client.Load()
	if cfg == nil {
		return false
	}
	k := C.go_ssl_get_cache_key(ssl)
	if k == nil {
		return false
	}
	// The key travels with the session, for its removal.
	if C.go_session_set_cache_key(sp, k) != 1 {
		return false
	}
	key := C.GoString(k)
	sess := newSession(sp, true)
	st.n.clientPuts.Add(1)
	defer st.recoverInto("client-put", nil, cfg.OnEvent)
	cfg.Cache.Put(key, sess)
	return true
}

// ---- get session ----

// onGetSession returns a reference libssl takes over, or nil for a miss.
func (st *ctxState) onGetSession(ssl *C.SSL, id []byte, mode CacheMode) *C.SSL_SESSION {
	cfg := st.store.Load()
	if cfg == nil || cfg.Callbacks&CallbackGet == 0 {
		return nil
	}
	st.n.getCalls.Add(1)
	if len(id) == 0 || len(id) > MaxSessionIDLength {
		st.reject(cfg, id, fmt.Errorf("ossl: session ID of %d bytes (limit %d)", len(id), MaxSessionIDLength))
		return nil
	}
	info := st.lookupInfo(ssl, mode)
	sess, _, err := call(st, cfg, "get", id, info, func(ctx context.Context) (*Session, error) {
		return cfg.Store.Get(ctx, id)
	}, (*Session).Close) // a late answer is nobody's: release it
	if err != nil {
		sess.Close()
		st.classify(cfg.OnEvent, "get", id, err, &st.n.getErrors)
		return nil
	}
	if sess == nil {
		st.n.getMisses.Add(1)
		return nil
	}
	defer sess.Close()
	if err := checkLookedUp(sess, id, info.SessionIDContext, time.Now()); err != nil {
		st.reject(cfg, id, err)
		return nil
	}
	if sess.mayBeCached() && mode&CacheNoInternalStore == 0 {
		// libssl will insert what we return into this context's internal
		// cache; an object another cache may hold must not be linked
		// into two cache lists.
		d, err := sess.Dup()
		if err != nil {
			st.reject(cfg, id, err)
			return nil
		}
		defer d.Close()
		sess = d
	}
	p := sess.take() // hand our reference to libssl (copy = 0)
	if p == nil {
		st.reject(cfg, id, ErrClosed) // the store closed what it returned
		return nil
	}
	st.n.getHits.Add(1)
	return p
}

func (st *ctxState) reject(cfg *storeConfig, id []byte, err error) {
	st.n.rejected.Add(1)
	st.report(cfg.OnEvent, Event{Kind: EventRejected, Op: "get", SessionID: id, Err: err})
}

// checkLookedUp refuses a session a store returned for id that libssl must
// not resume: another session's, expired, not resumable, or made under
// another session id context (when the context's one is known). The checks
// run in one C call; the error is built only on refusal.
func checkLookedUp(sess *Session, id, sidCtx []byte, now time.Time) error {
	var code C.int
	if !sess.read(func(p *C.SSL_SESSION) {
		code = C.go_session_check(p, cBytes(id), C.uint(len(id)), cBytes(sidCtx), C.uint(len(sidCtx)), b2i(sidCtx != nil), C.int64_t(now.Unix()))
	}) {
		return ErrClosed
	}
	switch code {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("ossl: store returned session %x for ID %x", sess.ID(), id)
	case 2:
		return fmt.Errorf("ossl: store returned a session that expired at %v", sess.Expires().UTC())
	case 3:
		return errors.New("ossl: store returned a session that is not resumable")
	default:
		return fmt.Errorf("ossl: store returned a session of id context %q, not %q", sess.IDContext(), sidCtx)
	}
}

// ---- remove session ----

// onRemoveSession runs in libssl's remove callback, under the context's
// cache lock: an inline store deletes at once, anything else is queued.
func (st *ctxState) onRemoveSession(id []byte, clientKey string) {
	var r removal
	switch {
	case clientKey != "":
		if st.client.Load() == nil {
			return
		}
		r = removal{key: clientKey, id: id}
	default:
		cfg := st.store.Load()
		if cfg == nil || cfg.Callbacks&CallbackRemove == 0 {
			return
		}
		r = removal{cfg: cfg, id: id}
		if cfg.inline {
			st.n.removeCalls.Add(1)
			st.runRemoval(r)
			return
		}
	}
	st.n.removeCalls.Add(1)
	size := DefaultDeleteQueue
	if r.cfg != nil {
		size = r.cfg.DeleteQueue
	}
	st.queueOnce.Do(func() {
		st.queue = make(chan removal, size)
		go st.removalWorker()
	})
	select {
	case st.queue <- r:
	default:
		st.n.removeDropped.Add(1)
	}
}

// removalWorker carries out queued removals until libssl frees the
// context, then the ones left.
func (st *ctxState) removalWorker() {
	for {
		select {
		case r := <-st.queue:
			st.runRemoval(r)
		case <-st.freed:
			for {
				select {
				case r := <-st.queue:
					st.runRemoval(r)
				default:
					return
				}
			}
		}
	}
}

func (st *ctxState) runRemoval(r removal) {
	if r.cfg == nil {
		st.removeClientSession(r.key, r.id)
		return
	}
	cfg := r.cfg
	_, _, err := call(st, cfg, "delete", r.id, LookupInfo{SessionIDContext: st.sessionIDContext()}, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, cfg.Store.Delete(ctx, r.id)
	}, nil)
	if err != nil {
		st.classify(cfg.OnEvent, "delete", r.id, err, &st.n.removeErrors)
		return
	}
	st.n.deleted.Add(1)
}

// removeClientSession deletes key's entry of the client cache if it still
// holds the session libssl removed (not a newer one): in one step if the
// cache is a ClientSessionRemover, otherwise by Get and Put(key, nil).
func (st *ctxState) removeClientSession(key string, id []byte) {
	cfg := st.client.Load()
	if cfg == nil {
		return
	}
	if r, ok := cfg.Cache.(ClientSessionRemover); ok {
		defer st.recoverInto("client-delete", id, cfg.OnEvent)
		if r.RemoveSession(key, id) {
			st.n.deleted.Add(1)
		}
		return
	}
	var cur *Session
	func() {
		defer st.recoverInto("client-get", id, cfg.OnEvent)
		cur = cfg.Cache.Get(key)
	}()
	if cur == nil {
		return
	}
	same := bytes.Equal(cur.ID(), id)
	cur.Close()
	if !same {
		return
	}
	defer st.recoverInto("client-delete", id, cfg.OnEvent)
	cfg.Cache.Put(key, nil)
	st.n.deleted.Add(1)
}

// callbackCrossingCost returns the mean cost of one call from C into an
// exported Go function, measured over n calls: the fixed price every
// callback pays on top of the store's own work.
func callbackCrossingCost(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	h := cgo.NewHandle(struct{}{})
	defer h.Delete()
	t0 := time.Now()
	C.go_bench_callback(C.uintptr_t(h), C.int(n))
	return time.Since(t0) / time.Duration(n)
}
