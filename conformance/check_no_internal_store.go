package conformance

import (
	"fmt"

	"github.com/osslcache/osslcache/ossl"
)

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
