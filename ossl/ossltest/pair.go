package ossltest

import (
	"fmt"
	"time"

	"github.com/osslcache/osslcache/internal/osslhooks"
	"github.com/osslcache/osslcache/ossl"
)

// Pair is a live in-memory TLS connection: a client and a server SSL
// object of two contexts, joined by a BIO pair (BIO_new_bio_pair(3)) and
// driven in one thread. Both objects stay open until Close, so a test may
// act on them between steps (ossl.SSL's methods), as OpenSSL's own
// test/sslapitest.c does with create_ssl_objects and
// create_bare_ssl_connection.
//
// A Pair is not for concurrent use; its SSL objects are (their methods
// wait for a step in progress).
type Pair struct {
	Client, Server *ossl.SSL
	p              osslhooks.Pair
}

// NewPair makes a client SSL from client and a server SSL from server and
// joins them.
func NewPair(client, server *ossl.Ctx) (*Pair, error) {
	c, err := client.NewSSL()
	if err != nil {
		return nil, err
	}
	s, err := server.NewSSL()
	if err != nil {
		c.Close()
		return nil, err
	}
	p, err := Join(c, s)
	if err != nil {
		c.Close()
		s.Close()
		return nil, err
	}
	return p, nil
}

// Join joins a client and a server SSL object the caller made, with a new
// BIO pair that replaces any BIOs they had, and sets their roles: as
// create_ssl_objects of OpenSSL's tests does when handed an SSL object
// that already served a connection (made ready again with SSL.Clear, whose
// client offers its session again). The Pair takes the objects over: its
// Close frees them. On error the caller keeps them.
func Join(client, server *ossl.SSL) (*Pair, error) {
	p, err := osslhooks.NewPair(client, server)
	if err != nil {
		return nil, err
	}
	return &Pair{Client: client, Server: server, p: p}, nil
}

// Close frees both SSL objects.
func (p *Pair) Close() {
	p.Client.Close()
	p.Server.Close()
}

// SideState is how one side of a handshake ended.
type SideState = osslhooks.PairState

// Side states.
const (
	Running  = osslhooks.Running  // waiting for data that never came
	Finished = osslhooks.Finished // the handshake completed
	Failed   = osslhooks.Failed   // a libssl call failed
)

// HandshakeResult is what Pair.Handshake observed: how each side ended,
// and SSL_get_error(3) of a side that failed.
type HandshakeResult = osslhooks.HandshakeResult

// Handshake drives both sides until each has finished or failed: a side
// that fails sends its alert, and the other reads it, as over a socket. It
// may be called again (a second attempt on the same objects). The error is
// nil only when both finished; the result says how each side ended.
func (p *Pair) Handshake() (HandshakeResult, error) {
	r := p.p.Handshake()
	return r, r.Err
}

// Side names one side of a Pair.
type Side bool

// The two sides.
const (
	ClientSide Side = true
	ServerSide Side = false
)

// String returns "client" or "server".
func (s Side) String() string {
	if s == ClientSide {
		return "client"
	}
	return "server"
}

// ErrWouldBlock is returned by Write while the side's writes are held,
// and by CloseNotify while the peer's close_notify has not come.
var ErrWouldBlock = osslhooks.ErrWouldBlock

// Step makes one handshake call (SSL_do_handshake(3)) on one side: to
// drive a single flight, or to send what an established connection queued
// (SSL.NewSessionTicket, SSL.VerifyClientPostHandshake).
func (p *Pair) Step(s Side) (SideState, error) { return p.p.Step(bool(s)) }

// Read reads up to max bytes of application data on one side
// (SSL_read_ex(3)), processing what came before them: TLS 1.3 tickets
// (which reach the client's new-session callback), post-handshake
// messages, alerts. It returns nil, nil when nothing is left to read, and
// io.EOF after the peer's close_notify.
func (p *Pair) Read(s Side, max int) ([]byte, error) { return p.p.Read(bool(s), max) }

// Write writes b on one side (SSL_write_ex(3)); an empty b drives what the
// side has queued, such as tickets. It returns ErrWouldBlock while the
// side's writes are held; the write is then retried by calling Write again
// with the same bytes (SSL_write(3)'s rule), from any slice.
func (p *Pair) Write(s Side, b []byte) (int, error) { return p.p.Write(bool(s), b) }

// WriteEarlyData writes b as TLS 1.3 early data on the client
// (SSL_write_early_data(3)), before the handshake: the first call writes
// the ClientHello too. The client's session must allow early data.
func (p *Pair) WriteEarlyData(b []byte) (int, error) { return p.p.WriteEarlyData(b) }

// ReadEarlyData reads up to max bytes of early data on the server
// (SSL_read_early_data(3)); the first call reads the ClientHello and
// writes the server's flight. It returns data; or nil, false, nil while
// more may come (step the client); or nil, true, nil when no more can
// (SSL_READ_EARLY_DATA_FINISH: none sent, rejected, or all read); then
// Handshake completes the handshake.
func (p *Pair) ReadEarlyData(max int) (data []byte, finished bool, err error) {
	return p.p.ReadEarlyData(max)
}

// HoldWrites makes every write of one side ask to be retried (on), as a
// full socket buffer would, or lets them through again (off).
func (p *Pair) HoldWrites(s Side, on bool) error { return p.p.HoldWrites(bool(s), on) }

// Shutdown runs a clean bidirectional close_notify exchange that first
// starts, so that both sessions stay resumable.
func (p *Pair) Shutdown(first Side) error { return p.p.Shutdown(bool(first)) }

