package proxy

/*
#cgo pkg-config: libssl libcrypto
#cgo CFLAGS: -Wall -Wno-deprecated-declarations
#include <stdlib.h>
#include <openssl/ssl.h>

static long proxy_set_ticket_keys(void *ctx, void *keys, long n) {
	return SSL_CTX_set_tlsext_ticket_keys((SSL_CTX *)ctx, keys, n);
}
*/
import "C"

import (
	"encoding/base64"
	"fmt"
	"os"
	"strings"

	"github.com/osslcache/osslcache/ossl"
)

// TicketKeySize is the size of the key material of
// SSL_CTX_set_tlsext_ticket_keys(3): a 16-byte key name, a 32-byte HMAC
// key and a 32-byte AES key.
const TicketKeySize = 80

// ReadTicketKeyFile reads ticket key material: TicketKeySize raw bytes, or
// their base64 (standard or URL alphabet, padded or not).
func ReadTicketKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) == TicketKeySize {
		return b, nil
	}
	s := strings.TrimSpace(string(b))
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == TicketKeySize {
			return k, nil
		}
	}
	return nil, fmt.Errorf("%s: want %d bytes of ticket key material, raw or base64", path, TicketKeySize)
}

// setTicketKeys installs shared ticket keys, so that every server holding
// them decrypts the stateless tickets (TLS 1.2 tickets, TLS 1.3 tickets
// without SSL_OP_NO_TICKET) the others issued.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_tlsext_ticket_key_cb/.
func setTicketKeys(ctx *ossl.Ctx, keys []byte) error {
	if len(keys) != TicketKeySize {
		return fmt.Errorf("ticket keys: %d bytes, want %d", len(keys), TicketKeySize)
	}
	p := ctx.Ptr()
	if p == nil {
		return ossl.ErrClosed
	}
	buf := C.CBytes(keys)
	defer C.free(buf)
	if C.proxy_set_ticket_keys(p, buf, C.long(len(keys))) != 1 {
		return fmt.Errorf("SSL_CTX_set_tlsext_ticket_keys failed")
	}
	return nil
}
