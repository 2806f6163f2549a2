// Package ossltest runs real libssl handshakes for tests, in the spirit of
// net/http/httptest:
//
//   - NewCertificate makes a throwaway certificate; NewServerCtx and
//     NewClientCtx make contexts for it, per protocol Variant.
//   - Handshake runs one whole connection in memory (a BIO pair, one
//     thread): handshake, TLS 1.3 tickets, clean close_notify, and says
//     what each side did.
//   - Pair is such a connection kept open, driven step by step, for
//     scenarios such as OpenSSL's own test/sslapitest.c writes: offering a
//     session on an open connection, a second handshake, a shutdown order
//     (CloseNotify), an SSL object cleared and joined again (Join).
//   - NewServer serves a context on a loopback socket, with Dial for
//     clients and Close, as httptest.NewServer does.
//   - SessionRecorder, Offering, WriteTicketKeys and NewTicketKey test
//     stateless ticket keys with crypto/tls clients: which key sealed a
//     ticket, and whether an old ticket still resumes.
//
// It has no dependency on package testing, so programs may use it too.
package ossltest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"time"

	"github.com/osslcache/osslcache/ossl"
)

// Certificate is a self-signed ECDSA P-256 certificate, valid for server and
// client authentication, that also serves as its own trust anchor.
type Certificate struct {
	CertPEM, KeyPEM []byte
	Leaf            *x509.Certificate
}

// NewCertificate makes a throwaway certificate for the given DNS names
// ("localhost" if none), valid from an hour ago for a day.
func NewCertificate(dnsNames ...string) (*Certificate, error) {
	if len(dnsNames) == 0 {
		dnsNames = []string{"localhost"}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: dnsNames[0], Organization: []string{"osslcache test"}},
		DNSNames:              dnsNames,
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &Certificate{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
		Leaf:    leaf,
	}, nil
}

// ServerOptions configures NewServerCtx.
type ServerOptions struct {
	// Version pins the protocol (min = max); 0 allows TLS 1.2 and 1.3.
	Version ossl.Version
	// NoTicket sets SSL_OP_NO_TICKET: TLS 1.2 resumes by session ID,
	// TLS 1.3 issues stateful tickets.
	NoTicket bool
	// SessionIDContext is set when not nil.
	SessionIDContext []byte
	// VerifyClient requires and verifies a client certificate.
	VerifyClient bool
}

// ClientOptions configures NewClientCtx.
type ClientOptions struct {
	Version ossl.Version
	// PresentCertificate loads the certificate as a client certificate.
	PresentCertificate bool
	// VerifyServer verifies the server's certificate against cert.
	VerifyServer bool
}

func bounds(v ossl.Version) (ossl.Version, ossl.Version) {
	if v == 0 {
		return ossl.VersionTLS12, ossl.VersionTLS13
	}
	return v, v
}

// NewServerCtx makes a server context serving cert.
func NewServerCtx(cert *Certificate, o ServerOptions) (*ossl.Ctx, error) {
	lo, hi := bounds(o.Version)
	ctx, err := ossl.NewCtx(ossl.Config{Role: ossl.RoleServer, MinVersion: lo, MaxVersion: hi})
	if err != nil {
		return nil, err
	}
	err = ctx.LoadCertificatePEM(cert.CertPEM, cert.KeyPEM)
	if err == nil && o.NoTicket {
		_, err = ctx.SetOptions(ossl.OptionNoTicket)
	}
	if err == nil && o.SessionIDContext != nil {
		err = ctx.SetSessionIDContext(o.SessionIDContext)
	}
	if err == nil && o.VerifyClient {
		if err = ctx.AddTrustedCertificatePEM(cert.CertPEM); err == nil {
			err = ctx.SetVerify(ossl.VerifyRequirePeerCert)
		}
	}
	if err != nil {
		ctx.Close()
		return nil, err
	}
	return ctx, nil
}

// NewClientCtx makes a client context for servers of cert.
func NewClientCtx(cert *Certificate, o ClientOptions) (*ossl.Ctx, error) {
	lo, hi := bounds(o.Version)
	ctx, err := ossl.NewCtx(ossl.Config{Role: ossl.RoleClient, MinVersion: lo, MaxVersion: hi})
	if err != nil {
		return nil, err
	}
	if o.PresentCertificate {
		err = ctx.LoadCertificatePEM(cert.CertPEM, cert.KeyPEM)
	}
	if err == nil && o.VerifyServer {
		if err = ctx.AddTrustedCertificatePEM(cert.CertPEM); err == nil {
			err = ctx.SetVerify(ossl.VerifyPeer)
		}
	}
	if err != nil {
		ctx.Close()
		return nil, err
	}
	return ctx, nil
}
