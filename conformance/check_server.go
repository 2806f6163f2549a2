package conformance

import (
	"fmt"

	"github.com/osslcache/osslcache/ossl"
)

// ---- cache-per-ctx ----

type cachePerCtxObs struct {
	aCached, bCached int64
	toB, backToA     attempt
}

func checkCachePerCtx(p *probe) verdict {
	a, b := p.server(ossl.CacheServer), p.server(ossl.CacheServer)
	c, _ := p.client(ossl.CacheServer)
	r := p.hs(c, a, nil)
	o := cachePerCtxObs{aCached: p.sessions(a), bCached: p.sessions(b)}
	o.toB = p.attempt(c, b, r.ClientSession, nil)
	o.backToA = p.attempt(c, a, r.ClientSession, nil)
	return decideCachePerCtx(o)
}

func decideCachePerCtx(o cachePerCtxObs) verdict {
	note := ""
	if o.aCached == 0 {
		note = "; A keeps no server state (stateless ticket) and B cannot open A's ticket: each context has its own ticket keys"
	}
	text := fmt.Sprintf("session made through server context A (A caches %d, B %d); offered to B (same certificate and id context): %s (B: %s); offered back to A: %s%s",
		o.aCached, o.bCached, o.toB.outcome(), o.toB.counters(), o.backToA.outcome(), note)
	if !o.backToA.resumed() {
		return deviates("%s; A did not resume its own session, so nothing is shown", text)
	}
	return decide(o.toB.full(), "%s", text)
}

// ---- reuse-or-full ----

type reuseOrFullObs struct {
	known   attempt
	foreign attempt // a session made by another server context
	cached  int64   // sessions the server cached for the full handshake
	removed *attempt
}

func checkReuseOrFull(p *probe) verdict {
	s, other := p.server(ossl.CacheServer), p.server(ossl.CacheServer)
	c, _ := p.client(ossl.CacheServer)
	r := p.hs(c, s, nil)
	o := reuseOrFullObs{cached: p.sessions(s)}
	o.known = p.attempt(c, s, r.ClientSession, nil)
	f := p.hs(c, other, nil)
	o.foreign = p.attempt(c, s, f.ClientSession, nil)
	if o.cached > 0 {
		r2 := p.hs(c, s, nil)
		if !p.inCache(s, r2.ServerSession) { // takes it out
			p.fail("the server's session of the last handshake was not in its cache")
		}
		a := p.attempt(c, s, r2.ClientSession, nil)
		o.removed = &a
	}
	return decideReuseOrFull(o)
}

func decideReuseOrFull(o reuseOrFullObs) verdict {
	fullWithNew := func(a attempt) bool { return a.full() && a.fresh }
	desc := func(a attempt) string {
		s := a.outcome()
		if a.full() {
			if a.fresh {
				s += ", new session issued"
			} else {
				s += ", no new resumable session"
			}
		}
		return fmt.Sprintf("%s (%s)", s, a.counters())
	}
	ok := o.known.resumed() && fullWithNew(o.foreign)
	text := fmt.Sprintf("known session: %s; session of another server context: %s", o.known.outcome(), desc(o.foreign))
	if o.removed != nil {
		ok = ok && fullWithNew(*o.removed)
		text += "; session taken out with SSL_CTX_remove_session: " + desc(*o.removed)
	} else {
		text += "; no server-side entry to remove (stateless ticket)"
	}
	return decide(ok, "%s", text)
}

// ---- lookup-internal-then-external ----

type lookupOrderObs struct {
	internal, stored int64
	both             attempt // the session in both caches
	externalOnly     attempt // after flushing the internal cache
}

func checkLookupInternalThenExternal(p *probe) verdict {
	s := p.server(ossl.CacheServer)
	rec := p.store(s) // new and get: the store keeps what the flush removes
	c, _ := p.client(ossl.CacheServer)
	r := p.hs(c, s, nil)
	o := lookupOrderObs{internal: p.sessions(s), stored: int64(rec.count("new"))}
	o.both = p.attempt(c, s, r.ClientSession, rec)
	p.must(s.FlushSessions(zeroTime), "SSL_CTX_flush_sessions")
	o.externalOnly = p.attempt(c, s, r.ClientSession, rec)
	return decideLookupOrder(o)
}

func decideLookupOrder(o lookupOrderObs) verdict {
	if o.internal == 0 && o.both.resumed() && o.externalOnly.resumed() &&
		len(o.both.gets()) == 0 && len(o.externalOnly.gets()) == 0 && o.both.d.Misses+o.externalOnly.d.Misses == 0 {
		return notApplicable("stateless ticket: resumed twice with no lookup at all (internal cache 0 sessions, %s, misses 0); the ticket carries the session", o.both.lookups())
	}
	internalFirst := o.both.resumed() && len(o.both.gets()) == 0 && o.both.d.Hits == 1 && o.both.d.CallbackHits == 0
	thenExternal := o.externalOnly.resumed() && o.externalOnly.d.Misses == 1 &&
		logString(o.externalOnly.gets()) == "get(hit)" && o.externalOnly.d.CallbackHits == 1
	return decide(internalFirst && thenExternal,
		"session in both caches (internal %d, store %d): %s from the internal cache (%s, %s); internal cache flushed, store kept it: %s (%s, %s)",
		o.internal, o.stored, o.both.outcome(), o.both.counters(), o.both.lookups(),
		o.externalOnly.outcome(), o.externalOnly.counters(), o.externalOnly.lookups())
}

