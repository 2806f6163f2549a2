package conformance

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/osslcache/osslcache/ossl"
)

// attempt is one connection that offers a session (or none), as the server
// saw it: the outcome, the reuse flags of both sides, the server's counter
// deltas and the store calls made meanwhile.
type attempt struct {
	failed        string // why the handshake failed; "" when it completed
	client        bool   // SSL_session_reused on the client
	server        bool   // SSL_session_reused on the server
	d             ossl.Stats
	calls         []string      // store calls during the connection
	fresh         bool          // a new resumable session reached the client
	clientSession *ossl.Session // the client's session afterwards
	serverSession *ossl.Session // the server's session afterwards
}

// attempt runs one connection offering sess (nil: none), recording the
// server's counters and rec's log (rec may be nil). A failed handshake is
// an observation, not an error.
func (p *probe) attempt(client, server *ossl.Ctx, sess *ossl.Session, rec *recorder) attempt {
	before := p.stats(server)
	m := 0
	if rec != nil {
		m = rec.mark()
	}
	r, err := p.try(client, server, sess)
	var a attempt
	if err != nil {
		a.failed = handshakeFailure(err)
	} else {
		a.client, a.server = r.ClientReused, r.ServerReused
		a.clientSession, a.serverSession = r.ClientSession, r.ServerSession
		a.fresh = r.ClientSession != nil && r.ClientSession.IsResumable() &&
			(sess == nil || !bytes.Equal(r.ClientSession.ID(), sess.ID()))
	}
	a.d = sub(p.stats(server), before)
	if rec != nil {
		a.calls = rec.since(m)
	}
	return a
}

// resumed reports a completed handshake that both sides resumed.
func (a attempt) resumed() bool { return a.failed == "" && a.client && a.server }

// full reports a completed full handshake.
func (a attempt) full() bool { return a.failed == "" && !a.client && !a.server }

// gets returns the get-callback calls of the attempt.
func (a attempt) gets() []string {
	var g []string
	for _, c := range a.calls {
		if strings.HasPrefix(c, "get") {
			g = append(g, c)
		}
	}
	return g
}

// outcome describes the handshake: "resumed", "full handshake", a
// one-sided resumption, or the failure.
func (a attempt) outcome() string {
	switch {
	case a.failed != "":
		return a.failed
	case a.client && a.server:
		return "resumed"
	case !a.client && !a.server:
		return "full handshake"
	case a.server:
		return "resumed on the server only"
	default:
		return "resumed on the client only"
	}
}

// counters writes the server counter deltas a decision rests on.
func (a attempt) counters() string {
	return fmt.Sprintf("hits %d, misses %d, cb hits %d", a.d.Hits, a.d.Misses, a.d.CallbackHits)
}

// lookups writes the get-callback calls: "get callback: get(hit)" or "get
// callback: none".
func (a attempt) lookups() string { return "get callback: " + logString(a.gets()) }

// sub returns the counter differences a-b.
func sub(a, b ossl.Stats) ossl.Stats {
	return ossl.Stats{
		Sessions: a.Sessions - b.Sessions, Connect: a.Connect - b.Connect, ConnectGood: a.ConnectGood - b.ConnectGood,
		ConnectRenegotiate: a.ConnectRenegotiate - b.ConnectRenegotiate, Accept: a.Accept - b.Accept,
		AcceptGood: a.AcceptGood - b.AcceptGood, AcceptRenegotiate: a.AcceptRenegotiate - b.AcceptRenegotiate,
		Hits: a.Hits - b.Hits, CallbackHits: a.CallbackHits - b.CallbackHits, Misses: a.Misses - b.Misses,
		Timeouts: a.Timeouts - b.Timeouts, CacheFull: a.CacheFull - b.CacheFull,
	}
}

// storeCount is what one side cached after a handshake: sessions in the
// internal cache and new-session callback calls.
type storeCount struct {
	cached int64
	calls  int
}

func (s storeCount) String() string {
	return fmt.Sprintf("%d cached, new-session callback %s", s.cached, nof(s.calls, "call"))
}

// nof writes a count with its noun: "1 session", "2 sessions".
func nof[N int | int64](n N, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
