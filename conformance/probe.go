package conformance

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
	"github.com/osslcache/osslcache/store"
)

// sidCtx is the session id context every server gets unless a check is
// about it.
var sidCtx = []byte("osslcache-conformance")

// clientKey is the ClientSessionCache key every client connection uses, so
// that the client's new-session callback reaches a recorder.
const clientKey = "localhost:443"

// probe is what one check works with: the variant, a certificate, and the
// objects to release when the check ends. Its helpers panic with a
// checkError on failure; the runner turns that into an "error" row, so a
// check reads as a straight line of observations.
type probe struct {
	v       Variant
	cert    *ossltest.Certificate
	cleanup []func()
}

type checkError struct{ err error }

func (p *probe) must(err error, what string) {
	if err != nil {
		panic(checkError{fmt.Errorf("%s: %w", what, err)})
	}
}

func (p *probe) fail(format string, args ...any) {
	panic(checkError{fmt.Errorf(format, args...)})
}

func (p *probe) defer_(f func()) { p.cleanup = append(p.cleanup, f) }

func (p *probe) close() {
	for i := len(p.cleanup) - 1; i >= 0; i-- {
		p.cleanup[i]()
	}
	p.cleanup = nil
}

// serverOpts adjusts the ossltest options of one server context.
type serverOpt func(*ossltest.ServerOptions)

func withSIDCtx(b []byte) serverOpt {
	return func(o *ossltest.ServerOptions) { o.SessionIDContext = b }
}

func verifyingClients() serverOpt {
	return func(o *ossltest.ServerOptions) { o.VerifyClient = true }
}

// server makes a server context for the variant with the suite's session id
// context, in cache mode m.
func (p *probe) server(m ossl.CacheMode, opts ...serverOpt) *ossl.Ctx {
	o := p.v.ServerOptions()
	o.SessionIDContext = sidCtx
	for _, f := range opts {
		f(&o)
	}
	ctx, err := ossltest.NewServerCtx(p.cert, o)
	p.must(err, "server context")
	p.defer_(func() { ctx.Close() })
	p.mode(ctx, m)
	return ctx
}

// client makes a client context for the variant in cache mode m, with a
// recording ClientSessionCache (which never offers anything) so that the
// client's new-session callback calls are counted.
func (p *probe) client(m ossl.CacheMode) (*ossl.Ctx, *clientRecorder) {
	ctx, rec := p.clientWith(optsVerifying(p.v))
	p.mode(ctx, m)
	return ctx, rec
}

func (p *probe) clientWith(o ossltest.ClientOptions) (*ossl.Ctx, *clientRecorder) {
	ctx, err := ossltest.NewClientCtx(p.cert, o)
	p.must(err, "client context")
	p.defer_(func() { ctx.Close() })
	rec := &clientRecorder{}
	p.must(ctx.SetClientSessionCache(ossl.ClientCacheConfig{Cache: rec}), "SetClientSessionCache")
	return ctx, rec
}

func (p *probe) mode(ctx *ossl.Ctx, m ossl.CacheMode) {
	_, err := ctx.SetSessionCacheMode(m)
	p.must(err, "SSL_CTX_set_session_cache_mode")
}

// store installs a recording store on a server context with the given
// callbacks (CallbackNew|CallbackGet unless told: a remove callback changes
// what a TLS 1.3 server caches).
func (p *probe) store(ctx *ossl.Ctx, cbs ...ossl.CallbackSet) *recorder {
	set := ossl.CallbackNew | ossl.CallbackGet
	if len(cbs) > 0 {
		set = cbs[0]
	}
	return p.install(ctx, newRecorder(), set)
}

// singleUseStore installs a recording store whose lookups take the session
// out, so that a session is found once, as a single-use external cache
// (redisstore's SingleUse) does; with the new and get callbacks.
func (p *probe) singleUseStore(ctx *ossl.Ctx) *recorder {
	rec := newRecorder()
	rec.singleUse = true
	return p.install(ctx, rec, ossl.CallbackNew|ossl.CallbackGet)
}

func (p *probe) install(ctx *ossl.Ctx, rec *recorder, set ossl.CallbackSet) *recorder {
	p.must(ctx.SetSessionStore(ossl.StoreConfig{Store: rec, Callbacks: set}), "SetSessionStore")
	p.defer_(rec.close)
	return rec
}

// hs runs one connection, offering sess when not nil. A failed handshake
// aborts the check.
func (p *probe) hs(client, server *ossl.Ctx, sess *ossl.Session) *ossltest.Result {
	r, err := p.try(client, server, sess)
	p.must(err, "handshake")
	return r
}

// try runs one connection and returns its error instead of aborting.
func (p *probe) try(client, server *ossl.Ctx, sess *ossl.Session) (*ossltest.Result, error) {
	return p.tryEarly(client, server, sess, nil)
}

// tryEarly is try with early data: the client writes early (when not
// empty) before the handshake, and the server reads what it accepts.
func (p *probe) tryEarly(client, server *ossl.Ctx, sess *ossl.Session, early []byte) (*ossltest.Result, error) {
	o := ossltest.Options{Session: sess, EarlyData: early}
	if client.ClientSessionCache() != nil {
		o.CacheKey = clientKey
	}
	r, err := ossltest.Handshake(client, server, o)
	if err != nil {
		return nil, err
	}
	p.defer_(r.Close)
	return r, nil
}

func (p *probe) stats(ctx *ossl.Ctx) ossl.Stats { return ctx.Stats() }

