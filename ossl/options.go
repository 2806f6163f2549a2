package ossl

/*
#include "shim.h"

#ifndef SSL_OP_DISABLE_TLSEXT_CA_NAMES
#define SSL_OP_DISABLE_TLSEXT_CA_NAMES 0
#endif
#ifndef SSL_OP_NO_ANTI_REPLAY
#define SSL_OP_NO_ANTI_REPLAY 0
#endif
static uint64_t go_op(int i) {
	switch (i) {
	case 0: return (uint64_t)SSL_OP_NO_TICKET;
	case 1: return (uint64_t)SSL_OP_NO_ANTI_REPLAY;
	case 2: return (uint64_t)SSL_OP_DISABLE_TLSEXT_CA_NAMES;
	case 3: return (uint64_t)SSL_OP_NO_RENEGOTIATION;
	case 4: return (uint64_t)SSL_OP_CIPHER_SERVER_PREFERENCE;
	}
	return 0;
}
*/
import "C"

// Options are SSL_OP_* bits of SSL_CTX_set_options(3). The named ones are
// the linked headers' values; 0 where the headers lack the option (its
// setter then changes nothing, and Options does not report it). Any other
// bit may be passed as a number.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_options/.
type Options uint64

// Options that bear on sessions and tickets.
var (
	// OptionNoTicket (SSL_OP_NO_TICKET): a TLS 1.2 server resumes by
	// session ID only, a TLS 1.3 server issues stateful tickets kept in
	// its session cache.
	OptionNoTicket = Options(C.go_op(0))
	// OptionNoAntiReplay (SSL_OP_NO_ANTI_REPLAY): a TLS 1.3 server that
	// accepts early data does not keep tickets single-use.
	OptionNoAntiReplay = Options(C.go_op(1))
	// OptionDisableTLSExtCANames (SSL_OP_DISABLE_TLSEXT_CA_NAMES, OpenSSL
	// 3.0 and later): no certificate_authorities extension.
	OptionDisableTLSExtCANames = Options(C.go_op(2))
	// OptionNoRenegotiation (SSL_OP_NO_RENEGOTIATION).
	OptionNoRenegotiation = Options(C.go_op(3))
	// OptionCipherServerPreference (SSL_OP_CIPHER_SERVER_PREFERENCE).
	OptionCipherServerPreference = Options(C.go_op(4))
)

// SetOptions sets options with SSL_CTX_set_options(3) and returns the
// options in force after.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_options/.
func (c *Ctx) SetOptions(o Options) (Options, error) {
	var now Options
	err := c.do("SSL_CTX_set_options", func(p *C.SSL_CTX) bool {
		now = Options(C.go_ctx_set_options(p, C.uint64_t(o)))
		return true
	})
	return now, err
}

// ClearOptions clears options with SSL_CTX_clear_options(3) and returns
// the options in force after.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_options/.
func (c *Ctx) ClearOptions(o Options) (Options, error) {
	var now Options
	err := c.do("SSL_CTX_clear_options", func(p *C.SSL_CTX) bool {
		now = Options(C.go_ctx_clear_options(p, C.uint64_t(o)))
		return true
	})
	return now, err
}

// Options returns the options in force (SSL_CTX_get_options(3)); 0 after
// Close.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_options/.
func (c *Ctx) Options() Options {
	var o Options
	c.get(func(p *C.SSL_CTX) { o = Options(C.go_ctx_get_options(p)) })
	return o
}
