package conformance

import (
	"bytes"
	"fmt"
	"time"

	"github.com/osslcache/osslcache/ossl"
)

// ---- no-internal-is-both ----

type serverRun struct {
	internal, stored int64
	resume           string
	lookups          string
	hits, cbHits     int64
	misses           int64
	internalAfter    int64
}

func (r serverRun) String() string {
	return fmt.Sprintf("%d internal, %d stored; resumption %s (hits %d, misses %d, cb hits %d, %s), %d internal after",
		r.internal, r.stored, r.resume, r.hits, r.misses, r.cbHits, r.lookups, r.internalAfter)
}

// serverRun runs a full handshake and a resumption on a server in mode m
// with a store.
func (p *probe) serverRun(m ossl.CacheMode) serverRun {
	s := p.server(m)
	rec := p.store(s)
	c, _ := p.client(ossl.CacheServer)
	r := p.hs(c, s, nil)
	sr := serverRun{internal: p.sessions(s), stored: int64(rec.count("new"))}
	a := p.attempt(c, s, r.ClientSession, rec)
	sr.resume, sr.lookups = a.outcome(), a.lookups()
	sr.hits, sr.cbHits, sr.misses = a.d.Hits, a.d.CallbackHits, a.d.Misses
	sr.internalAfter = p.sessions(s)
	return sr
}

type noInternalObs struct {
	value, lookup, store ossl.CacheMode
	combined, both       serverRun
}

func checkNoInternalIsBoth(p *probe) verdict {
	o := noInternalObs{value: ossl.CacheNoInternal, lookup: ossl.CacheNoInternalLookup, store: ossl.CacheNoInternalStore}
	o.combined = p.serverRun(ossl.CacheServer | ossl.CacheNoInternal)
	o.both = p.serverRun(ossl.CacheServer | ossl.CacheNoInternalLookup | ossl.CacheNoInternalStore)
	return decideNoInternal(o)
}

func decideNoInternal(o noInternalObs) verdict {
	same := o.combined == o.both
	text := fmt.Sprintf("SSL_SESS_CACHE_NO_INTERNAL = %#x, NO_INTERNAL_LOOKUP|NO_INTERNAL_STORE = %#x", int64(o.value), int64(o.lookup|o.store))
	if same {
		text += "; SERVER with either: " + o.combined.String()
	} else {
		text += "; SERVER|NO_INTERNAL: " + o.combined.String() + "; SERVER|NO_INTERNAL_LOOKUP|NO_INTERNAL_STORE: " + o.both.String()
	}
	return decide(o.value == o.lookup|o.store && same && o.combined.internal == 0, "%s", text)
}

// ---- both-is-union ----

type bothObs struct {
	value, client, server    ossl.CacheMode
	clientBoth, clientClient storeCount
	serverBoth, serverServer storeCount
	resumeBoth, resumeServer string
	one                      oneCtxRun
}

// oneCtxRun is one context used as the client and the server of its own
// connections: one full handshake, then the client's session offered back
// through the same context.
type oneCtxRun struct {
	cached      int64 // sessions in the one cache after the full handshake
	calls       int   // server new-session callback calls (the store's)
	clientCalls int   // client new-session callback calls; -1: not observed
	removes     int64 // remove callback calls during the full handshake
	sameID      bool  // the client's session has the server's session ID
	resume      attempt
	survivor    string // for sessions of one ID: whose object stayed cached
}

func checkBothIsUnion(p *probe) verdict {
	o := bothObs{value: ossl.CacheBoth, client: ossl.CacheClient, server: ossl.CacheServer}
	for _, both := range []bool{true, false} {
		sm, cm := ossl.CacheServer, ossl.CacheClient
		if both {
			sm, cm = ossl.CacheBoth, ossl.CacheBoth
		}
		s := p.server(sm)
		rec := p.store(s)
		c, crec := p.client(cm)
		r := p.hs(c, s, nil)
		sc, cc := storeCount{p.sessions(s), rec.count("new")}, storeCount{p.sessions(c), crec.calls()}
		res := p.attempt(c, s, r.ClientSession, rec).outcome()
		if both {
			o.serverBoth, o.clientBoth, o.resumeBoth = sc, cc, res
		} else {
			o.serverServer, o.clientClient, o.resumeServer = sc, cc, res
		}
	}
	o.one = p.oneCtxRun(ossl.CacheBoth, ossl.CallbackNew|ossl.CallbackGet, false)
	return decideBoth(o)
}

// oneCtx makes a TLS_method context (ossl.RoleAny) for the variant, usable
// as client and server at once: the certificate, the suite's session id
// context, the variant's options, cache mode m. Neither side verifies the
// other (a server that verifies asks for a client certificate).
func (p *probe) oneCtx(m ossl.CacheMode) *ossl.Ctx {
	ctx, err := ossl.NewCtx(ossl.Config{Role: ossl.RoleAny, MinVersion: p.v.Version, MaxVersion: p.v.Version})
	p.must(err, "TLS_method context")
	p.defer_(func() { ctx.Close() })
	p.must(ctx.LoadCertificatePEM(p.cert.CertPEM, p.cert.KeyPEM), "certificate")
	if p.v.NoTicket {
		_, err = ctx.SetOptions(ossl.OptionNoTicket)
		p.must(err, "SSL_OP_NO_TICKET")
	}
	p.must(ctx.SetSessionIDContext(sidCtx), "session id context")
	p.mode(ctx, m)
	return ctx
}

