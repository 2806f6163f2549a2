package conformance

import (
	"github.com/osslcache/osslcache/ossl"
)

// ---- off-server-no-store, off-client-no-store, off-no-resumption ----

type offServerObs struct {
	off, server storeCount
}

func checkOffServerNoStore(p *probe) verdict {
	var o offServerObs
	for _, m := range []ossl.CacheMode{ossl.CacheOff, ossl.CacheServer} {
		s := p.server(m)
		rec := p.store(s)
		c, _ := p.client(ossl.CacheServer)
		p.hs(c, s, nil)
		sc := storeCount{p.sessions(s), rec.count("new")}
		if m == ossl.CacheOff {
			o.off = sc
		} else {
			o.server = sc
		}
	}
	return decideOffStore(o.off, o.server, "server", "SERVER")
}

// decideOffStore compares an OFF context with one in its storing mode.
func decideOffStore(off, on storeCount, side, onMode string) verdict {
	if on.cached == 0 && on.calls == 0 {
		return notApplicable("nothing to store: %s in %s mode: %s (a TLS 1.2 ticket session has no session ID); OFF: %s", side, onMode, on, off)
	}
	return decide(off.cached == 0 && off.calls == 0, "OFF %s: %s (%s mode: %s)", side, off, onMode, on)
}

func checkOffClientNoStore(p *probe) verdict {
	var off, on storeCount
	s := p.server(ossl.CacheServer)
	for _, m := range []ossl.CacheMode{ossl.CacheOff, ossl.CacheClient} {
		c, rec := p.client(m)
		p.hs(c, s, nil)
		sc := storeCount{p.sessions(c), rec.calls()}
		if m == ossl.CacheOff {
			off = sc
		} else {
			on = sc
		}
	}
	return decideOffStore(off, on, "client", "CLIENT")
}

type offResumeObs struct {
	cached    int64
	calls     int
	resumable bool // the client's session from the OFF server
	resume    attempt
}

func checkOffNoResumption(p *probe) verdict {
	s := p.server(ossl.CacheOff)
	rec := p.store(s)
	c, _ := p.client(ossl.CacheServer)
	r := p.hs(c, s, nil)
	o := offResumeObs{cached: p.sessions(s), calls: rec.count("new"), resumable: r.ClientSession.IsResumable()}
	o.resume = p.attempt(c, s, r.ClientSession, rec)
	return decideOffNoResumption(o)
}

func decideOffNoResumption(o offResumeObs) verdict {
	why := ""
	switch {
	case o.resume.server && o.cached == 0 && len(o.resume.gets()) == 0:
		why = ": the stateless ticket carries the session, and OFF does not stop tickets (SSL_OP_NO_TICKET does)"
	case !o.resumable:
		why = ": the OFF server sent no session ID and no ticket, so the client had nothing to offer"
	case len(o.resume.gets()) > 0:
		why = ": the lookup still ran under OFF, and found nothing"
	}
	return decide(!o.resume.server && o.resume.failed == "",
		"OFF server (%d cached, new-session callback %s); the client's session from it is resumable=%v; offering it: %s (%s, %s)%s",
		o.cached, nof(o.calls, "call"), o.resumable, o.resume.outcome(), o.resume.counters(), o.resume.lookups(), why)
}
