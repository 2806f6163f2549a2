package conformance

import (
	"fmt"

	"github.com/osslcache/osslcache/ossl"
)

// ---- client-stores ----

type clientStoresObs struct {
	storeCount
	tls13 bool
}

func checkClientStores(p *probe) verdict {
	s := p.server(ossl.CacheServer)
	c, rec := p.client(ossl.CacheClient)
	p.hs(c, s, nil)
	return decideClientStores(clientStoresObs{storeCount{p.sessions(c), rec.calls()}, isTLS13(p.v)})
}

func decideClientStores(o clientStoresObs) verdict {
	note := ""
	if o.tls13 && o.cached > 1 {
		note = " (one per TLS 1.3 ticket)"
	}
	return decide(o.cached > 0 && o.calls > 0, "CLIENT client after one full handshake: %s%s", o.storeCount, note)
}

// ---- client-no-auto-reuse ----

type noAutoReuseObs struct {
	cached int64
	next   attempt
}

func checkClientNoAutoReuse(p *probe) verdict {
	s := p.server(ossl.CacheServer)
	c, _ := p.client(ossl.CacheClient)
	p.hs(c, s, nil)
	o := noAutoReuseObs{cached: p.sessions(c)}
	o.next = p.attempt(c, s, nil, nil)
	return decideClientNoAutoReuse(o)
}

func decideClientNoAutoReuse(o noAutoReuseObs) verdict {
	text := fmt.Sprintf("CLIENT client holding %s, next connection without SSL_set_session: %s (server %s)", nof(o.cached, "cached session"), o.next.outcome(), o.next.counters())
	if o.cached == 0 {
		return deviates("%s; the client cache was empty, so nothing is shown", text)
	}
	return decide(o.next.full(), "%s", text)
}

// ---- client-set-session-reuses ----

func checkClientSetSessionReuses(p *probe) verdict {
	s := p.server(ossl.CacheServer)
	c, _ := p.client(ossl.CacheClient)
	r := p.hs(c, s, nil)
	return decideClientSetSessionReuses(p.attempt(c, s, r.ClientSession, nil))
}

func decideClientSetSessionReuses(a attempt) verdict {
	return decide(a.resumed(), "CLIENT client offering its previous session with SSL_set_session: %s (client reused %v, server reused %v; server %s)",
		a.outcome(), a.client, a.server, a.counters())
}

// ---- client-not-default ----

type clientDefaultObs struct {
	mode ossl.CacheMode
	storeCount
}

func checkClientNotDefault(p *probe) verdict {
	s := p.server(ossl.CacheServer)
	c, rec := p.clientWith(optsVerifying(p.v))
	m := c.SessionCacheMode()
	p.hs(c, s, nil)
	return decideClientNotDefault(clientDefaultObs{m, storeCount{p.sessions(c), rec.calls()}})
}

func decideClientNotDefault(o clientDefaultObs) verdict {
	return decide(o.mode&ossl.CacheClient == 0 && o.cached == 0 && o.calls == 0,
		"fresh client context (mode %s) after a full handshake: %s", o.mode, o.storeCount)
}

// ---- tls13-client-single-use ----

type singleUseObs struct {
	cached                int64 // client sessions after the full handshake
	first, second         attempt
	resumableAfter        bool
	cachedAfter           int64
	controlFirst, control attempt // a client without CLIENT offering one session twice
}

func checkTLS13ClientSingleUse(p *probe) verdict {
	s := p.server(ossl.CacheServer)
	c, _ := p.client(ossl.CacheClient)
	r := p.hs(c, s, nil)
	o := singleUseObs{cached: p.sessions(c)}
	o.first = p.attempt(c, s, r.ClientSession, nil)
	o.resumableAfter = r.ClientSession.IsResumable()
	o.cachedAfter = p.sessions(c)
	o.second = p.attempt(c, s, r.ClientSession, nil)

	d, _ := p.client(ossl.CacheServer)
	rd := p.hs(d, s, nil)
	o.controlFirst = p.attempt(d, s, rd.ClientSession, nil)
	o.control = p.attempt(d, s, rd.ClientSession, nil)
	return decideSingleUse(o)
}

func decideSingleUse(o singleUseObs) verdict {
	return decide(o.first.resumed() && !o.resumableAfter && o.second.full() && o.controlFirst.resumed() && o.control.resumed(),
		"CLIENT client (%d cached after the full handshake): first offer of a session %s, after it the session is resumable=%v and the cache holds %d; second offer of the same session: %s; a client without CLIENT offering one session twice: %s, then %s",
		o.cached, o.first.outcome(), o.resumableAfter, o.cachedAfter, o.second.outcome(), o.controlFirst.outcome(), o.control.outcome())
}

// ---- ctx-free-ends-sessions ----

