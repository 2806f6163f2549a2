package conformance

import (
	"fmt"
	"strings"

	"github.com/osslcache/osslcache/ossl"
)

// The early data claims: how TLS 1.3 early data and libssl's replay
// protection (SSL_read_early_data(3), "REPLAY PROTECTION") meet the cache
// modes and external stores. Each check makes a server accepting
// earlyLimit bytes of early data, runs a full handshake from a client
// without CLIENT (which may offer a session more than once), and offers
// the client's session twice with earlyPayload: the first use, and its
// replay.

// earlyLimit is the max_early_data of the servers of the early data checks.
const earlyLimit = 1024

// earlyPayload is the early data every offer carries.
var earlyPayload = []byte("GET /conformance HTTP/1.1\r\nHost: localhost\r\n\r\n")

// earlySetup is the server side of one early data observation.
type earlySetup struct {
	mode     ossl.CacheMode
	noReplay bool   // SSL_OP_NO_ANTI_REPLAY
	store    string // "" (none), "all" (new, get and remove callbacks), "new+get", "single-use"
}

func (s earlySetup) String() string {
	var b strings.Builder
	b.WriteString(s.mode.String())
	if s.noReplay {
		b.WriteString(", SSL_OP_NO_ANTI_REPLAY")
	}
	switch s.store {
	case "":
		b.WriteString(", no store")
	case "all":
		b.WriteString(", a store with new, get and remove callbacks")
	case "new+get":
		b.WriteString(", a store with new and get callbacks (no remove callback)")
	case "single-use":
		b.WriteString(", a single-use store (a lookup takes the session out; new and get callbacks)")
	}
	return b.String()
}

// earlyObs is what one early data observation saw.
type earlyObs struct {
	setup         earlySetup
	maxEarly      uint32 // the client session's max_early_data after the full handshake
	version       ossl.Version
	cached        int64 // internal sessions after the full handshake
	stored        int   // new-session callback calls during it
	first, replay attempt
}

// observeEarly runs a full handshake with a server in setup s, then
// offers the client's session twice with early data. It stops after the
// full handshake when the session allows no early data.
func observeEarly(p *probe, s earlySetup) earlyObs {
	srv, rec := earlyServer(p, s)
	c, _ := p.client(ossl.CacheServer)
	r := p.hs(c, srv, nil)
	o := earlyObs{setup: s, maxEarly: r.ClientSession.MaxEarlyData(), version: r.Version, cached: p.sessions(srv)}
	if rec != nil {
		o.stored = rec.count("new")
	}
	if o.maxEarly == 0 {
		return o
	}
	o.first = p.attemptEarly(c, srv, r.ClientSession, rec, earlyPayload)
	o.replay = p.attemptEarly(c, srv, r.ClientSession, rec, earlyPayload)
	return o
}

// earlyServer makes a server context in setup s accepting earlyLimit bytes
// of early data, and its store (nil for none).
func earlyServer(p *probe, s earlySetup) (*ossl.Ctx, *recorder) {
	srv := p.server(s.mode)
	p.must(srv.SetMaxEarlyData(earlyLimit), "SSL_CTX_set_max_early_data")
	if s.noReplay {
		_, err := srv.SetOptions(ossl.OptionNoAntiReplay)
		p.must(err, "SSL_CTX_set_options(SSL_OP_NO_ANTI_REPLAY)")
	}
	switch s.store {
	case "all":
		return srv, p.store(srv, ossl.CallbackAll)
	case "new+get":
		return srv, p.store(srv)
	case "single-use":
		return srv, p.singleUseStore(srv)
	}
	return srv, nil
}

// noEarly is the n/a verdict of a session that allows no early data, or
// nil.
func (o earlyObs) noEarly() *verdict {
	if o.maxEarly > 0 {
		return nil
	}
	v := notApplicable("%v: the client's session from a full handshake with a server whose max_early_data is %d allows no early data (max_early_data %d: early data is TLS 1.3's), so there is nothing to accept or replay",
		o.version, earlyLimit, o.maxEarly)
	return &v
}

// use describes one offer: the handshake, the early data, the server's
// counters and the store calls.
func use(a attempt) string {
	s := fmt.Sprintf("%s, %s (%s", a.outcome(), a.earlyOutcome(), a.counters())
	if len(a.calls) > 0 {
		s += "; store: " + logString(a.calls)
	}
	return s + ")"
}

func (o earlyObs) String() string {
	stored := ""
	if o.setup.store != "" {
		stored = fmt.Sprintf(", store %s", nof(o.stored, "new-session call"))
	}
	return fmt.Sprintf("%s; after the full handshake %s cached%s; the session offered with early data: %s; its replay: %s",
		o.setup, nof(o.cached, "session"), stored, use(o.first), use(o.replay))
}

