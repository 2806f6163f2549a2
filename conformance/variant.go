package conformance

import (
	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
)

// Variant is one protocol setup a claim is checked under (the harness's).
type Variant = ossltest.Variant

// The variants of claims.md, in report order. AnyVariant marks claims about
// the API alone (no handshake), reported once.
var (
	TLS12         = ossltest.TLS12
	TLS12Tickets  = ossltest.TLS12Tickets
	TLS13         = ossltest.TLS13
	TLS13Stateful = ossltest.TLS13Stateful
	AnyVariant    = Variant{Name: "any"}
)

// Variants returns the protocol variants in report order.
func Variants() []Variant { return ossltest.Variants() }

var (
	allVariants = Variants()
	tls13Only   = []Variant{TLS13, TLS13Stateful}
	apiOnly     = []Variant{AnyVariant}
)

// isTLS13 reports whether the variant negotiates TLS 1.3.
func isTLS13(v Variant) bool { return v.Version == ossl.VersionTLS13 }