type ctxFreeObs struct {
	cached                  int64
	before, after           bool // the kept session's SSL_SESSION_is_resumable
	elsewhere               attempt
	controlAfter            bool // a session kept from a client without CLIENT
	controlElsewhere        attempt
	serverCached            int64
	serverBefore, serverAft bool
	// The remove callback during SSL_CTX_free, from the bridge's counters
	// (RemoveSkipped: calls while libssl frees the context, which the
	// bridge does not forward; RemoveCalls: calls it forwarded): of the
	// CLIENT client (its ClientSessionCache installs the callback), and of
	// a server with a store of all three callbacks.
	clientFree removeAtFree
	serverFree removeAtFree
}

// removeAtFree is what the remove callback did while SSL_CTX_free emptied
// a cache of cached sessions.
type removeAtFree struct {
	cached, skipped, forwarded int64
	storeRemoves               int // remove calls the store saw
}

func (r removeAtFree) calls() int64 { return r.skipped + r.forwarded }

func (r removeAtFree) String() string {
	return fmt.Sprintf("%d cached, remove callback %s at SSL_CTX_free (%d not forwarded, RemoveSkipped; %d forwarded; the store saw %d)",
		r.cached, nof(r.calls(), "call"), r.skipped, r.forwarded, r.storeRemoves)
}

// freeCounting frees ctx, which caches cached sessions, and returns what
// its remove callback did meanwhile (rec, the store, may be nil).
func (p *probe) freeCounting(ctx *ossl.Ctx, rec *recorder) removeAtFree {
	r := removeAtFree{cached: p.sessions(ctx)}
	before := ctx.CallbackStats()
	m := 0
	if rec != nil {
		m = rec.mark()
	}
	p.must(ctx.Close(), "SSL_CTX_free")
	after := ctx.CallbackStats()
	r.skipped, r.forwarded = after.RemoveSkipped-before.RemoveSkipped, after.RemoveCalls-before.RemoveCalls
	if rec != nil {
		r.storeRemoves = countOf(rec.since(m), "remove")
	}
	return r
}

func checkCtxFreeEndsSessions(p *probe) verdict {
	s := p.server(ossl.CacheServer)
	other, _ := p.client(ossl.CacheServer)
	var o ctxFreeObs

	c, _ := p.client(ossl.CacheClient)
	r := p.hs(c, s, nil)
	o.cached = p.sessions(c)
	o.before = r.ClientSession.IsResumable()
	o.clientFree = p.freeCounting(c, nil)
	o.after = r.ClientSession.IsResumable()
	o.elsewhere = p.attempt(other, s, r.ClientSession, nil)

	d, _ := p.client(ossl.CacheServer)
	rd := p.hs(d, s, nil)
	p.must(d.Close(), "SSL_CTX_free")
	o.controlAfter = rd.ClientSession.IsResumable()
	o.controlElsewhere = p.attempt(other, s, rd.ClientSession, nil)

	// The server side: its own references to cached sessions.
	t := p.server(ossl.CacheServer)
	rt := p.hs(other, t, nil)
	o.serverCached = p.sessions(t)
	o.serverBefore = rt.ServerSession.IsResumable()
	p.must(t.Close(), "SSL_CTX_free")
	o.serverAft = rt.ServerSession.IsResumable()

	// A server with a remove callback (which makes a TLS 1.3 server cache
	// its stateless sessions too) and two full handshakes.
	u := p.server(ossl.CacheServer)
	rec := p.store(u, ossl.CallbackAll)
	p.hs(other, u, nil)
	p.hs(other, u, nil)
	o.serverFree = p.freeCounting(u, rec)
	return decideCtxFree(o)
}

func decideCtxFree(o ctxFreeObs) verdict {
	server := fmt.Sprintf("server context caching %d: its session resumable=%v before SSL_CTX_free, %v after", o.serverCached, o.serverBefore, o.serverAft)
	// The flush of SSL_CTX_free calls the remove callback once per cached
	// session, as any flush does.
	flushed := func(r removeAtFree) bool { return r.calls() == r.cached }
	return decide(o.cached > 0 && o.before && !o.after && o.elsewhere.full() && o.controlAfter && o.controlElsewhere.resumed() &&
		flushed(o.clientFree) && flushed(o.serverFree),
		"CLIENT client caching %d: the kept session was resumable=%v before SSL_CTX_free, %v after; offered through another client context: %s; a session kept from a client without CLIENT: resumable=%v after its context was freed, offered elsewhere: %s; %s; remove callback at SSL_CTX_free: CLIENT client %s; server with a store of all three callbacks, after two full handshakes: %s",
		o.cached, o.before, o.after, o.elsewhere.outcome(), o.controlAfter, o.controlElsewhere.outcome(), server, o.clientFree, o.serverFree)
}
