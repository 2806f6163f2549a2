package conformance

import (
	"fmt"

	"github.com/osslcache/osslcache/ossl"
)

// ---- no-internal-lookup-skips-internal ----

type skipsInternalObs struct {
	cached int64
	resume attempt
}

func checkNoInternalLookupSkipsInternal(p *probe) verdict {
	s := p.server(ossl.CacheServer | ossl.CacheNoInternalLookup)
	c, _ := p.client(ossl.CacheServer)
	r := p.hs(c, s, nil)
	o := skipsInternalObs{cached: p.sessions(s)}
	o.resume = p.attempt(c, s, r.ClientSession, nil)
	return decideSkipsInternal(o)
}

func decideSkipsInternal(o skipsInternalObs) verdict {
	if o.cached == 0 && o.resume.resumed() {
		return notApplicable("stateless ticket: nothing stored internally (0 sessions) and resumed anyway (%s): the ticket needs no lookup", o.resume.counters())
	}
	note := ""
	if o.resume.full() && o.resume.d.Misses == 0 {
		note = "; the skipped lookup is not counted as a miss"
	}
	return decide(o.cached > 0 && o.resume.full(),
		"SERVER|NO_INTERNAL_LOOKUP, no store: %s stored internally; resumption attempt: %s (%s)%s",
		nof(o.cached, "session"), o.resume.outcome(), o.resume.counters(), note)
}

// ---- no-internal-lookup-external-only ----

type externalOnlyObs struct {
	internal, stored int64
	inStore          attempt // the session in both caches
	internalAfter    int64
	notInStore       attempt // after the store forgot it
}

func checkNoInternalLookupExternalOnly(p *probe) verdict {
	s := p.server(ossl.CacheServer | ossl.CacheNoInternalLookup)
	rec := p.store(s)
	c, _ := p.client(ossl.CacheServer)
	r := p.hs(c, s, nil)
	o := externalOnlyObs{internal: p.sessions(s), stored: int64(rec.count("new"))}
	o.inStore = p.attempt(c, s, r.ClientSession, rec)
	rec.forget()
	o.internalAfter = p.sessions(s)
	o.notInStore = p.attempt(c, s, r.ClientSession, rec)
	return decideExternalOnly(o)
}

func decideExternalOnly(o externalOnlyObs) verdict {
	if o.inStore.resumed() && o.notInStore.resumed() && len(o.inStore.gets())+len(o.notInStore.gets()) == 0 {
		return notApplicable("stateless ticket: resumed with the store holding %s and after it was emptied, no lookup either time (%s, then %s; %s)",
			nof(o.stored, "session"), o.inStore.counters(), o.notInStore.counters(), o.inStore.lookups())
	}
	return decide(o.inStore.resumed() && logString(o.inStore.gets()) == "get(hit)" &&
		o.internalAfter > 0 && o.notInStore.full() && logString(o.notInStore.gets()) == "get(miss)",
		"SERVER|NO_INTERNAL_LOOKUP (internal %d, store %d): %s (%s, %s); store emptied, %s still internal: %s (%s, %s)",
		o.internal, o.stored, o.inStore.outcome(), o.inStore.counters(), o.inStore.lookups(),
		nof(o.internalAfter, "session"), o.notInStore.outcome(), o.notInStore.counters(), o.notInStore.lookups())
}

// ---- no-internal-lookup-client-noop ----

// clientRun is what a client context did over a full handshake and a
// resumption with SSL_set_session.
type clientRun struct {
	cached, calls int
	resume        string
	cachedAfter   int
	callsAfter    int
}

func (c clientRun) String() string {
	return fmt.Sprintf("%d cached, new-session callback %s; then SSL_set_session: %s, %d cached, new-session callback %s in all",
		c.cached, nof(c.calls, "call"), c.resume, c.cachedAfter, nof(c.callsAfter, "call"))
}

