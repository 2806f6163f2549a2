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
