package conformance

import (
	"errors"
	"fmt"
	"io"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
)

// ---- unclean-free-removes-session ----

// How a connection of freeRun ends before both SSL objects are freed.
const (
	endClean         = "both sides shut down cleanly (close_notify both ways)"
	endUnclean       = "neither side called SSL_shutdown"
	endServerUnclean = "the client sent close_notify, the server read it and sent none"
)

// sideFree is what SSL_free did to one side's session: the side's cache
// before and after, its remove callback calls meanwhile, and whether the
// session is still resumable.
type sideFree struct {
	before, after int64
	removes       int64
	resumable     bool
}

// cached reports whether the side had its session in its cache.
func (s sideFree) cached() bool { return s.before > 0 }

// removed reports the session taken out of the side's cache, through the
// remove callback, and marked not resumable.
func (s sideFree) removed() bool {
	return s.after == s.before-1 && s.removes == 1 && !s.resumable
}

// kept reports the side's cache and session untouched by SSL_free.
// A session no cache holds (a TLS 1.2 ticket server's, which has no ID)
// is not resumable to begin with.
func (s sideFree) kept() bool {
	return s.after == s.before && s.removes == 0 && (s.resumable || !s.cached())
}

func (s sideFree) String() string {
	return fmt.Sprintf("%d → %d cached, remove callback %s, session resumable=%v", s.before, s.after, nof(s.removes, "call"), s.resumable)
}

// freeRun is one connection between a CLIENT client and a SERVER server
// with a store of all three callbacks, ended one way and freed, then the
// client's session offered again.
type freeRun struct {
	end            string
	server, client sideFree
	again          attempt
}

func (r freeRun) String() string {
	return fmt.Sprintf("%s, then SSL_free: server %s; client %s; the client's session offered again: %s (%s)",
		r.end, r.server, r.client, r.again.outcome(), r.again.counters())
}

type uncleanObs struct {
	clean, unclean, serverUnclean freeRun
}

func checkUncleanFreeRemovesSession(p *probe) verdict {
	return decideUncleanFree(uncleanObs{
		clean:         p.freeRun(endClean),
		unclean:       p.freeRun(endUnclean),
		serverUnclean: p.freeRun(endServerUnclean),
	})
}

// freeRun makes fresh contexts, runs a full handshake on an
// ossltest.Pair (the client reading the TLS 1.3 tickets), ends the
// connection as end says, frees both SSL objects, and offers the client's
// session again.
func (p *probe) freeRun(end string) freeRun {
	s := p.server(ossl.CacheServer)
	rec := p.store(s, ossl.CallbackAll)
	c, _ := p.client(ossl.CacheClient)
	pr, err := ossltest.NewPair(c, s)
	p.must(err, "SSL_new")
	p.defer_(pr.Close)
	_, err = pr.Client.UseClientSessionCache(clientKey) // the client's removals reach the recorder's counters
	p.must(err, "client session cache")
	_, err = pr.Handshake()
	p.must(err, "handshake")
	_, err = pr.Read(ossltest.ClientSide, 256)
	p.must(err, "reading the tickets")
	switch end {
	case endClean:
		p.must(pr.Shutdown(ossltest.ClientSide), "SSL_shutdown")
	case endServerUnclean:
		_, err = pr.CloseNotify(ossltest.ClientSide)
		p.must(err, "client SSL_shutdown")
		if _, err = pr.Read(ossltest.ServerSide, 256); !errors.Is(err, io.EOF) {
			p.fail("server reading the client's close_notify: %v, want EOF", err)
		}
	}
	cs, ss := pr.Client.Session(), pr.Server.Session()
	if cs == nil || ss == nil {
		p.fail("no session after the handshake")
	}
	p.defer_(cs.Close)
	p.defer_(ss.Close)

	r := freeRun{end: end}
	r.server.before, r.client.before = p.sessions(s), p.sessions(c)
	m, cst := rec.mark(), c.CallbackStats()
	pr.Close()
	r.server.after, r.client.after = p.sessions(s), p.sessions(c)
	r.server.removes = int64(countOf(rec.since(m), "remove"))
	r.client.removes = c.CallbackStats().RemoveCalls - cst.RemoveCalls
	r.server.resumable, r.client.resumable = ss.IsResumable(), cs.IsResumable()
	r.again = p.attempt(c, s, cs, rec)
	return r
}

func decideUncleanFree(o uncleanObs) verdict {
	text := fmt.Sprintf("CLIENT client, SERVER server with a store of all three callbacks; %s; %s; %s", o.clean, o.unclean, o.serverUnclean)
	if !o.clean.server.cached() && !o.clean.client.cached() {
		return notApplicable("nothing cached on either side: %s", text)
	}
	// A side applies where it cached its session.
	removed := func(s sideFree) bool { return !s.cached() || s.removed() }
	control := o.clean.server.kept() && o.clean.client.kept() && o.clean.again.resumed()
	if !control {
		return deviates("%s; the clean control lost its session, so nothing is shown", text)
	}
	unclean := removed(o.unclean.server) && removed(o.unclean.client) && o.unclean.again.full()
	// The client shut down cleanly: its session stays; the server's goes,
	// and a server that cached it must not resume it.
	serverOnly := o.serverUnclean.client.kept() && removed(o.serverUnclean.server) &&
		(!o.serverUnclean.server.cached() || o.serverUnclean.again.full())
	note := ""
	if o.serverUnclean.server.cached() && o.serverUnclean.again.resumed() {
		note = "; the server took the session out of its cache, yet the client's ticket resumed it: a stateless ticket carries the session, and resuming it looks nothing up"
	} else if !o.serverUnclean.server.cached() && o.serverUnclean.again.resumed() {
		note = "; the server cached nothing (its session has no ID), and the ticket resumes"
	}
	return decide(unclean && serverOnly, "%s%s", text, note)
}
