package conformance

import (
	"fmt"

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
