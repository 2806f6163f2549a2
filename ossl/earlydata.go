package ossl

/*
#include "shim.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
	"unsafe"
)

// TLS 1.3 early data (0-RTT): a client resuming a session that allows it
// sends application data with its ClientHello, before the handshake
// authenticates anything. Such data can be replayed: whoever recorded the
// ClientHello can send it again. libssl's defence is its internal session
// cache: a server that accepts early data makes every ticket single use
// (SSL_OP_NO_ANTI_REPLAY turns that off). The allow callback adds a
// check of the application's own, such as a fleet-wide one in a shared
// store. See https://docs.openssl.org/master/man3/SSL_read_early_data/.

// EarlyDataStatus is what became of a connection's early data
// (SSL_get_early_data_status(3)).
type EarlyDataStatus int

// Early data statuses.
const (
	// EarlyDataNotSent: the client sent none (or the connection is not
	// TLS 1.3, or the handshake has not got that far).
	EarlyDataNotSent EarlyDataStatus = C.SSL_EARLY_DATA_NOT_SENT
	// EarlyDataRejected: the client sent early data and the server
	// discarded it; a client must send it again after the handshake.
	EarlyDataRejected EarlyDataStatus = C.SSL_EARLY_DATA_REJECTED
	// EarlyDataAccepted: the server accepted it.
	EarlyDataAccepted EarlyDataStatus = C.SSL_EARLY_DATA_ACCEPTED
)

// String returns the status's name as libssl spells it.
func (s EarlyDataStatus) String() string {
	switch s {
	case EarlyDataNotSent:
		return "SSL_EARLY_DATA_NOT_SENT"
	case EarlyDataRejected:
		return "SSL_EARLY_DATA_REJECTED"
	case EarlyDataAccepted:
		return "SSL_EARLY_DATA_ACCEPTED"
	}
	return fmt.Sprintf("SSL_EARLY_DATA_STATUS(%d)", int(s))
}

// EarlyDataCheck is what the allow-early-data callback
// (Ctx.SetAllowEarlyDataCallback) decided on a connection.
type EarlyDataCheck int

// Early data checks.
const (
	// EarlyDataNotChecked: no callback ran (none installed, no early
	// data offered, or libssl rejected it first).
	EarlyDataNotChecked EarlyDataCheck = 0
	// EarlyDataCheckAllowed: the callback allowed it.
	EarlyDataCheckAllowed EarlyDataCheck = C.GO_EARLY_CHECK_ALLOWED
	// EarlyDataCheckRefused: the callback refused it (a replay, for an
	// anti-replay check).
	EarlyDataCheckRefused EarlyDataCheck = C.GO_EARLY_CHECK_REFUSED
	// EarlyDataCheckFailed: the callback failed (an error, its timeout, a
	// panic), and the early data was rejected.
	EarlyDataCheckFailed EarlyDataCheck = C.GO_EARLY_CHECK_FAILED
)

// String returns "not-checked", "allowed", "refused" or "failed".
func (c EarlyDataCheck) String() string {
	switch c {
	case EarlyDataNotChecked:
		return "not-checked"
	case EarlyDataCheckAllowed:
		return "allowed"
	case EarlyDataCheckRefused:
		return "refused"
	case EarlyDataCheckFailed:
		return "failed"
	}
	return fmt.Sprintf("EarlyDataCheck(%d)", int(c))
}

// ErrNoEarlyData is wrapped by the error of an early data write the
// session offered cannot carry: no session, a session without early data
// (Session.MaxEarlyData is 0), or more bytes than it allows.
var ErrNoEarlyData = errors.New("ossl: the session offered allows no (more) early data")

// SetMaxEarlyData sets how much TLS 1.3 early data the context's servers
// accept, and the limit written into their tickets
// (SSL_CTX_set_max_early_data(3)). Above 0, libssl's anti-replay makes
// every ticket single use (see OptionNoAntiReplay).
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_max_early_data/.
func (c *Ctx) SetMaxEarlyData(n uint32) error {
	return c.do("SSL_CTX_set_max_early_data", func(p *C.SSL_CTX) bool { return C.go_ctx_set_max_early_data(p, C.uint32_t(n)) == 1 })
}

// MaxEarlyData returns SSL_CTX_get_max_early_data(3).
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_max_early_data/.
func (c *Ctx) MaxEarlyData() uint32 {
	var n uint32
	c.get(func(p *C.SSL_CTX) { n = uint32(C.go_ctx_get_max_early_data(p)) })
	return n
}

// SetRecvMaxEarlyData sets how much early data the context's servers read
// before failing the handshake (SSL_CTX_set_recv_max_early_data(3));
// libssl's default is 16384.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_max_early_data/.
func (c *Ctx) SetRecvMaxEarlyData(n uint32) error {
	return c.do("SSL_CTX_set_recv_max_early_data", func(p *C.SSL_CTX) bool { return C.go_ctx_set_recv_max_early_data(p, C.uint32_t(n)) == 1 })
}

// RecvMaxEarlyData returns SSL_CTX_get_recv_max_early_data(3).
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_max_early_data/.
func (c *Ctx) RecvMaxEarlyData() uint32 {
	var n uint32
	c.get(func(p *C.SSL_CTX) { n = uint32(C.go_ctx_get_recv_max_early_data(p)) })
	return n
}

// SetMaxEarlyData sets the connection's early data limit
// (SSL_set_max_early_data(3)).
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_max_early_data/.
func (s *SSL) SetMaxEarlyData(n uint32) error {
	return s.do("SSL_set_max_early_data", func(p *C.SSL) bool { return C.go_ssl_set_max_early_data(p, C.uint32_t(n)) == 1 })
}

// MaxEarlyData returns SSL_get_max_early_data(3); 0 once closed.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_max_early_data/.
func (s *SSL) MaxEarlyData() uint32 {
	var n uint32
	s.with(func(p *C.SSL) { n = uint32(C.go_ssl_get_max_early_data(p)) })
	return n
}

// SetRecvMaxEarlyData sets how much early data this server connection
// reads (SSL_set_recv_max_early_data(3)).
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_max_early_data/.
func (s *SSL) SetRecvMaxEarlyData(n uint32) error {
	return s.do("SSL_set_recv_max_early_data", func(p *C.SSL) bool { return C.go_ssl_set_recv_max_early_data(p, C.uint32_t(n)) == 1 })
}

// RecvMaxEarlyData returns SSL_get_recv_max_early_data(3); 0 once closed.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_max_early_data/.
func (s *SSL) RecvMaxEarlyData() uint32 {
	var n uint32
	s.with(func(p *C.SSL) { n = uint32(C.go_ssl_get_recv_max_early_data(p)) })
	return n
}

// EarlyDataCheck returns what the allow-early-data callback decided on the
// connection's last handshake.
func (s *SSL) EarlyDataCheck() EarlyDataCheck {
	c := EarlyDataNotChecked
	s.with(func(p *C.SSL) { c = EarlyDataCheck(C.go_ssl_early_check(p)) })
	return c
}

// EarlyDataStatus returns SSL_get_early_data_status(3); EarlyDataNotSent
// once closed.
//
// See https://docs.openssl.org/master/man3/SSL_read_early_data/.
func (s *SSL) EarlyDataStatus() EarlyDataStatus {
	st := EarlyDataNotSent
	s.with(func(p *C.SSL) { st = EarlyDataStatus(C.go_ssl_early_data_status(p)) })
	return st
}

// ---- the allow callback ----

// EarlyDataRequest describes a resumption whose early data libssl is about
// to accept, as AllowEarlyDataConfig.Allow sees it.
type EarlyDataRequest struct {
	// SessionID is the resumed session's ID as the server knows it.
	// libssl gives every TLS 1.3 ticket it issues a fresh one, stateful
	// or stateless, so it names the ticket: a replay of the same
	// ClientHello carries the same ID, on every server sharing the
	// ticket keys or the store. Owned by the callback.
	SessionID []byte
	// SessionIDContext of the context serving the connection, as set
	// through Ctx.SetSessionIDContext (nil if unset). Read-only.
	SessionIDContext []byte
	// ServerName is the SNI host name the client sent.
	ServerName string
	// Issued is when the session was made (SSL_SESSION_get_time(3)), by
	// the clock of the server that made it; Expires is when it ends.
	Issued, Expires time.Time
	// MaxEarlyData is the limit the session's ticket carries.
	MaxEarlyData uint32
}

// AllowEarlyDataConfig is a server context's early data check
// (SSL_CTX_set_allow_early_data_cb(3)). libssl asks it only after its own
// checks passed: the context accepts early data, the client resumes with
// the first PSK it offered, the ticket's age is within libssl's window,
// and, with anti-replay on, the ticket was found in (and taken out of)
// the internal cache.
type AllowEarlyDataConfig struct {
	// Allow decides; false or an error rejects the early data, and the
	// handshake goes on without it (the client sends it again
	// afterwards). It runs on a goroutine of its own, abandoned at
	// Timeout, and ctx ends then: a store that does not answer in time
	// rejects, as do a panic and an error. Nil removes the callback.
	Allow func(ctx context.Context, req EarlyDataRequest) (bool, error)
	// Timeout bounds Allow; DefaultLookupTimeout when zero.
	Timeout time.Duration
	// OnEvent is told of errors, timeouts and panics (Op
	// "allow-early-data").
	OnEvent func(Event)
}

// SetAllowEarlyDataCallback installs cfg on a server context
// (SSL_CTX_set_allow_early_data_cb(3)); a nil cfg.Allow removes it.
// libssl copies the callback into each connection at SSL_new; connections
// made before a removal find no Go callback and allow early data, as with
// no callback. The counters are in CallbackStats (EarlyDataAllowed,
// EarlyDataRefused, EarlyDataErrors).
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_max_early_data/.
func (c *Ctx) SetAllowEarlyDataCallback(cfg AllowEarlyDataConfig) error {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultLookupTimeout
	}
	on := cfg.Allow != nil
	return c.do("SSL_CTX_set_allow_early_data_cb", func(p *C.SSL_CTX) bool {
		if on {
			c.st.early.Store(&earlyDataConfig{AllowEarlyDataConfig: cfg,
				call: storeConfig{StoreConfig: StoreConfig{LookupTimeout: cfg.Timeout, OnEvent: cfg.OnEvent}}})
		} else {
			c.st.early.Store(nil)
		}
		C.go_ctx_set_allow_early_data_cb(p, b2i(on))
		return true
	})
}

// earlyDataConfig is an AllowEarlyDataConfig with what call needs.
type earlyDataConfig struct {
	AllowEarlyDataConfig
	call storeConfig
}

const opAllowEarlyData = "allow-early-data"

// onAllowEarlyData runs libssl's allow-early-data callback.
func (st *ctxState) onAllowEarlyData(ssl *C.SSL) EarlyDataCheck {
	cfg := st.early.Load()
	if cfg == nil {
		return EarlyDataNotChecked
	}
	req := EarlyDataRequest{ServerName: serverName(ssl), SessionIDContext: st.sessionIDContext()}
	var id [C.SSL_MAX_SSL_SESSION_ID_LENGTH]C.uchar
	var n C.uint
	var issued, expires C.int64_t
	var maxEarly C.uint32_t
	if C.go_early_data_session(ssl, &id[0], &n, &issued, &expires, &maxEarly) == 1 {
		req.SessionID = C.GoBytes(unsafe.Pointer(&id[0]), C.int(n))
		req.Issued = time.Unix(int64(issued), 0)
		req.Expires = unixSaturated(int64(expires))
		req.MaxEarlyData = uint32(maxEarly)
	}
	info := LookupInfo{SessionIDContext: req.SessionIDContext, ServerName: req.ServerName}
	allowed, _, err := call(st, &cfg.call, opAllowEarlyData, req.SessionID, info, func(ctx context.Context) (bool, error) {
		return cfg.Allow(ctx, req)
	}, nil)
	if err != nil {
		st.classify(cfg.OnEvent, opAllowEarlyData, req.SessionID, err, &st.n.earlyErrors)
		return EarlyDataCheckFailed
	}
	if !allowed {
		st.n.earlyRefused.Add(1)
		return EarlyDataCheckRefused
	}
	st.n.earlyAllowed.Add(1)
	return EarlyDataCheckAllowed
}

// ---- early data on a Conn ----

// connEarly is a Conn's early data state, guarded by hsMu.
type connEarly struct {
	written int    // bytes a client wrote
	reading bool   // a server called ReadEarlyData
	done    bool   // a server read SSL_READ_EARLY_DATA_FINISH
	unread  []byte // what the handshake read for Read to return (readMu after the handshake)
}

// WriteEarlyData sends b as TLS 1.3 early data (SSL_write_early_data(3)):
// a client calls it before the handshake, to send data with its
// ClientHello, on a connection offering a session that allows early data
// (ClientConfig.Session or CacheKey). It may be called more than once;
// Handshake, Read or Write then complete the handshake, after which
// ConnectionState().EarlyData says whether the server accepted the data.
// Rejected early data is lost: the client must send it again.
//
// It returns an error wrapping ErrNoEarlyData, and sends nothing, when
// the session does not allow early data or b exceeds what it allows; the
// connection stays usable for a normal handshake.
//
// See https://docs.openssl.org/master/man3/SSL_read_early_data/.
func (c *Conn) WriteEarlyData(b []byte) (int, error) {
	if c.server {
		return 0, errors.New("ossl: WriteEarlyData on a server connection (servers read early data)")
	}
	c.hsMu.Lock()
	defer c.hsMu.Unlock()
	if c.hsErr != nil {
		return 0, c.hsErr
	}
	if c.hsDone.Load() {
		return 0, errors.New("ossl: WriteEarlyData after the handshake")
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	limit, resumable := -1, C.int(0)
	c.locked(func(p *C.SSL) { limit = int(C.go_early_data_limit(p, &resumable)) })
	switch {
	case limit < 0:
		return 0, net.ErrClosed
	case limit > 0 && resumable == 0:
		return 0, fmt.Errorf("%w: the session offered can no longer be resumed (Session.IsResumable is false: a TLS 1.3 session a CLIENT cache resumed once, or one expired)", ErrNoEarlyData)
	case limit == 0:
		return 0, fmt.Errorf("%w: no session offered, or one whose Session.MaxEarlyData is 0", ErrNoEarlyData)
	case c.early.written+len(b) > limit:
		return 0, fmt.Errorf("%w: %d bytes after %d would exceed the session's limit of %d", ErrNoEarlyData, len(b), c.early.written, limit)
	}
	total := 0
	for len(b) > 0 {
		n := min(len(b), maxPlaintext)
		r, err := c.io("SSL_write_early_data", true, func(cc *connC, fd C.int, r *C.go_conn_res) {
			var written C.size_t
			C.go_write_early_data(cc.ssl, cc.bio, fd, &cc.wbuf, unsafe.Pointer(&b[0]), C.size_t(n), &written, r)
		})
		if err != nil {
			return total, handshakeError(err)
		}
		if r.rc != 1 {
			return total, unexpectedInHandshake(r)
		}
		if err := c.flush(); err != nil {
			return total, err
		}
		c.early.written += n
		total += n
		b = b[n:]
	}
	return total, nil
}

// ReadEarlyData reads early data on a server (SSL_read_early_data(3)),
// before the handshake: the first call reads the ClientHello and answers
// it. It returns io.EOF when there is no (more) early data: the client
// sent none, libssl or the allow callback rejected it, or it was all
// read; then Handshake, Read or Write complete the handshake. libssl only
// accepts early data on a connection whose server called ReadEarlyData
// before the ClientHello came; a server that calls Handshake directly
// rejects it. Early data left unread when the handshake runs is kept and
// returned by Read first.
//
// Early data is not protected against replay by TLS itself: see
// SetMaxEarlyData, OptionNoAntiReplay and SetAllowEarlyDataCallback.
//
// See https://docs.openssl.org/master/man3/SSL_read_early_data/.
func (c *Conn) ReadEarlyData(b []byte) (int, error) {
	if !c.server {
		return 0, errors.New("ossl: ReadEarlyData on a client connection (clients write early data)")
	}
	c.hsMu.Lock()
	defer c.hsMu.Unlock()
	if c.hsErr != nil {
		return 0, c.hsErr
	}
	if c.hsDone.Load() || c.early.done {
		return 0, io.EOF
	}
	if len(b) == 0 {
		return 0, nil
	}
	c.early.reading = true
	n, err := c.readEarly(b)
	if err != nil && err != io.EOF {
		c.hsErr = err
	}
	return n, err
}

// readEarly makes SSL_read_early_data calls until data or the end comes;
// the caller holds hsMu.
func (c *Conn) readEarly(b []byte) (int, error) {
	for {
		var got C.size_t
		r, err := c.io("SSL_read_early_data", false, func(cc *connC, fd C.int, r *C.go_conn_res) {
			C.go_read_early_data(cc.ssl, cc.bio, fd, unsafe.Pointer(&b[0]), C.size_t(len(b)), &got, r)
		})
		if err != nil {
			return 0, handshakeError(err)
		}
		switch r.rc {
		case C.SSL_READ_EARLY_DATA_SUCCESS:
			if r.pending > 0 {
				// The server's flight, written as the ClientHello was
				// accepted: the client waits for it.
				if err := c.flush(); err != nil {
					return 0, err
				}
			}
			if got > 0 {
				return int(got), nil
			}
			continue
		case C.SSL_READ_EARLY_DATA_FINISH:
			c.early.done = true
			if err := c.flush(); err != nil {
				return 0, err
			}
			return 0, io.EOF
		}
		return 0, unexpectedInHandshake(r)
	}
}

// drainEarlyData reads what early data is left, for Read to return, before
// the handshake goes on; the caller holds hsMu.
func (c *Conn) drainEarlyData() error {
	if !c.early.reading || c.early.done {
		return nil
	}
	buf := make([]byte, maxPlaintext)
	for {
		n, err := c.readEarly(buf)
		c.early.unread = append(c.early.unread, buf[:n]...)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
