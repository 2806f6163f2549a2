// Package osslhooks carries the parts of package ossl that its test and
// benchmark drivers need but users do not call: the in-memory handshake
// pair behind ossltest, the cost of one C-to-Go callback, OpenSSL's live
// heap blocks under the ossl_memdebug build, and raw pointers for tests. Package ossl fills the
// variables in at init; the hooks take and return its types as any, so
// that this package does not import it.
package osslhooks

import (
	"errors"
	"time"
	"unsafe"
)

// PairState is how one side of an in-memory handshake ended.
type PairState int

// Side states.
const (
	Running  PairState = iota // waiting for data that never came
	Finished                  // the handshake completed
	Failed                    // a libssl call failed (SSL_get_error in Error)
)

// HandshakeResult is what driving an in-memory handshake observed.
type HandshakeResult struct {
	Client, Server           PairState
	ClientError, ServerError int // SSL_get_error(3) of the failing call
	Rounds                   int // flights driven
	// Err describes a failure with the error queue of the failing calls.
	Err error
}

// ErrWouldBlock is returned by Pair.Write when the write cannot complete
// now (SSL_ERROR_WANT_WRITE): the side's writes are held; and by
// Pair.CloseNotify while the peer's close_notify has not come
// (SSL_ERROR_WANT_READ).
var ErrWouldBlock = errors.New("ossl: the call would block (SSL_ERROR_WANT_WRITE or SSL_ERROR_WANT_READ)")

// Pair is a live in-memory connection between a client and a server SSL
// object of package ossl, joined by a BIO pair (BIO_new_bio_pair(3)).
type Pair interface {
	// Handshake drives both sides until each has finished or failed.
	Handshake() HandshakeResult
	// Step makes one SSL_do_handshake call on one side.
	Step(client bool) (PairState, error)
	// Read reads up to max bytes on one side (SSL_read_ex), processing
	// what came first (TLS 1.3 tickets, alerts): nil, nil when nothing is
	// left to read; io.EOF after the peer's close_notify.
	Read(client bool, max int) ([]byte, error)
	// Write writes b on one side (SSL_write_ex; b may be empty);
	// ErrWouldBlock while the side's writes are held.
	Write(client bool, b []byte) (int, error)
	// WriteEarlyData writes b as early data on the client
	// (SSL_write_early_data), before the handshake.
	WriteEarlyData(b []byte) (int, error)
	// ReadEarlyData reads up to max bytes of early data on the server
	// (SSL_read_early_data): data; nil, false, nil while more may come;
	// nil, true, nil at SSL_READ_EARLY_DATA_FINISH.
	ReadEarlyData(max int) ([]byte, bool, error)
	// HoldWrites makes every write of one side ask to be retried (on),
	// as a full socket would, or lets them through again.
	HoldWrites(client bool, on bool) error
	// Shutdown runs a clean close_notify exchange started by one side.
	Shutdown(clientFirst bool) error
	// CloseNotify makes one SSL_shutdown call on one side: true once
	// both close_notify alerts are through; false, nil after sending this
	// side's; ErrWouldBlock while the peer's has not come.
	CloseNotify(client bool) (bool, error)
	// Timing is the time spent inside each side's libssl calls.
	Timing() (client, server time.Duration)
}

var (
	// NewPair joins client and server (*ossl.SSL values: new, or cleared
	// with SSL_clear) with a new BIO pair.
	NewPair func(client, server any) (Pair, error)
	// CallbackCrossingCost is the mean cost of one call from C into an
	// exported Go function over n calls.
	CallbackCrossingCost func(n int) time.Duration
	// LiveOpenSSLAllocations is the number of heap blocks libcrypto and
	// libssl hold; false unless built with -tags ossl_memdebug.
	LiveOpenSSLAllocations func() (int64, bool)
	// CtxPointer is the SSL_CTX* of an *ossl.Ctx (nil once closed), for
	// tests that need a real one to hand to code that wraps pointers.
	CtxPointer func(ctx any) unsafe.Pointer
	// SessionPointer is the SSL_SESSION* of an *ossl.Session (nil once
	// closed), for tests that tell objects apart.
	SessionPointer func(sess any) unsafe.Pointer
)

// Foreign plays C code outside this module (another cgo binding, say),
// for tests of what such code may do to objects it shares with package
// ossl: tests cannot use cgo.
var Foreign struct {
	// NewServerCtx makes an SSL_CTX (SSL_CTX_new) that the caller owns.
	NewServerCtx func() unsafe.Pointer
	// FreeCtx drops one reference to an SSL_CTX (SSL_CTX_free).
	FreeCtx func(p unsafe.Pointer)
	// DupSSL copies the SSL object of an *ossl.SSL (SSL_dup) and returns
	// the function that frees the copy.
	DupSSL func(ssl any) (free func(), err error)
}