// ---- server-stores, server-resumes-internal, server-resumes-external ----

type serverStoresObs struct {
	storeCount
	tls13 bool
}

func checkServerStores(p *probe) verdict {
	s := p.server(ossl.CacheServer)
	rec := p.store(s)
	c, _ := p.client(ossl.CacheServer)
	p.hs(c, s, nil)
	return decideServerStores(serverStoresObs{storeCount{p.sessions(s), rec.count("new")}, isTLS13(p.v)})
}

func decideServerStores(o serverStoresObs) verdict {
	why := ""
	switch {
	case o.cached == 0 && o.calls == 0:
		why = ": a TLS 1.2 session sent as a ticket has no session ID, so ssl_update_cache stores it nowhere"
	case o.cached == 0 && o.tls13:
		why = ": stateless TLS 1.3 tickets reach the new-session callback (one call per ticket) but not the internal cache"
	case o.tls13 && o.cached > 1:
		why = fmt.Sprintf(" (%d per full handshake: one per ticket)", o.cached)
	}
	return decide(o.cached > 0 && o.calls > 0, "after one full handshake: %s%s", o.storeCount, why)
}

type resumesInternalObs struct {
	cached int64
	resume attempt
}

func checkServerResumesInternal(p *probe) verdict {
	s := p.server(ossl.CacheServer)
	c, _ := p.client(ossl.CacheServer)
	r := p.hs(c, s, nil)
	o := resumesInternalObs{cached: p.sessions(s)}
	o.resume = p.attempt(c, s, r.ClientSession, nil)
	return decideServerResumesInternal(o)
}

func decideServerResumesInternal(o resumesInternalObs) verdict {
	if o.cached == 0 && o.resume.resumed() {
		return notApplicable("stateless ticket: resumed (%s) with 0 sessions in the internal cache: the ticket carries the session, no cache is looked up", o.resume.counters())
	}
	return decide(o.cached > 0 && o.resume.resumed() && o.resume.d.Hits == 1 && o.resume.d.CallbackHits == 0,
		"%s in the internal cache, no store: %s (%s)", nof(o.cached, "session"), o.resume.outcome(), o.resume.counters())
}

type resumesExternalObs struct {
	internal int64
	stored   int
	resume   attempt
}

func checkServerResumesExternal(p *probe) verdict {
	s := p.server(ossl.CacheServer | ossl.CacheNoInternalStore)
	rec := p.store(s)
	c, _ := p.client(ossl.CacheServer)
	r := p.hs(c, s, nil)
	o := resumesExternalObs{internal: p.sessions(s), stored: rec.count("new")}
	o.resume = p.attempt(c, s, r.ClientSession, rec)
	return decideServerResumesExternal(o)
}

func decideServerResumesExternal(o resumesExternalObs) verdict {
	if o.resume.resumed() && len(o.resume.gets()) == 0 {
		return notApplicable("stateless ticket: resumed with no lookup (%s, %s); the store (%s) was never asked", o.resume.counters(), o.resume.lookups(), nof(o.stored, "session"))
	}
	return decide(o.resume.resumed() && logString(o.resume.gets()) == "get(hit)" && o.resume.d.CallbackHits == 1,
		"session only in the store (internal %d, store %d, SERVER|NO_INTERNAL_STORE): %s (%s, %s)",
		o.internal, o.stored, o.resume.outcome(), o.resume.counters(), o.resume.lookups())
}

// ---- tls13-stateless-cached-with-remove-cb ----

type removeCbObs struct {
	without, with storeCount
}

func checkTLS13StatelessCachedWithRemoveCb(p *probe) verdict {
	var o removeCbObs
	for _, set := range []ossl.CallbackSet{ossl.CallbackNew | ossl.CallbackGet, ossl.CallbackAll} {
		s := p.server(ossl.CacheServer)
		rec := p.store(s, set)
		c, _ := p.client(ossl.CacheServer)
		p.hs(c, s, nil)
		sc := storeCount{p.sessions(s), rec.count("new")}
		if set == ossl.CallbackAll {
			o.with = sc
		} else {
			o.without = sc
		}
	}
	return decideRemoveCb(o)
}

func decideRemoveCb(o removeCbObs) verdict {
	return decide(o.without.cached == 0 && o.with.cached > 0,
		"stateless TLS 1.3 server, one full handshake: new and get callbacks only: %s; new, get and remove callbacks: %s",
		o.without, o.with)
}
