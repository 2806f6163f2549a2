package proxy

import (
	"encoding/base64"
	"fmt"
	"os"
	"strings"

	"github.com/osslcache/osslcache/ossl"
)

// ReadTicketKeyFile reads stateless ticket keys (ossl.TicketKeySize bytes
// each: name, HMAC key, AES key, the layout of nginx's
// ssl_session_ticket_key files): one base64 line per key (standard or URL
// alphabet, padded or not; blank lines and lines starting with # are
// skipped), or the raw bytes of one or more keys. The first key seals new
// tickets, every key opens them, as nginx's repeated
// ssl_session_ticket_key and HAProxy's tls-ticket-keys do.
func ReadTicketKeyFile(path string) ([]ossl.TicketKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) > 0 && len(b)%ossl.TicketKeySize == 0 && !isText(b) {
		keys := make([]ossl.TicketKey, len(b)/ossl.TicketKeySize)
		for i := range keys {
			copy(keys[i][:], b[i*ossl.TicketKeySize:])
		}
		return keys, nil
	}
	var keys []ossl.TicketKey
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, ok := decodeTicketKey(line)
		if !ok {
			return nil, fmt.Errorf("%s:%d: want the base64 of %d bytes of ticket key", path, n+1, ossl.TicketKeySize)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: no ticket key (want one base64 line of %d bytes per key, the first sealing new tickets)", path, ossl.TicketKeySize)
	}
	return keys, nil
}

func decodeTicketKey(s string) (ossl.TicketKey, bool) {
	var k ossl.TicketKey
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == ossl.TicketKeySize {
			copy(k[:], b)
			return k, true
		}
	}
	return k, false
}

// isText reports whether b is printable ASCII lines (base64 text), not raw
// key bytes.
func isText(b []byte) bool {
	for _, c := range b {
		if (c < 0x20 || c > 0x7e) && c != '\n' && c != '\r' && c != '\t' {
			return false
		}
	}
	return true
}
