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
