package osslhttp_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
	"github.com/osslcache/osslcache/osslhttp"
	"github.com/osslcache/osslcache/store"
)

// A server on libssl whose sessions live in a Go store, and a client on
// libssl whose sessions live in a client cache: the second request, on a
// new connection, resumes.
func ExampleNewServer() {
	cert, err := ossltest.NewCertificate("localhost")
	if err != nil {
		log.Fatal(err)
	}

	// The server: a context, a store, an http.Server, an osslhttp.Server.
	server, err := ossl.NewCtx(ossl.Config{Role: ossl.RoleServer, MinVersion: ossl.VersionTLS12})
	if err != nil {
		log.Fatal(err)
	}
	defer server.Close()
	if err := server.LoadCertificatePEM(cert.CertPEM, cert.KeyPEM); err != nil {
		log.Fatal(err)
	}
	if err := server.SetSessionIDContext([]byte("example")); err != nil {
		log.Fatal(err)
	}
	sessions := store.NewMemory(store.MemoryOptions{})
	defer sessions.Close()
	if _, err := server.SetSessionCacheMode(ossl.CacheServer | ossl.CacheNoInternal); err != nil {
		log.Fatal(err)
	}
	if err := server.SetSessionStore(ossl.StoreConfig{Store: sessions}); err != nil {
		log.Fatal(err)
	}
	hs := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			st, _ := osslhttp.ConnectionState(r)
			fmt.Fprintf(w, "proto=%s alpn=%s resumed=%v version=%v", r.Proto, st.NegotiatedProtocol, st.DidResume, st.Version)
		}),
		ReadHeaderTimeout: osslhttp.DefaultHandshakeTimeout,
	}
	srv, err := osslhttp.NewServer(server, hs, osslhttp.Options{})
	if err != nil {
		log.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	defer srv.Shutdown(context.Background())

	// The client: a verifying context with a session cache, a Transport.
	client, err := ossl.NewCtx(ossl.Config{Role: ossl.RoleClient})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	if err := client.AddTrustedCertificatePEM(cert.CertPEM); err != nil {
		log.Fatal(err)
	}
	if err := client.SetVerify(ossl.VerifyPeer); err != nil {
		log.Fatal(err)
	}
	if _, err := client.SetSessionCacheMode(ossl.CacheClient); err != nil {
		log.Fatal(err)
	}
	if err := client.SetClientSessionCache(ossl.ClientCacheConfig{Cache: store.NewClientLRU(store.ClientLRUOptions{})}); err != nil {
		log.Fatal(err)
	}
	tr, err := osslhttp.NewTransport(&osslhttp.Dialer{Ctx: client}, osslhttp.TransportOptions{DisableKeepAlives: true})
	if err != nil {
		log.Fatal(err)
	}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}

	_, port, _ := net.SplitHostPort(l.Addr().String())
	for range 2 {
		resp, err := hc.Get("https://localhost:" + port + "/")
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(string(body))
	}
	// Output:
	// proto=HTTP/2.0 alpn=h2 resumed=false version=TLSv1.3
	// proto=HTTP/2.0 alpn=h2 resumed=true version=TLSv1.3
}
