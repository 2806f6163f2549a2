package conformance

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
)

// Connection counts of the automatic-flush checks: enough to see two
// flushes at any period up to 256, and "still cached after 600".
const (
	autoClearConns   = 520
	noAutoClearConns = 600
)

// flushSeries is one run of connections between a server and a client
// context, each holding an expired canary session: the connection numbers
// (the first connection is 1) after which a canary was found flushed.
type flushSeries struct {
	resume          bool // connections 2.. offer the previous session
	conns, resumed  int
	server, client  []int
	serverLeft, cli bool // canaries still cached at the end
}

// runFlushSeries runs conns connections (all full handshakes, or each
// resuming the previous one's session) and watches the canaries: after
// every connection SSL_CTX_add_session re-adds each canary, which succeeds
// only when a flush took it out.
func (p *probe) runFlushSeries(serverMode, clientMode ossl.CacheMode, conns int, resume bool) flushSeries {
	s := p.server(serverMode)
	c, _ := p.client(clientMode)
	fs := flushSeries{resume: resume, conns: conns}
	r0 := p.hs(c, s, nil)
	sc, cc := p.canary(r0.ServerSession), p.canary(r0.ClientSession)
	for _, x := range []struct {
		ctx *ossl.Ctx
		s   *ossl.Session
	}{{s, sc}, {c, cc}} {
		ok, err := x.ctx.AddSession(x.s)
		p.must(err, "SSL_CTX_add_session")
		if !ok {
			p.fail("the canary was already cached")
		}
	}
	prev, err := r0.ClientSession.Ref()
	p.must(err, "SSL_SESSION_up_ref")
	defer func() { prev.Close() }()
	for n := 2; n <= conns; n++ {
		var o ossltest.Options
		if resume {
			o.Session = prev
		}
		r, err := ossltest.Handshake(c, s, o)
		p.must(err, fmt.Sprintf("handshake %d", n))
		if r.ServerReused {
			fs.resumed++
		}
		prev.Close()
		prev = r.ClientSession
		r.ServerSession.Close()
		if readded(p, s, sc) {
			fs.server = append(fs.server, n)
		}
		if readded(p, c, cc) {
			fs.client = append(fs.client, n)
		}
	}
	fs.serverLeft, fs.cli = p.inCache(s, sc), p.inCache(c, cc)
	return fs
}

func readded(p *probe, ctx *ossl.Ctx, s *ossl.Session) bool {
	ok, err := ctx.AddSession(s)
	p.must(err, "SSL_CTX_add_session")
	return ok
}

// label says what connections a series ran.
func (s flushSeries) label() string {
	if !s.resume {
		return fmt.Sprintf("%d full handshakes", s.conns)
	}
	return fmt.Sprintf("1 full handshake then %d offering the previous session (%d resumed)", s.conns-1, s.resumed)
}

func connList(ns []int) string {
	if len(ns) == 0 {
		return "never"
	}
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}

// period returns the common distance between successive flushes of every
// series with at least two, or 0 when they disagree or there are none.
func period(series ...[]int) int {
	per := 0
	for _, s := range series {
		for i := 1; i < len(s); i++ {
			d := s[i] - s[i-1]
			if per == 0 {
				per = d
			} else if d != per {
				return 0
			}
		}
	}
	return per
}

// ---- auto-clear-every-255 ----

type autoClearObs struct {
	series []flushSeries // full handshakes, then resumptions
}

func checkAutoClear(p *probe) verdict {
	var o autoClearObs
	for _, resume := range []bool{false, true} {
		o.series = append(o.series, p.runFlushSeries(ossl.CacheServer, ossl.CacheClient, autoClearConns, resume))
	}
	return decideAutoClear(o)
}

// every255 is what the page says: a check at connections 255, 510, ...
func every255(conns int) []int {
	var out []int
	for n := 255; n <= conns; n += 255 {
		out = append(out, n)
	}
	return out
}