func (p *probe) clientRun(s *ossl.Ctx, m ossl.CacheMode) clientRun {
	c, rec := p.client(m)
	r := p.hs(c, s, nil)
	cr := clientRun{cached: int(p.sessions(c)), calls: rec.calls()}
	cr.resume = p.attempt(c, s, r.ClientSession, nil).outcome()
	cr.cachedAfter, cr.callsAfter = int(p.sessions(c)), rec.calls()
	return cr
}

type clientNoopObs struct {
	plain, flagged clientRun
}

func checkNoInternalLookupClientNoop(p *probe) verdict {
	s := p.server(ossl.CacheServer)
	return decideClientNoop(clientNoopObs{
		plain:   p.clientRun(s, ossl.CacheClient),
		flagged: p.clientRun(s, ossl.CacheClient|ossl.CacheNoInternalLookup),
	})
}

func decideClientNoop(o clientNoopObs) verdict {
	if o.plain == o.flagged {
		return holds("CLIENT and CLIENT|NO_INTERNAL_LOOKUP clients alike: %s", o.plain)
	}
	return deviates("CLIENT client: %s; CLIENT|NO_INTERNAL_LOOKUP client: %s", o.plain, o.flagged)
}

// ---- no-internal-store-skips-store ----

type skipsStoreObs struct {
	server, serverFlagged, client, clientFlagged storeCount
}

func checkNoInternalStoreSkipsStore(p *probe) verdict {
	var o skipsStoreObs
	for _, flagged := range []bool{false, true} {
		sm, cm := ossl.CacheServer, ossl.CacheClient
		if flagged {
			sm |= ossl.CacheNoInternalStore
			cm |= ossl.CacheNoInternalStore
		}
		s := p.server(sm)
		rec := p.store(s)
		c, crec := p.client(cm)
		p.hs(c, s, nil)
		sc, cc := storeCount{p.sessions(s), rec.count("new")}, storeCount{p.sessions(c), crec.calls()}
		if flagged {
			o.serverFlagged, o.clientFlagged = sc, cc
		} else {
			o.server, o.client = sc, cc
		}
	}
	return decideSkipsStore(o)
}

func decideSkipsStore(o skipsStoreObs) verdict {
	return decide(o.serverFlagged.cached == 0 && o.clientFlagged.cached == 0 &&
		o.serverFlagged.calls == o.server.calls && o.clientFlagged.calls == o.client.calls,
		"one full handshake: server SERVER %s, SERVER|NO_INTERNAL_STORE %s; client CLIENT %s, CLIENT|NO_INTERNAL_STORE %s",
		o.server, o.serverFlagged, o.client, o.clientFlagged)
}

// ---- no-internal-store-manual-add ----

type manualAddObs struct {
	cached        int64
	control       attempt // resumption attempt before the manual add
	added         bool
	cachedAfter   int64
	afterManually attempt
}

func checkNoInternalStoreManualAdd(p *probe) verdict {
	s := p.server(ossl.CacheServer | ossl.CacheNoInternalStore)
	c, _ := p.client(ossl.CacheServer)
	r := p.hs(c, s, nil)
	o := manualAddObs{cached: p.sessions(s)}
	o.control = p.attempt(c, s, r.ClientSession, nil)
	var err error
	o.added, err = s.AddSession(r.ServerSession)
	p.must(err, "SSL_CTX_add_session")
	o.cachedAfter = p.sessions(s)
	o.afterManually = p.attempt(c, s, r.ClientSession, nil)
	return decideManualAdd(o)
}

func decideManualAdd(o manualAddObs) verdict {
	if o.control.resumed() {
		return notApplicable("stateless ticket: the server resumed the session with nothing cached (%s; %s), so there is nothing a manual add could change", nof(o.cached, "session"), o.control.counters())
	}
	return decide(o.cached == 0 && o.added && o.cachedAfter > 0 && o.afterManually.resumed() && o.afterManually.d.Hits == 1,
		"SERVER|NO_INTERNAL_STORE: %d cached after the full handshake, resumption attempt: %s; SSL_CTX_add_session of the server's session returned %v, %d cached; resumption attempt: %s (%s)",
		o.cached, o.control.outcome(), o.added, o.cachedAfter, o.afterManually.outcome(), o.afterManually.counters())
}

