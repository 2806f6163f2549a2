package ossltest

import "github.com/osslcache/osslcache/ossl"

// Variant is one of the protocol setups of the conformance claims: a
// pinned TLS version, and whether the server sets SSL_OP_NO_TICKET (TLS 1.2
// then resumes by session ID, TLS 1.3 issues stateful tickets kept in the
// session cache).
type Variant struct {
	Name     string
	Version  ossl.Version
	NoTicket bool
}

// The four variants, by the names the conformance report uses.
var (
	TLS12         = Variant{"tls12", ossl.VersionTLS12, true}
	TLS12Tickets  = Variant{"tls12-tickets", ossl.VersionTLS12, false}
	TLS13         = Variant{"tls13", ossl.VersionTLS13, false}
	TLS13Stateful = Variant{"tls13-stateful", ossl.VersionTLS13, true}
)

// Variants returns the four variants in report order.
func Variants() []Variant { return []Variant{TLS12, TLS12Tickets, TLS13, TLS13Stateful} }