func decideAutoClear(o autoClearObs) verdict {
	if len(o.series) == 0 {
		return deviates("no connections were run")
	}
	var parts []string
	var all [][]int
	ok := true
	serverFullNever, serverResumedFlushed := false, false
	for _, s := range o.series {
		want := connList(every255(s.conns))
		ok = ok && connList(s.server) == want && connList(s.client) == want
		parts = append(parts, fmt.Sprintf("%s: server %s, client %s", s.label(), connList(s.server), connList(s.client)))
		all = append(all, s.server, s.client)
		if s.resume {
			serverResumedFlushed = serverResumedFlushed || len(s.server) > 0
		} else {
			serverFullNever = serverFullNever || len(s.server) == 0
		}
	}
	text := "SERVER server and CLIENT client, each caching an expired session; it was flushed during connections: " + strings.Join(parts, "; ")
	if per := period(all...); per != 0 {
		text += fmt.Sprintf("; every %d connections where the check runs", per)
	}
	if serverFullNever && serverResumedFlushed {
		text += "; the server checks only on connections whose session has an ID (not full handshakes issuing a TLS 1.2 ticket)"
	}
	return decide(ok, "%s", text)
}

// ---- no-auto-clear ----

func checkNoAutoClear(p *probe) verdict {
	return decideNoAutoClear(p.runFlushSeries(ossl.CacheServer|ossl.CacheNoAutoClear, ossl.CacheClient|ossl.CacheNoAutoClear, noAutoClearConns, true))
}

func decideNoAutoClear(s flushSeries) verdict {
	return decide(len(s.server) == 0 && len(s.client) == 0 && s.serverLeft && s.cli,
		"SERVER|NO_AUTO_CLEAR server and CLIENT|NO_AUTO_CLEAR client, each caching an expired session, %s: flushed during connections: server %s, client %s; still cached after connection %d: server %v, client %v",
		s.label(), connList(s.server), connList(s.client), s.conns, s.serverLeft, s.cli)
}

// ---- explicit-flush ----

type explicitFlushObs struct {
	cached                 int64
	removed1, removeCalls1 int64
	resumableAfter         bool
	removed2, removeCalls2 int64
	left                   int64
}

func checkExplicitFlush(p *probe) verdict {
	s := p.server(ossl.CacheServer)
	rec := p.store(s, ossl.CallbackAll)
	c, _ := p.client(ossl.CacheServer)
	r1 := p.hs(c, s, nil)
	p.hs(c, s, nil)
	o := explicitFlushObs{cached: p.sessions(s)}
	if o.cached == 0 {
		return decideExplicitFlush(o)
	}
	now := time.Now()
	p.must(r1.ServerSession.SetTime(now.Add(-3*time.Hour)), "SSL_SESSION_set_time")
	m := rec.mark()
	p.must(s.FlushSessions(now), "SSL_CTX_flush_sessions")
	o.removed1 = o.cached - p.sessions(s)
	o.removeCalls1 = int64(countOf(rec.since(m), "remove"))
	o.resumableAfter = r1.ServerSession.IsResumable()
	m = rec.mark()
	p.must(s.FlushSessions(now.Add(3*time.Hour)), "SSL_CTX_flush_sessions")
	o.left = p.sessions(s)
	o.removed2 = o.cached - o.removed1 - o.left
	o.removeCalls2 = int64(countOf(rec.since(m), "remove"))
	return decideExplicitFlush(o)
}

func countOf(l []string, ev string) int {
	n := 0
	for _, e := range l {
		if e == ev {
			n++
		}
	}
	return n
}

func decideExplicitFlush(o explicitFlushObs) verdict {
	if o.cached == 0 {
		return notApplicable("nothing cached to flush: 2 full handshakes left 0 sessions in the internal cache (a TLS 1.2 ticket session has no session ID)")
	}
	return decide(o.removed1 == 1 && o.removeCalls1 == 1 && !o.resumableAfter && o.removed2 == o.cached-1 && o.removeCalls2 == o.removed2 && o.left == 0,
		"%s cached (remove callback installed), one set 3 h back: SSL_CTX_flush_sessions(now) removed %d (remove callback: %s; that session is now resumable=%v), kept %d; flush at now+3h removed %d (remove callback: %s), %d left",
		nof(o.cached, "session"), o.removed1, nof(o.removeCalls1, "call"), o.resumableAfter, o.cached-o.removed1, o.removed2, nof(o.removeCalls2, "call"), o.left)
}
