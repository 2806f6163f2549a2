package ossl

/*
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"time"
	"unsafe"

	"github.com/osslcache/osslcache/internal/osslhooks"
)

// This file fills in the hooks of internal/osslhooks: the in-memory pair
// behind ossltest, and the measurements of the benchmark drivers.

func init() {
	osslhooks.NewPair = newPair
	osslhooks.CallbackCrossingCost = callbackCrossingCost
	osslhooks.LiveOpenSSLAllocations = liveOpenSSLAllocations
	osslhooks.CtxPointer = func(ctx any) unsafe.Pointer {
		c, _ := ctx.(*Ctx)
		if c == nil {
			return nil
		}
		var p unsafe.Pointer
		c.get(func(cp *C.SSL_CTX) { p = unsafe.Pointer(cp) })
		return p
	}
	osslhooks.Foreign.NewServerCtx = func() unsafe.Pointer { return unsafe.Pointer(C.SSL_CTX_new(C.TLS_server_method())) }
	osslhooks.Foreign.FreeCtx = func(p unsafe.Pointer) { C.SSL_CTX_free((*C.SSL_CTX)(p)) }
	osslhooks.Foreign.DupSSL = func(ssl any) (func(), error) {
		s, _ := ssl.(*SSL)
		if s == nil {
			return nil, errors.New("ossl: not an *ossl.SSL")
		}
		var d *C.SSL
		if err := s.do("SSL_dup", func(p *C.SSL) bool {
			d = C.SSL_dup(p)
			return d != nil
		}); err != nil {
			return nil, err
		}
		return func() { C.SSL_free(d) }, nil
	}
	osslhooks.SessionPointer = func(sess any) unsafe.Pointer {
		var p unsafe.Pointer
		if s, _ := sess.(*Session); s != nil {
			s.read(func(sp *C.SSL_SESSION) { p = unsafe.Pointer(sp) })
		}
		return p
	}
}

// pair is a live in-memory connection between two SSL objects. Each call
// holds both objects (client first), so nothing else runs on them
// meanwhile.
type pair struct {
	client, server *SSL
	// Guarded by holding both objects:
	clientNS, serverNS C.int64_t
	rounds             int
}

func newPair(client, server any) (osslhooks.Pair, error) {
	c, ok1 := client.(*SSL)
	s, ok2 := server.(*SSL)
	if !ok1 || !ok2 || c == nil || s == nil || c == s {
		return nil, errors.New("ossl: a pair needs two distinct *ossl.SSL")
	}
	p := &pair{client: c, server: s}
	var err error
	if !p.both(func(cp, sp *C.SSL) {
		c.h.paired, s.h.paired = true, true
		err = onThread("BIO_new_bio_pair", func() bool { return C.go_pair_attach(cp, sp) == 1 })
	}) {
		return nil, ErrClosed
	}
	return p, err
}

// both runs f with both objects held; false if either is freed.
func (p *pair) both(f func(cp, sp *C.SSL)) bool {
	ran := false
	p.client.with(func(cp *C.SSL) {
		p.server.with(func(sp *C.SSL) {
			ran = true
			f(cp, sp)
		})
	})
	return ran
}

var sideName = map[bool]string{true: "client", false: "server"}

// maxRounds bounds the flights of one handshake; a TLS handshake takes
// three or four.
const maxRounds = 64

// Handshake drives both sides, in the manner of OpenSSL's
// create_bare_ssl_connection: each round steps the client, then the
// server, until both finished, both failed, or a round changes nothing and
// moves no byte (one side failed and the other waits for data that will
// never come). A side that fails wrote its alert first, so the other reads
// it and fails in turn, as over a socket. libssl clears the thread's error
// queue at the start of every handshake call, so each side's errors are
// drained right after it fails.
func (p *pair) Handshake() osslhooks.HandshakeResult {
	var out osslhooks.HandshakeResult
	if !p.both(func(cp, sp *C.SSL) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var cs, ss, ce, se C.int
		var clientErr, serverErr *Error
		serverFirst := false
		for range maxRounds {
			if cs != 0 && ss != 0 {
				break
			}
			before := C.go_pair_traffic(cp, sp)
			moved := false
			if cs == 0 {
				C.ERR_clear_error()
				if C.go_pair_step(cp, &cs, &ce, &p.clientNS) == 1 {
					moved = true
					if cs < 0 {
						clientErr = drainErrors("SSL_do_handshake", "client: "+sslErrorName(ce))
					}
				}
			}
			if ss == 0 {
				C.ERR_clear_error()
				if C.go_pair_step(sp, &ss, &se, &p.serverNS) == 1 {
					moved = true
					if ss < 0 {
						serverErr = drainErrors("SSL_do_handshake", "server: "+sslErrorName(se))
						serverFirst = clientErr == nil
					}
				}
			}
			p.rounds++
			out.Rounds++
			if !moved && C.go_pair_traffic(cp, sp) == before {
				break
			}
		}
		out.Client, out.Server = pairState(cs), pairState(ss)
		out.ClientError, out.ServerError = int(ce), int(se)
		if out.Client != osslhooks.Finished || out.Server != osslhooks.Finished {
			out.Err = pairError(out, clientErr, serverErr, serverFirst)
		}
	}) {
		out.Err = ErrClosed
	}
	return out
}

// pairError describes a handshake that did not complete on both sides,
// with the error queue of the side that failed first (its reason is the
// cause; the other side's is, mostly, the alert it received) then the
// other's.
func pairError(r osslhooks.HandshakeResult, clientErr, serverErr *Error, serverFirst bool) *Error {
	e := &Error{Op: "SSL_do_handshake", Detail: fmt.Sprintf("client %s, server %s after %d rounds",
		sideOutcome(r.Client, r.ClientError), sideOutcome(r.Server, r.ServerError), r.Rounds)}
	first, second := clientErr, serverErr
	if serverFirst {
		first, second = serverErr, clientErr
	}
	for _, x := range []*Error{first, second} {
		if x != nil {
			e.Entries = append(e.Entries, x.Entries...)
		}
	}
	return e
}

func pairState(s C.int) osslhooks.PairState {
	switch s {
	case 1:
		return osslhooks.Finished
	case -1:
		return osslhooks.Failed
	}
	return osslhooks.Running
}

func sideOutcome(s osslhooks.PairState, e int) string {
	switch s {
	case osslhooks.Finished:
		return "finished"
	case osslhooks.Failed:
		return "failed (" + sslErrorName(C.int(e)) + ")"
	}
	return "still waiting"
}

// onSide runs f with one side's SSL and its time counter, holding both
// objects, on one OS thread with OpenSSL's error queue cleared (so f's
// call and drainErrors see the same queue). It reports false once the
// pair is freed.
func (p *pair) onSide(client bool, f func(ssl *C.SSL, ns *C.int64_t)) bool {
	return p.both(func(cp, sp *C.SSL) {
		ssl, ns := sp, &p.serverNS
		if client {
			ssl, ns = cp, &p.clientNS
		}
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		C.ERR_clear_error()
		f(ssl, ns)
	})
}

func (p *pair) Step(client bool) (osslhooks.PairState, error) {
	state := osslhooks.Running
	var err error
	if !p.onSide(client, func(ssl *C.SSL, ns *C.int64_t) {
		var st, e C.int
		C.go_pair_step(ssl, &st, &e, ns)
		state = pairState(st)
		if st < 0 {
			err = drainErrors("SSL_do_handshake", sideName[client]+": "+sslErrorName(e))
		}
	}) {
		return state, ErrClosed
	}
	return state, err
}

func (p *pair) Read(client bool, max int) ([]byte, error) {
	if max <= 0 {
		max = 1
	}
	buf := make([]byte, max)
	var n C.size_t
	var err error
	if !p.onSide(client, func(ssl *C.SSL, ns *C.int64_t) {
		var e C.int
		if C.go_pair_read(ssl, unsafe.Pointer(&buf[0]), C.size_t(max), &n, &e, ns) < 0 {
			if e == C.SSL_ERROR_ZERO_RETURN {
				err = io.EOF
			} else {
				err = drainErrors("SSL_read", sideName[client]+": "+sslErrorName(e))
			}
		}
	}) {
		return nil, ErrClosed
	}
	if n == 0 {
		return nil, err
	}
	return buf[:n], err
}

func (p *pair) Write(client bool, b []byte) (int, error) {
	var n C.size_t
	var err error
	if !p.onSide(client, func(ssl *C.SSL, ns *C.int64_t) {
		var e C.int
		buf := b
		if len(buf) == 0 {
			buf = []byte{0} // a zero-length write still needs a buffer
		}
		switch C.go_pair_write(ssl, unsafe.Pointer(&buf[0]), C.size_t(len(b)), &n, &e, ns) {
		case 0:
			err = osslhooks.ErrWouldBlock
		case -1:
			err = drainErrors("SSL_write", sideName[client]+": "+sslErrorName(e))
		}
	}) {
		return 0, ErrClosed
	}
	return int(n), err
}

func (p *pair) WriteEarlyData(b []byte) (int, error) {
	var n C.size_t
	var err error
	if len(b) == 0 {
		return 0, nil
	}
	if !p.both(func(cp, sp *C.SSL) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var r C.go_conn_res
		t0 := time.Now()
		C.go_write_early_data(cp, nil, -1, nil, unsafe.Pointer(&b[0]), C.size_t(len(b)), &n, &r)
		p.clientNS += C.int64_t(time.Since(t0))
		switch {
		case r.rc == 1:
		case r.err == C.SSL_ERROR_WANT_WRITE:
			err = osslhooks.ErrWouldBlock
		default:
			err = drainErrors("SSL_write_early_data", "client: "+sslErrorName(r.err))
		}
	}) {
		return 0, ErrClosed
	}
	return int(n), err
}

func (p *pair) ReadEarlyData(max int) ([]byte, bool, error) {
	if max <= 0 {
		max = 1
	}
	buf := make([]byte, max)
	var n C.size_t
	var finished bool
	var err error
	if !p.both(func(cp, sp *C.SSL) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var r C.go_conn_res
		t0 := time.Now()
		C.go_read_early_data(sp, nil, -1, unsafe.Pointer(&buf[0]), C.size_t(max), &n, &r)
		p.serverNS += C.int64_t(time.Since(t0))
		switch {
		case r.rc == C.SSL_READ_EARLY_DATA_FINISH:
			finished = true
		case r.rc == C.SSL_READ_EARLY_DATA_SUCCESS, r.err == C.SSL_ERROR_WANT_READ:
		default:
			err = drainErrors("SSL_read_early_data", "server: "+sslErrorName(r.err))
		}
	}) {
		return nil, false, ErrClosed
	}
	if n == 0 {
		return nil, finished, err
	}
	return buf[:n], finished, err
}

func (p *pair) HoldWrites(client bool, on bool) error {
	var err error
	if !p.onSide(client, func(ssl *C.SSL, _ *C.int64_t) {
		err = onThread("SSL_set0_wbio", func() bool { return C.go_pair_hold_writes(ssl, b2i(on)) == 1 })
	}) {
		return ErrClosed
	}
	return err
}

func (p *pair) Shutdown(clientFirst bool) error {
	var err error
	if !p.both(func(cp, sp *C.SSL) {
		first, second := cp, sp
		fns, sns := &p.clientNS, &p.serverNS
		if !clientFirst {
			first, second, fns, sns = sp, cp, sns, fns
		}
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		C.ERR_clear_error()
		var failed, e C.int
		if C.go_pair_shutdown(first, second, &failed, &e, fns, sns) != 1 {
			side := clientFirst == (failed == 1)
			err = drainErrors("SSL_shutdown", sideName[side]+": "+sslErrorName(e))
		}
	}) {
		return ErrClosed
	}
	return err
}

func (p *pair) CloseNotify(client bool) (bool, error) {
	var rc C.int
	var err error
	if !p.onSide(client, func(ssl *C.SSL, ns *C.int64_t) {
		var e C.int
		if rc = C.go_pair_close_notify(ssl, &e, ns); rc < 0 {
			if e == C.SSL_ERROR_WANT_READ || e == C.SSL_ERROR_WANT_WRITE {
				err = osslhooks.ErrWouldBlock
			} else {
				err = drainErrors("SSL_shutdown", sideName[client]+": "+sslErrorName(e))
			}
		}
	}) {
		return false, ErrClosed
	}
	return rc == 1, err
}

func (p *pair) Timing() (client, server time.Duration) {
	// Read under both objects, or, once they are freed, as last left.
	p.client.mu.Lock()
	p.server.mu.Lock()
	defer p.client.mu.Unlock()
	defer p.server.mu.Unlock()
	return time.Duration(p.clientNS), time.Duration(p.serverNS)
}
