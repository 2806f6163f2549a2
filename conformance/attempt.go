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
	// Early data, when the client sent some: what it sent, what the
	// server read, and SSL_get_early_data_status on each side.
	earlySent, earlyRead     []byte
	clientEarly, serverEarly ossl.EarlyDataStatus
}

// attempt runs one connection offering sess (nil: none), recording the
// server's counters and rec's log (rec may be nil). A failed handshake is
// an observation, not an error.
func (p *probe) attempt(client, server *ossl.Ctx, sess *ossl.Session, rec *recorder) attempt {
	return p.attemptEarly(client, server, sess, rec, nil)
}

// attemptEarly is attempt with early data: the client sends early (when
// not empty) with its ClientHello, and the server reads what it accepts.
func (p *probe) attemptEarly(client, server *ossl.Ctx, sess *ossl.Session, rec *recorder, early []byte) attempt {
	before := p.stats(server)
	m := 0
	if rec != nil {
		m = rec.mark()
	}
	r, err := p.tryEarly(client, server, sess, early)
	a := attempt{earlySent: early}
	if err != nil {
		a.failed = handshakeFailure(err)
	} else {
		a.client, a.server = r.ClientReused, r.ServerReused
		a.clientSession, a.serverSession = r.ClientSession, r.ServerSession
		a.fresh = r.ClientSession != nil && r.ClientSession.IsResumable() &&
			(sess == nil || !bytes.Equal(r.ClientSession.ID(), sess.ID()))
		a.earlyRead, a.clientEarly, a.serverEarly = r.EarlyDataRead, r.ClientEarlyData, r.ServerEarlyData
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

// earlyAccepted reports early data that both sides report accepted and
// that the server read whole.
func (a attempt) earlyAccepted() bool {
	return a.failed == "" && len(a.earlySent) > 0 && a.clientEarly == ossl.EarlyDataAccepted &&
		a.serverEarly == ossl.EarlyDataAccepted && bytes.Equal(a.earlyRead, a.earlySent)
}

// earlyRejected reports early data that both sides report rejected, of
// which the server read nothing.
func (a attempt) earlyRejected() bool {
	return a.failed == "" && len(a.earlySent) > 0 && a.clientEarly == ossl.EarlyDataRejected &&
		a.serverEarly == ossl.EarlyDataRejected && len(a.earlyRead) == 0
}

// earlyOutcome describes what became of the early data: "early data
// accepted, 35 of 35 bytes read", "early data rejected, 0 bytes read", or
// the two sides' statuses where they differ.
func (a attempt) earlyOutcome() string {
	switch {
	case a.failed != "":
		return "no early data outcome"
	case len(a.earlySent) == 0:
		return "no early data sent"
	case a.clientEarly != a.serverEarly:
		return fmt.Sprintf("early data: client %v, server %v, %d of %d bytes read", a.clientEarly, a.serverEarly, len(a.earlyRead), len(a.earlySent))
	case a.serverEarly == ossl.EarlyDataAccepted:
		return fmt.Sprintf("early data accepted, %d of %d bytes read", len(a.earlyRead), len(a.earlySent))
	case a.serverEarly == ossl.EarlyDataRejected:
		return fmt.Sprintf("early data rejected, %d bytes read", len(a.earlyRead))
	}
	return fmt.Sprintf("early data %v", a.serverEarly)
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
