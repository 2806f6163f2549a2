// Package ossl binds the system libssl's TLS session cache through cgo: the
// cache mode of SSL_CTX_set_session_cache_mode(3), the rest of the session
// cache surface (id context, size, timeout, flushing, statistics), sessions as
// Go values, and libssl's new/get/remove session callbacks bridged to Go
// stores.
//
// Everything here calls the real libssl linked through pkg-config (libssl,
// libcrypto); OpenSSL 1.1.1 and 3.x are supported.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_session_cache_mode/.
package ossl

/*
#cgo pkg-config: libssl libcrypto
#cgo CFLAGS: -Wall -Wno-deprecated-declarations
#include "shim.h"
*/
import "C"
