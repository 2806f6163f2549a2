package ossl

/*
#include "shim.h"
*/
import "C"

import "unsafe"

// ALPN limits of RFC 7301: a protocol name is 1 to 255 bytes, and the
// encoded list (each name after its one-byte length) at most 65535.
const (
	MaxALPNProtocolLength = 255
	maxALPNWireLength     = 1<<16 - 1
)

// ALPNMismatch says what a server does when a client offers ALPN protocols
// and none of them is in the server's list.
type ALPNMismatch int

const (
	// ALPNFallback completes the handshake without ALPN: the selection
	// callback answers SSL_TLSEXT_ERR_NOACK, and NegotiatedProtocol is ""
	// on both sides (the client decides whether that will do).
	ALPNFallback ALPNMismatch = iota
	// ALPNStrict fails the handshake with a no_application_protocol alert
	// (SSL_TLSEXT_ERR_ALERT_FATAL), as crypto/tls servers do.
	ALPNStrict
)

// String returns "fallback" or "strict".
func (m ALPNMismatch) String() string {
	if m == ALPNStrict {
		return "strict"
	}
	return "fallback"
}

// encodeALPN checks a protocol list and encodes it in wire format: each
// name after its one-byte length, in order. An empty list encodes to nil.
func encodeALPN(op string, protos []string) ([]byte, error) {
	var wire []byte
	for i, p := range protos {
		switch {
		case p == "":
			return nil, errorf(op, "ALPN protocol %d of %q is empty (RFC 7301: names are 1 to %d bytes)", i, protos, MaxALPNProtocolLength)
		case len(p) > MaxALPNProtocolLength:
			return nil, errorf(op, "ALPN protocol %d is %d bytes (%.16q...); the limit is %d (RFC 7301)", i, len(p), p, MaxALPNProtocolLength)
		}
		wire = append(wire, byte(len(p)))
		wire = append(wire, p...)
		if len(wire) > maxALPNWireLength {
			return nil, errorf(op, "ALPN protocol list of %d names is over %d bytes encoded (RFC 7301)", len(protos), maxALPNWireLength)
		}
	}
	return wire, nil
}

func decodeALPN(wire []byte) []string {
	var out []string
	for len(wire) > 0 {
		n := int(wire[0])
		if 1+n > len(wire) {
			break
		}
		out = append(out, string(wire[1:1+n]))
		wire = wire[1+n:]
	}
	return out
}

// SetNextProtos sets the application protocols a server context selects
// from with ALPN (RFC 7301), in preference order, as
// crypto/tls.Config.NextProtos does on a server: the first protocol of
// protos that the client offered is selected, and ConnectionState's
// NegotiatedProtocol reports it on both sides. It installs a selection
// callback with SSL_CTX_set_alpn_select_cb(3); the list is kept in C
// memory in the context's ex_data, read by the callback without calling
// Go, and freed with the context.
//
// When the client offers protocols and none is in protos, mismatch
// decides: ALPNFallback goes on without ALPN, ALPNStrict fails the
// handshake with a no_application_protocol alert. A client that offers
// none gets none, either way. An empty protos turns selection off (the
// callback then acts as if it were not installed).
//
// Names must be 1 to 255 bytes (MaxALPNProtocolLength); a bad list is
// refused with an *Error and changes nothing. SetNextProtos may be called
// while connections are served: each handshake reads the list of the
// moment.
//
// libssl selects on every handshake, resumed ones included, so a resumed
// session may be given another protocol than the connection that made it
// (OpenSSL then only refuses TLS 1.3 early data, which this package does
// not use). After a server-name callback switched a connection to another
// context, libssl calls that context's callback: its list applies (none,
// if it has none).
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_alpn_select_cb/.
func (c *Ctx) SetNextProtos(protos []string, mismatch ALPNMismatch) error {
	const op = "SSL_CTX_set_alpn_select_cb"
	if mismatch != ALPNFallback && mismatch != ALPNStrict {
		return errorf(op, "unknown ALPNMismatch %d", int(mismatch))
	}
	wire, err := encodeALPN(op, protos)
	if err != nil {
		return err
	}
	return c.do(op, func(p *C.SSL_CTX) bool {
		return C.go_ctx_set_alpn(p, cBytes(wire), C.size_t(len(wire)), b2i(mismatch == ALPNStrict)) == 1
	})
}

// NextProtos returns the protocols SetNextProtos set on this SSL_CTX (nil
// for none, and after Close) and what a mismatch does.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_alpn_select_cb/.
func (c *Ctx) NextProtos() ([]string, ALPNMismatch) {
	var out []string
	mismatch := ALPNFallback
	c.get(func(p *C.SSL_CTX) {
		buf := make([]byte, maxALPNWireLength)
		var strict C.int
		n := int(C.go_ctx_get_alpn(p, (*C.uchar)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)), &strict))
		if n > 0 {
			out = decodeALPN(buf[:n])
		}
		if strict != 0 {
			mismatch = ALPNStrict
		}
	})
	return out, mismatch
}

// setClientALPN sets the protocols a client connection offers
// (SSL_set_alpn_protos(3)); the caller holds the connection.
func setClientALPN(p *C.SSL, protos []string) error {
	const op = "SSL_set_alpn_protos"
	wire, err := encodeALPN(op, protos)
	if err != nil {
		return err
	}
	if len(wire) == 0 {
		return nil
	}
	return onThread(op, func() bool { return C.go_ssl_set_alpn(p, cBytes(wire), C.size_t(len(wire))) == 1 })
}
