package ossl

/*
#include "shim.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"runtime/cgo"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// SessionStore is an external server-side session cache, reached through
// libssl's new, get and remove session callbacks
// (SSL_CTX_sess_set_new_cb(3) and friends), in the spirit of
// crypto/tls.ClientSessionCache.
//
// Implementations must be safe for concurrent use: handshakes on many
// threads call them at once. They run inside libssl's handshake (and, for
// Delete, possibly while libssl holds the context's cache lock), so they must
// not call back into the same context (no AddSession, RemoveSession,
// FlushSessions or Stats on it) and should return promptly: calls slower
// than the lookup timeout are abandoned, Get then counting as a miss.
//
// An error never fails a handshake: a failed Put leaves the session
// unstored, a failed Get is a miss (the handshake goes on as a full one), a
// failed Delete leaves the entry to expire. Errors and panics are counted
// (Ctx.CallbackStats) and reported to StoreConfig.OnEvent.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_sess_set_get_cb/.
type SessionStore interface {
	// Put stores a new session under sess.ID(), until sess.Expires().
	// sess is valid only during the call: keep it with sess.Ref or
	// sess.Dup, or encode it with sess.Marshal.
	Put(ctx context.Context, sess *Session) error
	// Get returns the session stored under id, or nil, nil on a miss.
	// The caller takes over the returned reference. ctx carries the
	// lookup deadline and a LookupInfo.
	Get(ctx context.Context, id []byte) (*Session, error)
	// Delete removes the session stored under id; a missing id is not an
	// error.
	Delete(ctx context.Context, id []byte) error
}

// InlineStore is implemented by stores that can tell whether their methods
// never block (an in-memory map, say). The bridge calls a store whose
// NeverBlocks reports true directly on the handshake's thread; any other
// store runs on a goroutine abandoned at the lookup timeout, which costs a
// thread handoff per call.
type InlineStore interface {
	SessionStore
	NeverBlocks() bool
}

func isInline(s SessionStore) bool {
	i, ok := s.(InlineStore)
	return ok && i.NeverBlocks()
}

// CallbackSet selects which of libssl's session callbacks to install.
type CallbackSet uint8

// The three session callbacks.
const (
	CallbackNew    CallbackSet = 1 << iota // SSL_CTX_sess_set_new_cb: Put
	CallbackGet                            // SSL_CTX_sess_set_get_cb: Get
	CallbackRemove                         // SSL_CTX_sess_set_remove_cb: Delete
	CallbackAll    = CallbackNew | CallbackGet | CallbackRemove
)

// DefaultLookupTimeout bounds a store call when StoreConfig leaves it zero.
const DefaultLookupTimeout = 50 * time.Millisecond

// maxAbandoned bounds the store calls that outlived their timeout and still
// run; past it, calls to a store that hangs are skipped outright.
const maxAbandoned = 256

// StoreConfig installs a SessionStore on a context.
type StoreConfig struct {
	Store SessionStore
	// Callbacks picks the callbacks to install; zero means CallbackAll.
	Callbacks CallbackSet
	// LookupTimeout bounds each store call (DefaultLookupTimeout if 0).
	LookupTimeout time.Duration
	// OnEvent, if set, is told of every store error, panic, timeout and
	// rejected session. It is called synchronously; keep it fast.
	OnEvent func(Event)
}

// EventKind classifies an Event.
type EventKind int

// Event kinds.
const (
	EventStoreError EventKind = iota // the store returned an error
	EventPanic                       // the store (or a hook) panicked; recovered
	EventTimeout                     // the store did not answer within the lookup timeout
	EventRejected                    // the store returned a session the bridge refused
)

func (k EventKind) String() string {
	return [...]string{"store-error", "panic", "timeout", "rejected"}[k]
}

// Event reports something that went wrong in a session callback. None of
// them fails the handshake.
type Event struct {
	Kind      EventKind
	Op        string // "put", "get", "delete", "client-put", "servername"
	SessionID []byte
	Err       error
}

// LookupInfo describes the connection a store call serves; stores read it
// with LookupInfoFrom to namespace their keys.
type LookupInfo struct {
	// SessionIDContext of the context serving the connection, as set
	// through Ctx.SetSessionIDContext (nil if set elsewhere or unset).
	// Read-only: it is shared by every call.
	SessionIDContext []byte
	// ServerName is the SNI host name the client sent, if any.
	ServerName string
	// CacheMode is the serving context's cache mode at the call. With
	// CacheNoInternalStore libssl keeps no session of its own, so a store
	// may keep a reference (Session.Ref) rather than a copy.
	CacheMode CacheMode
}

type lookupInfoKey struct{}

// infoCtx carries a call's LookupInfo in one allocation (the handshake
// path makes one per store call).
type infoCtx struct {
	context.Context
	info LookupInfo
}

func (c *infoCtx) Value(key any) any {
	if _, ok := key.(lookupInfoKey); ok {
		return &c.info
	}
	return c.Context.Value(key)
}

// LookupInfoFrom returns the LookupInfo of a store call's context.
func LookupInfoFrom(ctx context.Context) (LookupInfo, bool) {
	if li, ok := ctx.Value(lookupInfoKey{}).(*LookupInfo); ok {
		return *li, true
	}
	return LookupInfo{}, false
}

// CallbackStats counts what the session callbacks did on one context. Each
// call ends in one outcome: NewCalls = Stored + StoreErrors, GetCalls =
// GetHits + GetMisses + GetErrors + Rejected, RemoveCalls = deletes done +
// RemoveErrors. Timeouts and Panics count across operations.
type CallbackStats struct {
	NewCalls      int64 // server new-session callbacks
	Stored        int64 // sessions the store accepted
	StoreErrors   int64 // Puts that failed (error, timeout or panic)
	GetCalls      int64
	GetHits       int64 // sessions handed to libssl
	GetMisses     int64 // store had nothing
	GetErrors     int64 // Gets that failed (error, timeout or panic)
	Rejected      int64 // sessions refused: wrong ID, expired, other id context, not resumable
	RemoveCalls   int64
	RemoveErrors  int64 // Deletes that failed (error, timeout or panic)
	RemoveSkipped int64 // removes not forwarded because the context was being freed
	ClientPuts    int64 // client sessions handed to a ClientSessionCache
	Timeouts      int64 // store calls abandoned at the lookup timeout
	Panics        int64 // panics recovered in user code
}

type callbackCounters struct {
	newCalls, stored, storeErrors, getCalls, getHits, getMisses, getErrors,
	timeouts, rejected, removeCalls, removeErrors, removeSkipped, clientPuts,
	panics, abandoned atomic.Int64
}

// ctxState is the Go side of one SSL_CTX, reached from C through a
// cgo.Handle kept as an integer in the context's ex_data.
type ctxState struct {
	handle  cgo.Handle
	closing atomic.Bool
	sidCtx  atomic.Pointer[[]byte] // immutable once stored
	store   atomic.Pointer[StoreConfig]
	client  atomic.Pointer[ClientCacheConfig]
	sni     atomic.Pointer[func(string) *Ctx]
	n       callbackCounters
}

var (
	stateMu    sync.Mutex
	liveStates atomic.Int64 // states whose handle libssl has not freed
)

func lookupCtxState(p *C.SSL_CTX) *ctxState {
	h := C.go_ctx_get_handle(p)
	if h == 0 {
		return nil
	}
	return cgo.Handle(h).Value().(*ctxState)
}

// state returns the context's Go state, attaching it on first use. It
// panics only if libssl cannot allocate ex_data, which leaves nothing sane.
func (c *Ctx) state() *ctxState {
	p := (*C.SSL_CTX)(c.ptr.Load())
	if p == nil {
		return &ctxState{}
	}
	if s := lookupCtxState(p); s != nil {
		c.st.Store(s)
		return s
	}
	stateMu.Lock()
	defer stateMu.Unlock()
	if s := lookupCtxState(p); s != nil {
		return s
	}
	s := &ctxState{}
	s.handle = cgo.NewHandle(s)
	if C.go_ctx_set_handle(p, C.uintptr_t(s.handle)) != 1 {
		s.handle.Delete()
		panic("ossl: SSL_CTX_set_ex_data failed (out of memory)")
	}
	liveStates.Add(1)
	c.st.Store(s)
	runtime.KeepAlive(c)
	return s
}

// SetSessionStore installs cfg.Store as the context's external session cache
// through the callbacks cfg.Callbacks selects, replacing any store installed
// before. A nil cfg.Store removes the callbacks. The context's cache mode
// still decides when libssl calls them: SERVER for a server; add
// NO_INTERNAL_LOOKUP or NO_INTERNAL_STORE to make the store the only cache.
//
// While libssl's internal cache is on, it also runs the remove callback for
// sessions it merely evicts (cache full) or flushes (expired, or every
// session at SSL_CTX_free: those the bridge does not forward). A store
// shared by several servers should therefore use SERVER|NO_INTERNAL, or
// leave CallbackRemove out, so that one server's evictions do not delete
// sessions the others still resume.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_sess_set_new_cb/.
func (c *Ctx) SetSessionStore(cfg StoreConfig) error {
	if _, err := c.use(); err != nil {
		return err
	}
	if cfg.Callbacks == 0 {
		cfg.Callbacks = CallbackAll
	}
	if cfg.LookupTimeout <= 0 {
		cfg.LookupTimeout = DefaultLookupTimeout
	}
	st := c.state()
	if cfg.Store == nil {
		st.store.Store(nil)
	} else {
		st.store.Store(&cfg)
	}
	return c.installCallbacks(st)
}

func (c *Ctx) installCallbacks(st *ctxState) error {
	var set CallbackSet
	if s := st.store.Load(); s != nil {
		set = s.Callbacks
	}
	if st.client.Load() != nil {
		set |= CallbackNew
	}
	return c.do("SSL_CTX_sess_set_new/get/remove_cb", func(p *C.SSL_CTX) bool {
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

// CallbackStats returns the counters of the context's session callbacks;
// they stay readable after Close (and count what libssl's SSL_CTX_free
// did, such as RemoveSkipped).
func (c *Ctx) CallbackStats() CallbackStats {
	st := c.st.Load()
	if st == nil {
		if p := (*C.SSL_CTX)(c.ptr.Load()); p != nil {
			st = lookupCtxState(p)
		}
	}
	if st == nil {
		return CallbackStats{}
	}
	n := &st.n
	return CallbackStats{
		NewCalls: n.newCalls.Load(), Stored: n.stored.Load(), StoreErrors: n.storeErrors.Load(),
		GetCalls: n.getCalls.Load(), GetHits: n.getHits.Load(), GetMisses: n.getMisses.Load(), GetErrors: n.getErrors.Load(),
		Timeouts: n.timeouts.Load(), Rejected: n.rejected.Load(),
		RemoveCalls: n.removeCalls.Load(), RemoveErrors: n.removeErrors.Load(), RemoveSkipped: n.removeSkipped.Load(),
		ClientPuts: n.clientPuts.Load(), Panics: n.panics.Load(),
	}
}

// ClientSessionCache keeps client sessions by server, in the shape of
// crypto/tls.ClientSessionCache. Implementations must be safe for
// concurrent use and must not call back into the context.
type ClientSessionCache interface {
	// Get returns a reference the caller takes over (it offers it with
	// SSL_set_session and closes it), or nil on a miss.
	Get(key string) *Session
	// Put records sess as the newest session for key. sess is valid only
	// during the call: keep it with sess.Ref or sess.Dup.
	Put(key string, sess *Session)
}

// ClientCacheConfig installs a ClientSessionCache on a client context.
type ClientCacheConfig struct {
	Cache   ClientSessionCache
	OnEvent func(Event)
}

// SetClientSessionCache feeds the client context's new-session callback into
// cfg.Cache, keyed by the key each connection gives to
// Conn.UseClientSessionCache. libssl only calls it when the cache mode has
// CacheClient (CacheClient|CacheNoInternalStore keeps sessions in cfg.Cache
// alone). A nil cfg.Cache removes it.
func (c *Ctx) SetClientSessionCache(cfg ClientCacheConfig) error {
	if _, err := c.use(); err != nil {
		return err
	}
	st := c.state()
	if cfg.Cache == nil {
		st.client.Store(nil)
	} else {
		st.client.Store(&cfg)
	}
	return c.installCallbacks(st)
}

// ClientSessionKey is the cache key of a server, as crypto/tls uses:
// "host:port".
func ClientSessionKey(serverName string, port int) string {
	return net.JoinHostPort(serverName, strconv.Itoa(port))
}

// UseClientSessionCache ties a client connection to key: the session the
// context's ClientSessionCache holds for key, if any, is offered
// (SSL_set_session), and the sessions this connection receives are stored
// under key. It reports whether a session was offered.
func (c *Conn) UseClientSessionCache(key string) (bool, error) {
	p, err := c.use()
	if err != nil {
		return false, err
	}
	st := lookupCtxState(C.go_ssl_session_ctx(p))
	var cfg *ClientCacheConfig
	if st != nil {
		cfg = st.client.Load()
	}
	if cfg == nil {
		return false, errorf("UseClientSessionCache", "the connection's context has no ClientSessionCache")
	}
	ck := C.CString(key)
	defer C.free(unsafe.Pointer(ck))
	if err := c.do("SSL_set_ex_data", func(p *C.SSL) bool { return C.go_ssl_set_cache_key(p, ck) == 1 }); err != nil {
		return false, err
	}
	var sess *Session
	func() {
		defer st.recoverInto("client-get", nil, cfg.OnEvent)
		sess = cfg.Cache.Get(key)
	}()
	if sess == nil {
		return false, nil
	}
	defer sess.Close()
	if !sess.IsResumable() || !sess.Expires().After(time.Now()) {
		st.n.rejected.Add(1)
		return false, nil
	}
	if err := c.SetSession(sess); err != nil {
		return false, err
	}
	return true, nil
}

// SetServerNameCallback installs an SNI callback on a server context: fn gets
// the host name the client sent and returns the context to switch the
// connection to (SSL_set_SSL_CTX), or nil to stay. The session cache and
// session callbacks of the original context keep serving the connection.
// A nil fn removes the callback.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_tlsext_servername_callback/.
func (c *Ctx) SetServerNameCallback(fn func(serverName string) *Ctx) error {
	if _, err := c.use(); err != nil {
		return err
	}
	st := c.state()
	if fn == nil {
		st.sni.Store(nil)
	} else {
		st.sni.Store(&fn)
	}
	return c.do("SSL_CTX_set_tlsext_servername_callback", func(p *C.SSL_CTX) bool {
		C.go_ctx_install_servername_callback(p, b2i(fn != nil))
		return true
	})
}

// CallbackCrossingCost returns the mean cost of one call from C into an
// exported Go function, measured over n calls: the fixed price every
// session callback pays on top of the store's own work.
func CallbackCrossingCost(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	h := cgo.NewHandle(struct{}{})
	defer h.Delete()
	t0 := time.Now()
	C.go_bench_callback(C.uintptr_t(h), C.int(n))
	return time.Since(t0) / time.Duration(n)
}

// ---- the bridge, called from callbacks_export.go ----

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

// call runs f against the store: inline for an InlineStore, otherwise on a
// goroutine that is abandoned at the lookup timeout. A panic in f becomes a
// *panicError. The result of an abandoned call is handed to discard, if
// set, whenever it arrives; a panic there is counted and reported too.
func call[T any](st *ctxState, cfg *StoreConfig, op string, id []byte, info LookupInfo, f func(context.Context) (T, error), discard func(T)) (T, error) {
	var ctx context.Context = &infoCtx{Context: context.Background(), info: info}
	inline := isInline(cfg.Store)
	if !inline {
		// An inline store never blocks; only the others need a deadline
		// (and its timer).
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.LookupTimeout)
		defer cancel()
	}
	type result struct {
		v   T
		err error
	}
	run := func() (r result) {
		defer func() {
			if p := recover(); p != nil {
				r.err = &panicError{op: op, v: p}
			}
		}()
		r.v, r.err = f(ctx)
		return r
	}
	if inline {
		r := run()
		return r.v, r.err
	}
	var zero T
	if st.n.abandoned.Load() >= maxAbandoned {
		return zero, errAbandonedCall
	}
	ch := make(chan result, 1)
	go func() { ch <- run() }()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		st.n.abandoned.Add(1)
		go func() {
			r := <-ch
			st.n.abandoned.Add(-1)
			if discard != nil {
				discard(r.v)
			}
			var pe *panicError
			if errors.As(r.err, &pe) {
				st.n.panics.Add(1)
				st.report(cfg.OnEvent, Event{Kind: EventPanic, Op: op + " after timeout", SessionID: id, Err: r.err})
			}
		}()
		return zero, errAbandonedCall
	}
}

type panicError struct {
	op string
	v  any
}

func (e *panicError) Error() string { return fmt.Sprintf("ossl: store %s panicked: %v", e.op, e.v) }

// classify counts a failed store call in its operation's error counter,
// and in Timeouts or Panics, and reports it.
func (st *ctxState) classify(cfg *StoreConfig, op string, id []byte, err error, errCounter *atomic.Int64) {
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
	st.report(cfg.OnEvent, Event{Kind: kind, Op: op, SessionID: id, Err: err})
}

func (st *ctxState) lookupInfo(ssl *C.SSL, mode CacheMode) LookupInfo {
	li := LookupInfo{SessionIDContext: st.sessionIDContext(), CacheMode: mode}
	if n := C.SSL_get_servername(ssl, C.TLSEXT_NAMETYPE_host_name); n != nil {
		li.ServerName = C.GoString(n)
	}
	return li
}

// borrowed wraps a session libssl lends for the length of a callback.
func borrowed(p *C.SSL_SESSION) *Session {
	s := &Session{shared: true}
	s.ptr.Store(unsafe.Pointer(p))
	return s
}

func (st *ctxState) onNewSession(ssl *C.SSL, sp *C.SSL_SESSION, mode CacheMode) {
	if C.SSL_is_server(ssl) == 0 {
		st.onNewClientSession(ssl, sp)
		return
	}
	cfg := st.store.Load()
	if cfg == nil || cfg.Callbacks&CallbackNew == 0 {
		return
	}
	st.n.newCalls.Add(1)
	sess := borrowed(sp)
	defer sess.ptr.Store(nil) // the loan ends with the callback
	id := sess.ID()
	arg := sess
	if !isInline(cfg.Store) {
		// The call may outlive the callback: give it its own reference.
		arg, _ = sess.Ref()
	}
	_, err := call(st, cfg, "put", id, st.lookupInfo(ssl, mode), func(ctx context.Context) (struct{}, error) {
		if arg != sess {
			defer arg.Close() // whenever the store returns
		}
		return struct{}{}, cfg.Store.Put(ctx, arg)
	}, nil)
	if err != nil {
		st.classify(cfg, "put", id, err, &st.n.storeErrors)
		return
	}
	st.n.stored.Add(1)
}

func (st *ctxState) onNewClientSession(ssl *C.SSL, sp *C.SSL_SESSION) {
	cfg := st.client.Load()
	if cfg == nil {
		return
	}
	k := C.go_ssl_get_cache_key(ssl)
	if k == nil {
		return
	}
	key := C.GoString(k)
	sess := borrowed(sp)
	defer sess.ptr.Store(nil)
	defer st.recoverInto("client-put", nil, cfg.OnEvent)
	cfg.Cache.Put(key, sess)
	st.n.clientPuts.Add(1)
}

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
	sess, err := call(st, cfg, "get", id, info, func(ctx context.Context) (*Session, error) {
		return cfg.Store.Get(ctx, id)
	}, (*Session).Close) // a late answer is nobody's: release it
	if err != nil {
		st.classify(cfg, "get", id, err, &st.n.getErrors)
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
	if sess.shared && mode&CacheNoInternalStore == 0 {
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
	p := sess.ptr.Swap(nil) // hand our reference to libssl (copy = 0)
	sess.cleanup.Stop()
	st.n.getHits.Add(1)
	return (*C.SSL_SESSION)(p)
}

func (st *ctxState) reject(cfg *StoreConfig, id []byte, err error) {
	st.n.rejected.Add(1)
	st.report(cfg.OnEvent, Event{Kind: EventRejected, Op: "get", SessionID: id, Err: err})
}

// checkLookedUp refuses a session a store returned for id that libssl must
// not resume: another session's, expired, not resumable, or made under
// another session id context (when the context's one is known). The checks
// run in one C call; the error is built only on refusal.
func checkLookedUp(sess *Session, id, sidCtx []byte, now time.Time) error {
	p, err := sess.use()
	if err != nil {
		return err
	}
	code := C.go_session_check(p, cBytes(id), C.uint(len(id)), cBytes(sidCtx), C.uint(len(sidCtx)), b2i(sidCtx != nil), C.int64_t(now.Unix()))
	runtime.KeepAlive(sess)
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

func (st *ctxState) onRemoveSession(sp *C.SSL_SESSION) {
	cfg := st.store.Load()
	if cfg == nil || cfg.Callbacks&CallbackRemove == 0 {
		return
	}
	if st.closing.Load() {
		// SSL_CTX_free empties the internal cache through the remove
		// callback; a shared store must keep those sessions for the
		// other servers.
		st.n.removeSkipped.Add(1)
		return
	}
	st.n.removeCalls.Add(1)
	id := borrowed(sp).ID()
	_, err := call(st, cfg, "delete", id, LookupInfo{SessionIDContext: st.sessionIDContext()}, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, cfg.Store.Delete(ctx, id)
	}, nil)
	if err != nil {
		st.classify(cfg, "delete", id, err, &st.n.removeErrors)
	}
}

// sessionIDContext returns the id context set through SetSessionIDContext,
// shared and read-only, or nil.
func (st *ctxState) sessionIDContext() []byte {
	if p := st.sidCtx.Load(); p != nil && len(*p) > 0 {
		return *p
	}
	return nil
}

func (st *ctxState) onServerName(ssl *C.SSL) *C.SSL_CTX {
	fn := st.sni.Load()
	if fn == nil {
		return nil
	}
	name := ""
	if n := C.SSL_get_servername(ssl, C.TLSEXT_NAMETYPE_host_name); n != nil {
		name = C.GoString(n)
	}
	var to *Ctx
	func() {
		defer st.recoverInto("servername", nil, nil)
		to = (*fn)(name)
	}()
	if to == nil {
		return nil
	}
	return (*C.SSL_CTX)(to.ptr.Load())
}