// CloseNotify makes one SSL_shutdown(3) call on one side, for the
// orderings Shutdown does not take: the first call sends the side's
// close_notify and reports false (libssl's 0); a later one reads what the
// peer sent until its close_notify and reports true once both are through
// (libssl's 1), or returns ErrWouldBlock while the peer's has not come. An
// error is libssl's -1, such as application data arriving where the
// peer's close_notify was awaited. TLS 1.3 tickets read on the way reach
// the client's session, as with Read.
func (p *Pair) CloseNotify(s Side) (bool, error) { return p.p.CloseNotify(bool(s)) }

// Timing is the time spent inside each side's libssl calls so far.
func (p *Pair) Timing() (client, server time.Duration) { return p.p.Timing() }

// Options are the per-connection choices of Handshake.
type Options struct {
	// ServerName is sent as SNI when not empty.
	ServerName string
	// Session is offered for resumption with SSL_set_session.
	Session *ossl.Session
	// CacheKey ties the client connection to the client context's
	// ClientSessionCache (SSL.UseClientSessionCache); it may offer a
	// session in place of Session.
	CacheKey string
	// EarlyData, if set, is written by the client as TLS 1.3 early data
	// before the handshake, and the server reads early data until none
	// is left (the offered session must allow it).
	EarlyData []byte
}

// Result is what one Handshake observed.
type Result struct {
	ClientReused, ServerReused bool
	// Offered reports whether the client offered a session.
	Offered bool
	Version ossl.Version
	// ServerName is the SNI name the server saw.
	ServerName string
	// ClientSession is the client's session after the tickets were read
	// (on TLS 1.3, the last ticket's); ServerSession is the server's.
	// Both are references the caller owns (Result.Close closes both).
	ClientSession, ServerSession *ossl.Session
	// ServerCtxSwitched reports that a server-name callback moved the
	// server connection to another context.
	ServerCtxSwitched bool
	// ClientEarlyData and ServerEarlyData are what became of early data
	// on each side; EarlyDataRead is what the server read of it, and
	// EarlyDataCheck what the server's allow-early-data callback decided.
	ClientEarlyData, ServerEarlyData ossl.EarlyDataStatus
	EarlyDataRead                    []byte
	EarlyDataCheck                   ossl.EarlyDataCheck
	// ClientTime and ServerTime are the time spent inside each side's
	// libssl calls, from the handshake to the close_notify exchange.
	ClientTime, ServerTime time.Duration
	Rounds                 int
}

// Close releases the result's sessions.
func (r *Result) Close() {
	if r == nil {
		return
	}
	r.ClientSession.Close()
	r.ServerSession.Close()
}

// Handshake runs one complete connection between a client and a server
// context in memory: the handshake, the client's reading of what came
// after it (TLS 1.3 tickets), and a clean close_notify exchange, so that
// both sessions stay resumable. An error means the handshake itself
// failed; a resumption that falls back to a full handshake is not an
// error.
func Handshake(client, server *ossl.Ctx, o Options) (*Result, error) {
	p, err := NewPair(client, server)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	res := &Result{}
	if o.ServerName != "" {
		if err := p.Client.SetServerName(o.ServerName); err != nil {
			return nil, err
		}
	}
	if o.CacheKey != "" {
		if res.Offered, err = p.Client.UseClientSessionCache(o.CacheKey); err != nil {
			return nil, err
		}
	}
	if o.Session != nil {
		if err := p.Client.SetSession(o.Session); err != nil {
			return nil, err
		}
		res.Offered = true
	}
	if len(o.EarlyData) > 0 {
		if res.EarlyDataRead, err = exchangeEarlyData(p, o.EarlyData); err != nil {
			return nil, err
		}
	}
	hs, err := p.Handshake()
	res.Rounds = hs.Rounds
	if err != nil {
		return nil, fmt.Errorf("ossltest: %w", err)
	}
	if data, err := p.Read(ClientSide, 256); err != nil || data != nil {
		return nil, fmt.Errorf("ossltest: reading after the handshake: %d bytes of application data, %v", len(data), err)
	}
	if err := p.Shutdown(ClientSide); err != nil {
		return nil, fmt.Errorf("ossltest: %w", err)
	}
	res.ClientTime, res.ServerTime = p.Timing()
	res.ClientReused = p.Client.SessionReused()
	res.ServerReused = p.Server.SessionReused()
	res.Version = p.Client.Version()
	res.ServerName = p.Server.ServerName()
	res.ServerCtxSwitched = p.Server.ContextSwitched()
	res.ClientEarlyData = p.Client.EarlyDataStatus()
	res.ServerEarlyData = p.Server.EarlyDataStatus()
	res.EarlyDataCheck = p.Server.EarlyDataCheck()
	res.ClientSession = p.Client.Session()
	res.ServerSession = p.Server.Session()
	return res, nil
}

// exchangeEarlyData writes data as early data on the client, and reads on
// the server what it accepts until libssl says no more will come,
// stepping the client (which reads the server's flight and ends its early
// data) while the server waits.
func exchangeEarlyData(p *Pair, data []byte) ([]byte, error) {
	if _, err := p.WriteEarlyData(data); err != nil {
		return nil, fmt.Errorf("ossltest: writing early data: %w", err)
	}
	var read []byte
	for range maxEarlyRounds {
		got, finished, err := p.ReadEarlyData(len(data) + 1)
		if err != nil {
			return read, fmt.Errorf("ossltest: reading early data: %w", err)
		}
		read = append(read, got...)
		if finished {
			return read, nil
		}
		if got == nil {
			if _, err := p.Step(ClientSide); err != nil {
				return read, fmt.Errorf("ossltest: client after its early data: %w", err)
			}
		}
	}
	return read, fmt.Errorf("ossltest: early data still not finished after %d reads", maxEarlyRounds)
}

// maxEarlyRounds bounds the reads of exchangeEarlyData: one per record of
// early data, and a few for the handshake.
const maxEarlyRounds = 64
