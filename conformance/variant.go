package conformance

import "github.com/osslcache/osslcache/ossl"

// Variant is one protocol setup a claim is checked under.
type Variant struct {
	Name    string
	Version ossl.Version
	// NoTicket sets SSL_OP_NO_TICKET on the server: TLS 1.2 resumes by
	// session ID, TLS 1.3 issues stateful tickets kept in the cache.
	NoTicket bool
}

// The variants of claims.md, in report order. AnyVariant marks claims about
// the API alone (no handshake), reported once.
var (
	TLS12         = Variant{"tls12", ossl.VersionTLS12, true}
	TLS12Tickets  = Variant{"tls12-tickets", ossl.VersionTLS12, false}
	TLS13         = Variant{"tls13", ossl.VersionTLS13, false}
	TLS13Stateful = Variant{"tls13-stateful", ossl.VersionTLS13, true}
	AnyVariant    = Variant{Name: "any"}
)

// Variants returns the protocol variants in report order.
func Variants() []Variant { return []Variant{TLS12, TLS12Tickets, TLS13, TLS13Stateful} }

var (
	allVariants = Variants()
	tls13Only   = []Variant{TLS13, TLS13Stateful}
	apiOnly     = []Variant{AnyVariant}
)

// isTLS13 reports whether the variant negotiates TLS 1.3.
func (v Variant) isTLS13() bool { return v.Version == ossl.VersionTLS13 }