// acceptedOnce reports the first use resumed with its early data accepted,
// and the replay a full handshake with its early data rejected.
func (o earlyObs) acceptedOnce() bool {
	return o.first.resumed() && o.first.earlyAccepted() && o.replay.full() && o.replay.earlyRejected()
}

// why names, where the observation shows it, what kept the early data
// from being accepted once: a store hit libssl did not resume, or a
// replay resumed from a stateless ticket without a lookup.
func (o earlyObs) why() string {
	switch {
	case o.first.full() && logString(o.first.gets()) == "get(hit)":
		return ": the store found the session (get(hit)) and libssl did not resume it, nor take its early data; under replay protection it resumes only a session it takes out of its internal cache"
	case o.setup.store != "" && o.cached == 0 && o.replay.resumed() && len(o.replay.gets()) == 0:
		return ": the replay resumed without a lookup (get callback not called): a stateless ticket carries the session, and the store never sees it"
	}
	return ""
}

// decideEarlyOnce: the session's early data is accepted once, and its
// replay falls back to a full handshake with the early data rejected.
func decideEarlyOnce(o earlyObs) verdict {
	if v := o.noEarly(); v != nil {
		return *v
	}
	return decide(o.acceptedOnce(), "%s%s", o, o.why())
}

// ---- early-data-once-internal ----

type earlyOnceObs struct {
	earlyObs
	// A second session, offered twice without early data.
	plainFirst, plainSecond attempt
}

func checkEarlyDataOnceInternal(p *probe) verdict {
	o := earlyOnceObs{earlyObs: observeEarly(p, earlySetup{mode: ossl.CacheServer})}
	if o.maxEarly > 0 {
		// Single use without early data: a fresh server of the same setup.
		srv, _ := earlyServer(p, o.setup)
		c, _ := p.client(ossl.CacheServer)
		r := p.hs(c, srv, nil)
		o.plainFirst = p.attempt(c, srv, r.ClientSession, nil)
		o.plainSecond = p.attempt(c, srv, r.ClientSession, nil)
	}
	return decideEarlyOnceInternal(o)
}

func decideEarlyOnceInternal(o earlyOnceObs) verdict {
	if v := o.noEarly(); v != nil {
		return *v
	}
	return decide(o.cached > 0 && o.acceptedOnce() && o.plainFirst.resumed() && o.plainSecond.full(),
		"%s; another session offered twice without early data: %s, then %s",
		o.earlyObs, o.plainFirst.outcome(), o.plainSecond.outcome())
}

// ---- the cache modes: early-data-no-internal-lookup, -no-internal-store, -no-internal ----

func checkEarlyDataNoInternalLookup(p *probe) verdict {
	return decideEarlyOnce(observeEarly(p, earlySetup{mode: ossl.CacheServer | ossl.CacheNoInternalLookup, store: "all"}))
}

func checkEarlyDataNoInternalStore(p *probe) verdict {
	return decideEarlyOnce(observeEarly(p, earlySetup{mode: ossl.CacheServer | ossl.CacheNoInternalStore, store: "all"}))
}

func checkEarlyDataNoInternal(p *probe) verdict {
	return decideEarlyOnce(observeEarly(p, earlySetup{mode: ossl.CacheServer | ossl.CacheNoInternal, store: "all"}))
}

// ---- early-data-external-needs-remove ----

type earlyRemoveObs struct {
	without, with earlyObs // a store without and with the remove callback
}

func checkEarlyDataExternalNeedsRemove(p *probe) verdict {
	return decideEarlyNeedsRemove(earlyRemoveObs{
		without: observeEarly(p, earlySetup{mode: ossl.CacheServer, store: "new+get"}),
		with:    observeEarly(p, earlySetup{mode: ossl.CacheServer, store: "all"}),
	})
}

func decideEarlyNeedsRemove(o earlyRemoveObs) verdict {
	if v := o.without.noEarly(); v != nil {
		return *v
	}
	replayed := o.without.first.earlyAccepted() && o.without.replay.resumed() && o.without.replay.earlyAccepted()
	return decide(replayed && o.with.acceptedOnce(), "%s; with the remove callback: %s", o.without, o.with)
}

// ---- early-data-external-single-use ----

func checkEarlyDataExternalSingleUse(p *probe) verdict {
	return decideEarlyOnce(observeEarly(p, earlySetup{mode: ossl.CacheServer | ossl.CacheNoInternal, noReplay: true, store: "single-use"}))
}

// ---- early-data-no-anti-replay ----

func checkEarlyDataNoAntiReplay(p *probe) verdict {
	return decideEarlyNoAntiReplay(observeEarly(p, earlySetup{mode: ossl.CacheServer, noReplay: true}))
}

func decideEarlyNoAntiReplay(o earlyObs) verdict {
	if v := o.noEarly(); v != nil {
		return *v
	}
	return decide(o.first.resumed() && o.first.earlyAccepted() && o.replay.resumed() && o.replay.earlyAccepted(), "%s", o)
}
