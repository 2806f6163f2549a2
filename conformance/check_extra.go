package conformance

import (
	"context"
	"fmt"
	"time"

	"github.com/osslcache/osslcache/ossl"
)

// ---- update-time ----

// agedBy is how far back the update-time check sets a session's time.
const agedBy = 1000 * time.Second

type updateTimeObs struct {
	has     bool
	headers string

	// internal hit
	cached      int64
	internalHit attempt
	internalAge time.Duration // age of the cached session after the hit
	// external hit
	externalHit  attempt
	copyFlushed  bool // the copied-in session went at a flush of the old expiry
	copyNotFound bool // no copy was found to probe
	// manual add
	manualAge time.Duration
}

func checkUpdateTime(p *probe) verdict {
	o := updateTimeObs{has: ossl.HasUpdateTime, headers: ossl.HeaderVersion}
	if !o.has {
		return decideUpdateTime(o)
	}
	mode := ossl.CacheServer | ossl.CacheUpdateTime

	// Internal hit: age the cached session, resume from it, read its time.
	s := p.server(mode)
	c, _ := p.client(ossl.CacheServer)
	r := p.hs(c, s, nil)
	o.cached = p.sessions(s)
	old := time.Now().Add(-agedBy)
	p.must(r.ServerSession.SetTime(old), "SSL_SESSION_set_time")
	o.internalHit = p.attempt(c, s, r.ClientSession, nil)
	o.internalAge = time.Since(r.ServerSession.Time()).Round(time.Second)

	// External hit: the store's copy is aged; the hit copies it into the
	// internal cache. A flush just past the old expiry shows whether the
	// copy's time moved.
	e := p.server(ossl.CacheServer | ossl.CacheNoInternalStore)
	rec := p.store(e)
	re := p.hs(c, e, nil)
	if stored, _ := rec.mem.Get(context.Background(), re.ServerSession.ID()); stored != nil {
		p.must(stored.SetTime(old), "SSL_SESSION_set_time")
		stored.Close()
	}
	p.mode(e, mode)
	o.externalHit = p.attempt(c, e, re.ClientSession, rec)
	if looked := rec.lastLookedUp(); looked != nil {
		p.defer_(looked.Close)
		p.must(e.FlushSessions(old.Add(re.ServerSession.Timeout()+time.Second)), "SSL_CTX_flush_sessions")
		o.copyFlushed = !p.inCache(e, looked)
	} else {
		o.copyNotFound = true
	}

	// Manual add of an aged copy.
	m := p.server(mode)
	d, err := r.ServerSession.Dup()
	p.must(err, "SSL_SESSION_dup")
	p.defer_(d.Close)
	p.must(d.SetTime(old), "SSL_SESSION_set_time")
	_, err = m.AddSession(d)
	p.must(err, "SSL_CTX_add_session")
	o.manualAge = time.Since(d.Time()).Round(time.Second)
	return decideUpdateTime(o)
}

// refreshed reports a session time moved to "now" (within a minute) from
// agedBy back.
func refreshed(age time.Duration) bool { return age < time.Minute }

func ageText(age time.Duration) string {
	if refreshed(age) {
		return fmt.Sprintf("refreshed (%d s old)", int(age.Seconds()))
	}
	return fmt.Sprintf("unchanged (%d s old)", int(age.Seconds()))
}

func decideUpdateTime(o updateTimeObs) verdict {
	if !o.has {
		return notApplicable("the headers (%s) lack SSL_SESS_CACHE_UPDATE_TIME: the flag first came with OpenSSL 3.0", o.headers)
	}
	manual := "manual SSL_CTX_add_session of a session set " + fmt.Sprint(int(agedBy.Seconds())) + " s back: " + ageText(o.manualAge)
	if o.cached == 0 && o.internalHit.resumed() && len(o.externalHit.gets()) == 0 && o.externalHit.resumed() {
		return notApplicable("stateless ticket: resumption uses no cached session (internal cache 0 sessions, %s), so no timestamp is there to update; %s", o.externalHit.lookups(), manual)
	}
	var external string
	switch {
	case o.copyNotFound:
		external = "no lookup reached the store"
	case o.copyFlushed:
		external = "the copy was flushed at its old expiry: unchanged"
	default:
		external = "the copy survived a flush at its old expiry: refreshed"
	}
	return decide(o.internalHit.resumed() && refreshed(o.internalAge) && o.externalHit.resumed() && !o.copyFlushed && !o.copyNotFound && refreshed(o.manualAge),
		"SERVER|UPDATE_TIME, sessions set %d s back: internal hit (%s): the cached session's time %s; external hit (%s, %s): %s; %s",
		int(agedBy.Seconds()), o.internalHit.outcome(), ageText(o.internalAge), o.externalHit.outcome(), o.externalHit.lookups(), external, manual)
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

// ---- default-timeout-300 ----

type timeoutObs struct {
	serverCtx, clientCtx         time.Duration
	serverSession, clientSession time.Duration
}

func checkDefaultTimeout(p *probe) verdict {
	s := p.server(ossl.CacheServer)
	c, _ := p.client(ossl.CacheServer)
	o := timeoutObs{serverCtx: s.Timeout(), clientCtx: c.Timeout()}
	r := p.hs(c, s, nil)
	o.serverSession, o.clientSession = r.ServerSession.Timeout(), r.ClientSession.Timeout()
	return decideDefaultTimeout(o)
}

func decideDefaultTimeout(o timeoutObs) verdict {
	const want = 300 * time.Second
	return decide(o.serverCtx == want && o.clientCtx == want && o.serverSession == want && o.clientSession == want,
		"SSL_CTX_get_timeout of fresh contexts: server %d s, client %d s; sessions of a full handshake: server %d s, client %d s",
		int(o.serverCtx.Seconds()), int(o.clientCtx.Seconds()), int(o.serverSession.Seconds()), int(o.clientSession.Seconds()))
}
