// Package ossltest runs real libssl handshakes in memory, in the spirit of
// net/http/httptest: a throwaway certificate, client and server contexts,
// and one call that joins a client and a server SSL with a BIO pair, runs a
// full TLS 1.2 or TLS 1.3 handshake (offering a session if asked), reads the
// TLS 1.3 tickets, shuts both sides down cleanly and says whether each side
// resumed.
package ossltest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
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
		err = ctx.SetNoTicket(true)
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

// Options are the per-handshake choices of Handshake.
type Options struct {
	// ServerName is sent as SNI when not empty.
	ServerName string
	// Session is offered for resumption with SSL_set_session.
	Session *ossl.Session
	// CacheKey ties the client connection to the client context's
	// ClientSessionCache (Conn.UseClientSessionCache); it may offer a
	// session in place of Session.
	CacheKey string
}

// Result is what one Handshake observed.
type Result struct {
	ClientReused, ServerReused bool
	// Offered reports whether the client offered a session.
	Offered bool
	Version ossl.Version
	// ServerName is the SNI name the server saw.
	ServerName string
	// ClientSession is the client's session after the tickets were read
	// (on TLS 1.3, the last ticket's); ServerSession is the server's.
	// Both are references the caller closes (Result.Close closes both).
	ClientSession, ServerSession *ossl.Session
	// ServerCtxSwitched reports that an SNI callback moved the server
	// connection to another context.
	ServerCtxSwitched bool
	Timing            ossl.PairTiming
}

// Close releases the result's sessions.
func (r *Result) Close() {
	if r == nil {
		return
	}
	r.ClientSession.Close()
	r.ServerSession.Close()
}

// Handshake runs one complete connection between a client and a server
// context in memory. An error means the handshake itself failed; a
// resumption that falls back to a full handshake is not an error.
func Handshake(client, server *ossl.Ctx, o Options) (*Result, error) {
	cc, err := client.NewConn()
	if err != nil {
		return nil, err
	}
	defer cc.Close()
	sc, err := server.NewConn()
	if err != nil {
		return nil, err
	}
	defer sc.Close()
	res := &Result{}
	if o.ServerName != "" {
		if err := cc.SetServerName(o.ServerName); err != nil {
			return nil, err
		}
	}
	if o.CacheKey != "" {
		if res.Offered, err = cc.UseClientSessionCache(o.CacheKey); err != nil {
			return nil, err
		}
	}
	if o.Session != nil {
		if err := cc.SetSession(o.Session); err != nil {
			return nil, err
		}
		res.Offered = true
	}
	res.Timing, err = ossl.RunInMemory(cc, sc)
	if err != nil {
		return nil, fmt.Errorf("ossltest: %w", err)
	}
	res.ClientReused = cc.SessionReused()
	res.ServerReused = sc.SessionReused()
	res.Version = cc.Version()
	res.ServerName = sc.ServerName()
	res.ServerCtxSwitched = sc.CtxPtr() != sc.SessionCtxPtr()
	res.ClientSession = cc.Session()
	res.ServerSession = sc.Session()
	return res, nil
}
