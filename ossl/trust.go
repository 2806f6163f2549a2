package ossl

/*
#include "shim.h"
*/
import "C"

// LoadSystemTrust adds the system's trust anchors to the store that
// verifies peers, with SSL_CTX_set_default_verify_paths(3): the default
// certificate file and directory of the linked OpenSSL, or those named by
// the SSL_CERT_FILE and SSL_CERT_DIR environment variables. A client that
// talks to servers on the Internet needs it (with SetVerify(VerifyPeer)).
//
// See https://docs.openssl.org/master/man3/SSL_CTX_load_verify_locations/.
func (c *Ctx) LoadSystemTrust() error {
	return c.configure("SSL_CTX_set_default_verify_paths", func(p *C.SSL_CTX) bool {
		return C.SSL_CTX_set_default_verify_paths(p) == 1
	})
}

// VerifyMode returns the context's peer verification
// (SSL_CTX_get_verify_mode(3)); VerifyNone after Close.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_get_verify_mode/.
func (c *Ctx) VerifyMode() VerifyMode {
	var m VerifyMode
	c.get(func(p *C.SSL_CTX) { m = VerifyMode(C.SSL_CTX_get_verify_mode(p)) })
	return m
}