// oneCtxRun runs a full handshake of a context in mode m with itself, with
// a recording store of the given callbacks and, if clientCache, a
// recording ClientSessionCache (which installs the remove callback too),
// then offers the client's session back through it; when both sides'
// sessions have one ID, a second context tells which of the two objects
// its cache kept.
func (p *probe) oneCtxRun(m ossl.CacheMode, cbs ossl.CallbackSet, clientCache bool) oneCtxRun {
	one := p.oneCtx(m)
	rec := p.store(one, cbs)
	var crec *clientRecorder
	if clientCache {
		crec = &clientRecorder{}
		p.must(one.SetClientSessionCache(ossl.ClientCacheConfig{Cache: crec}), "SetClientSessionCache")
	}
	r := p.hs(one, one, nil)
	o := oneCtxRun{cached: p.sessions(one), calls: rec.count("new"), clientCalls: -1, removes: one.CallbackStats().RemoveCalls}
	if crec != nil {
		o.clientCalls = crec.calls()
	}
	o.sameID = len(r.ServerSession.ID()) > 0 && bytes.Equal(r.ClientSession.ID(), r.ServerSession.ID())
	o.resume = p.attempt(one, one, r.ClientSession, rec)
	if o.sameID {
		o.survivor = p.survivor(m)
	}
	return o
}

// survivor makes a context in mode m handshake with itself once and tells
// whose session object its cache kept, "client", "server", "neither" or
// "both": it moves one side's object three hours back (expired under the
// 7200 s default timeout) and flushes, which removes that object only if
// it is the cached one; then the same for the other side.
func (p *probe) survivor(m ossl.CacheMode) string {
	one := p.oneCtx(m)
	r := p.hs(one, one, nil)
	now := time.Now()
	gone := func(s *ossl.Session) bool {
		before := p.sessions(one)
		p.must(s.SetTime(now.Add(-3*time.Hour)), "SSL_SESSION_set_time")
		p.must(one.FlushSessions(now), "SSL_CTX_flush_sessions")
		return p.sessions(one) < before
	}
	server, client := gone(r.ServerSession), gone(r.ClientSession)
	switch {
	case server && client:
		return "both"
	case server:
		return "server"
	case client:
		return "client"
	}
	return "neither"
}

func (o oneCtxRun) String() string {
	id := "their own session IDs"
	if o.sameID {
		id = "one session ID"
	}
	client := ""
	if o.clientCalls >= 0 {
		client = ", client new-session callback " + nof(o.clientCalls, "call")
	}
	return fmt.Sprintf("%d cached, server new-session callback %s%s, the two sides' sessions with %s; the client's session offered back through it: %s (%s)",
		o.cached, nof(o.calls, "call"), client, id, o.resume.outcome(), o.resume.counters())
}

func decideBoth(o bothObs) verdict {
	// One cache holds one session per ID: sessions of the two sides that
	// share one count once.
	union := o.serverBoth.cached + o.clientBoth.cached
	if o.one.sameID {
		union--
	}
	return decide(o.value == o.client|o.server && o.clientBoth == o.clientClient && o.serverBoth == o.serverServer && o.resumeBoth == o.resumeServer &&
		o.one.cached == union && o.one.calls == o.serverBoth.calls && o.one.resume.resumed(),
		"SSL_SESS_CACHE_BOTH = %#x, CLIENT|SERVER = %#x; a BOTH client %s, a CLIENT client %s; a BOTH server %s, a SERVER server %s; resumption between BOTH contexts: %s, between CLIENT and SERVER ones: %s; one BOTH TLS_method context as client and server of its own connection: %s",
		int64(o.value), int64(o.client|o.server), o.clientBoth, o.clientClient, o.serverBoth, o.serverServer, o.resumeBoth, o.resumeServer, o.one)
}

// ---- one-ctx-shared-session-id ----

func checkOneCtxSharedSessionID(p *probe) verdict {
	return decideOneCtxSharedID(p.oneCtxRun(ossl.CacheBoth, ossl.CallbackAll, true))
}

func decideOneCtxSharedID(o oneCtxRun) verdict {
	if !o.sameID {
		return notApplicable("the client's and the server's sessions have their own session IDs (a TLS 1.2 ticket server's session has none, and a client names a session it got with a ticket by the ticket's hash), so none replaces another: %s", o)
	}
	return decide(o.cached == 1 && o.calls == 1 && o.clientCalls == 1 && o.removes == 0 && o.survivor == "client" && o.resume.resumed(),
		"one BOTH TLS_method context as client and server of its own connection, with a store of all three callbacks and a ClientSessionCache: the two sides' sessions share one session ID; after the full handshake %d cached (new-session callback: server %s, client %s; remove callback %s); the cached object is %s; the client's session offered back through the context: %s (%s)",
		o.cached, nof(o.calls, "call"), nof(o.clientCalls, "call"), nof(o.removes, "call"), survivorText(o.survivor), o.resume.outcome(), o.resume.counters())
}

func survivorText(s string) string {
	switch s {
	case "client", "server":
		return "the " + s + "'s"
	case "both":
		return "either side's (each flush removed a session)"
	}
	return "neither side's"
}