// ---- external-hit-copied and no-internal-store-no-copy ----

type externalHitObs struct {
	mode          ossl.CacheMode
	stored        int
	internal      int64
	resume        attempt
	internalAfter int64
	present       bool // the looked-up session is in the internal cache
}

// observeExternalHit stores a session in the store only (NO_INTERNAL_STORE),
// switches the server to mode, resumes, and looks for the session in the
// internal cache.
func observeExternalHit(p *probe, mode ossl.CacheMode) externalHitObs {
	s := p.server(ossl.CacheServer | ossl.CacheNoInternalStore)
	rec := p.store(s)
	c, _ := p.client(ossl.CacheServer)
	r := p.hs(c, s, nil)
	o := externalHitObs{mode: mode, stored: rec.count("new"), internal: p.sessions(s)}
	p.mode(s, mode)
	o.resume = p.attempt(c, s, r.ClientSession, rec)
	o.internalAfter = p.sessions(s)
	if looked := rec.lastLookedUp(); looked != nil {
		p.defer_(looked.Close)
		o.present = p.inCache(s, looked)
	}
	return o
}

func (o externalHitObs) String() string {
	where := "not in the internal cache"
	if o.present {
		where = "in the internal cache"
	}
	return fmt.Sprintf("session only in the store (internal %d, store %d), server switched to %s: %s (%s, %s); the internal cache then holds %s, the looked-up one %s",
		o.internal, o.stored, o.mode, o.resume.outcome(), o.resume.counters(), o.resume.lookups(), nof(o.internalAfter, "session"), where)
}

func (o externalHitObs) stateless() bool { return o.resume.resumed() && len(o.resume.gets()) == 0 }

func checkExternalHitCopied(p *probe) verdict {
	return decideExternalHitCopied(observeExternalHit(p, ossl.CacheServer))
}

func decideExternalHitCopied(o externalHitObs) verdict {
	if o.stateless() {
		return notApplicable("stateless ticket: resumed with no lookup in the store (%s; %s, internal cache %d before, %d after), so there is no external hit to copy", o.resume.counters(), o.resume.lookups(), o.internal, o.internalAfter)
	}
	return decide(o.resume.resumed() && logString(o.resume.gets()) == "get(hit)" && o.present, "%s", o)
}

func checkNoInternalStoreNoCopy(p *probe) verdict {
	return decideNoInternalStoreNoCopy(observeExternalHit(p, ossl.CacheServer|ossl.CacheNoInternalStore))
}

func decideNoInternalStoreNoCopy(o externalHitObs) verdict {
	if o.stateless() {
		return notApplicable("stateless ticket: resumed with no lookup in the store (%s; %s, internal cache %d before, %d after), so there is no external hit to copy", o.resume.counters(), o.resume.lookups(), o.internal, o.internalAfter)
	}
	return decide(o.resume.resumed() && logString(o.resume.gets()) == "get(hit)" && !o.present && o.internalAfter == 0, "%s", o)
}

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
	return decideBoth(o)
}

func decideBoth(o bothObs) verdict {
	return decide(o.value == o.client|o.server && o.clientBoth == o.clientClient && o.serverBoth == o.serverServer && o.resumeBoth == o.resumeServer,
		"SSL_SESS_CACHE_BOTH = %#x, CLIENT|SERVER = %#x; a BOTH client %s, a CLIENT client %s; a BOTH server %s, a SERVER server %s; resumption between BOTH contexts: %s, between CLIENT and SERVER ones: %s",
		int64(o.value), int64(o.client|o.server), o.clientBoth, o.clientClient, o.serverBoth, o.serverServer, o.resumeBoth, o.resumeServer)
}