func (p *probe) sessions(ctx *ossl.Ctx) int64 { return p.stats(ctx).Sessions }

// canary returns a copy of s under a fresh random session ID whose time lies
// three hours back, so that it has expired under the default 7200 s timeout:
// a session for SSL_CTX_flush_sessions to remove.
func (p *probe) canary(s *ossl.Session) *ossl.Session {
	if s == nil {
		p.fail("no session to copy for a canary")
	}
	d, err := s.Dup()
	p.must(err, "SSL_SESSION_dup")
	p.defer_(d.Close)
	id := make([]byte, 32)
	_, err = rand.Read(id)
	p.must(err, "random session ID")
	p.must(d.SetID(id), "SSL_SESSION_set1_id")
	p.must(d.SetTime(time.Now().Add(-3*time.Hour)), "SSL_SESSION_set_time")
	return d
}

// inCache reports whether a session with s's ID is in ctx's internal cache,
// with SSL_CTX_remove_session (which takes it out: use last).
func (p *probe) inCache(ctx *ossl.Ctx, s *ossl.Session) bool {
	ok, err := ctx.RemoveSession(s)
	p.must(err, "SSL_CTX_remove_session")
	return ok
}

// handshakeFailure describes why a handshake failed, for the observed text.
func handshakeFailure(err error) string {
	var oe *ossl.Error
	if errors.As(err, &oe) {
		for _, e := range oe.Entries {
			if i := strings.LastIndex(e.Reason, ":"); i >= 0 {
				return "handshake failed: " + e.Reason[i+1:]
			}
		}
	}
	return "handshake failed: " + err.Error()
}

// recorder is an ossl.SessionStore over store.Memory that logs every call
// libssl makes through the bridge, in order: "new", "get(hit)",
// "get(miss)", "remove". store.Memory stores a private copy of each
// session (Dup), so what libssl does to its own objects (a flush marks
// them not resumable) does not reach it; but a hit hands libssl a
// reference to that copy, so what libssl then does to the session it
// looked up (a removal under NO_INTERNAL_STORE marks it not resumable)
// does, as in any in-process store. An external cache (a database,
// another process) would return a fresh copy each time.
type recorder struct {
	mu  sync.Mutex
	log []string
	ids [][]byte // IDs looked up, in order
	mem *store.Memory
	// singleUse makes a hit take the session out of the store.
	singleUse bool
}

func newRecorder() *recorder { return &recorder{mem: store.NewMemory(store.MemoryOptions{})} }

// RunsInline makes the bridge call the recorder inline, in libssl's order.
func (r *recorder) RunsInline(installed ossl.SessionStore) bool {
	return installed == ossl.SessionStore(r)
}

func (r *recorder) add(ev string) {
	r.mu.Lock()
	r.log = append(r.log, ev)
	r.mu.Unlock()
}

func (r *recorder) Put(ctx context.Context, s *ossl.Session) error {
	r.add("new")
	d, err := s.Dup()
	s.Close()
	if err != nil {
		return err
	}
	return r.mem.Put(ctx, d)
}

func (r *recorder) Get(ctx context.Context, id []byte) (*ossl.Session, error) {
	s, err := r.mem.Get(ctx, id)
	if s != nil && r.singleUse {
		err = r.mem.Delete(ctx, id)
	}
	r.mu.Lock()
	r.ids = append(r.ids, append([]byte(nil), id...))
	if s != nil {
		r.log = append(r.log, "get(hit)")
	} else {
		r.log = append(r.log, "get(miss)")
	}
	r.mu.Unlock()
	return s, err
}

func (r *recorder) Delete(ctx context.Context, id []byte) error {
	r.add("remove")
	return r.mem.Delete(ctx, id)
}

// mark returns the log position, for since.
func (r *recorder) mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.log)
}

// since returns the calls logged from position m on.
func (r *recorder) since(m int) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.log[m:]...)
}

func (r *recorder) count(ev string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.log {
		if e == ev {
			n++
		}
	}
	return n
}

// lastLookedUp returns a new reference to the stored session of the last
// ID looked up, or nil.
func (r *recorder) lastLookedUp() *ossl.Session {
	r.mu.Lock()
	var id []byte
	if len(r.ids) > 0 {
		id = r.ids[len(r.ids)-1]
	}
	r.mu.Unlock()
	if id == nil {
		return nil
	}
	s, _ := r.mem.Get(context.Background(), id)
	return s
}

// forget empties the store (not the log).
func (r *recorder) forget() {
	r.mem.Close()
}

func (r *recorder) close() { r.mem.Close() }

// clientRecorder is a ClientSessionCache that records the client
// new-session callback calls and never offers a session.
type clientRecorder struct {
	mu   sync.Mutex
	puts int
}

func (c *clientRecorder) Get(string) *ossl.Session { return nil }

func (c *clientRecorder) Put(string, *ossl.Session) {
	c.mu.Lock()
	c.puts++
	c.mu.Unlock()
}

func (c *clientRecorder) calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.puts
}

// logString writes a callback log compactly: "new, new, get(hit)"; "none"
// when empty.
func logString(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}

// zeroTime makes FlushSessions remove every session.
var zeroTime time.Time

// optsVerifying is the variant's client, verifying the server.
func optsVerifying(v Variant) ossltest.ClientOptions {
	o := v.ClientOptions()
	o.VerifyServer = true
	return o
}

// optsPresenting is a client that also presents the certificate (for
// servers that verify peers).
func optsPresenting(v Variant) ossltest.ClientOptions {
	o := optsVerifying(v)
	o.PresentCertificate = true
	return o
}
