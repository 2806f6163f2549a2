package ossl

/*
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
)

// HeaderVersion is OPENSSL_VERSION_TEXT of the headers this package was
// compiled against.
const HeaderVersion = C.OPENSSL_VERSION_TEXT

// OpenSSLVersion returns the version text of the libssl linked at run time
// (OpenSSL_version(OPENSSL_VERSION)), e.g. "OpenSSL 3.0.19 27 Jan 2026".
//
// See https://docs.openssl.org/master/man3/OpenSSL_version/.
func OpenSSLVersion() string {
	return C.GoString(C.OpenSSL_version(C.OPENSSL_VERSION))
}

// OpenSSLVersionNumber returns OpenSSL_version_num() of the linked library.
func OpenSSLVersionNumber() uint64 { return uint64(C.OpenSSL_version_num()) }

// ReleaseLine returns the linked library's major.minor release line, e.g.
// "3.0" or "1.1".
func ReleaseLine() string {
	n := OpenSSLVersionNumber()
	return fmt.Sprintf("%d.%d", n>>28, (n>>20)&0xff)
}

// unsupported is the error of a call the release line this package was
// built against lacks: it names the call and the first line that has it,
// and wraps errors.ErrUnsupported.
func unsupported(call, since string) error {
	return fmt.Errorf("ossl: %s needs OpenSSL %s or later, and this package was built against %s: %w",
		call, since, HeaderVersion, errors.ErrUnsupported)
}
