package conformance

import (
	"fmt"
	"strings"

	"github.com/osslcache/osslcache/ossl"
)

// ---- sid-ctx-isolation and verify-peer-without-sid-ctx ----

type noSIDObs struct {
	fullFailed string
	cached     int64
	newCalls   int
	resume     attempt
}

// observeNoSID runs a peer-verifying server with no session id context: a
// full handshake with a client certificate, then a resumption attempt.
func observeNoSID(p *probe) noSIDObs {
	s := p.server(ossl.CacheServer, withSIDCtx(nil), verifyingClients())
	rec := p.store(s)
	c, _ := p.clientWith(optsPresenting(p.v))
	var o noSIDObs
	r, err := p.try(c, s, nil)
	if err != nil {
		o.fullFailed = handshakeFailure(err)
		return o
	}
	o.cached = p.sessions(s)
	o.newCalls = rec.count("new")
	o.resume = p.attempt(c, s, r.ClientSession, rec)
	return o
}

func (o noSIDObs) String() string {
	if o.fullFailed != "" {
		return "the full handshake failed: " + o.fullFailed
	}
	return fmt.Sprintf("%s cached, new-session callback %s; resumption attempt: %s", nof(o.cached, "session"), nof(o.newCalls, "call"), o.resume.outcome())
}

type sidCtxObs struct {
	xToY      attempt
	newSIDCtx string
	noSID     noSIDObs
}

func checkSIDCtxIsolation(p *probe) verdict {
	s := p.server(ossl.CacheServer, withSIDCtx([]byte("X")))
	c, _ := p.client(ossl.CacheServer)
	r := p.hs(c, s, nil)
	p.must(s.SetSessionIDContext([]byte("Y")), "SSL_CTX_set_session_id_context")
	o := sidCtxObs{xToY: p.attempt(c, s, r.ClientSession, nil)}
	if rs := o.xToY.serverSession; rs != nil {
		o.newSIDCtx = string(rs.IDContext())
	}
	o.noSID = observeNoSID(p)
	return decideSIDCtx(o)
}

func decideSIDCtx(o sidCtxObs) verdict {
	isolated := o.xToY.full()
	noSIDSafe := o.noSID.fullFailed == "" && !o.noSID.resume.server
	return decide(isolated && noSIDSafe,
		"session made under id context \"X\", offered after the context became \"Y\": %s (%s), new session under %q; peer-verifying server with no id context: %s",
		o.xToY.outcome(), o.xToY.counters(), o.newSIDCtx, o.noSID)
}

func checkVerifyPeerWithoutSIDCtx(p *probe) verdict {
	return decideVerifyPeerWithoutSIDCtx(observeNoSID(p))
}

func decideVerifyPeerWithoutSIDCtx(o noSIDObs) verdict {
	if o.fullFailed != "" {
		return deviates("%s", o)
	}
	failed := strings.Contains(o.resume.failed, "session id context uninitialized")
	why := ""
	if !failed && o.cached == 0 && o.newCalls == 0 && o.resume.full() {
		why = ": the server never stored the session (ssl_update_cache skips a session with no id context under SSL_VERIFY_PEER), so nothing was reused and nothing failed"
	}
	return decide(failed, "peer-verifying server, no id context: %s%s", o, why)
}
