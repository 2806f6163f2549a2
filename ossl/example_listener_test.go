package ossl_test

import (
	"fmt"
	"io"
	"log"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
)

// A server selecting from its ALPN list, listening with Listen; a client
// offering two protocols. Accept hands back the connection before its
// handshake, which runs on the serving goroutine's first Read.
func ExampleListen() {
	cert, err := ossltest.NewCertificate("localhost")
	if err != nil {
		log.Fatal(err)
	}
	server, err := ossltest.NewServerCtx(cert, ossltest.ServerOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer server.Close()
	if err := server.SetNextProtos([]string{"h2", "http/1.1"}, ossl.ALPNStrict); err != nil {
		log.Fatal(err)
	}
	l, err := ossl.Listen("tcp", "127.0.0.1:0", server)
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.Copy(c, c) // the handshake runs on the first Read
	}()

	client, err := ossltest.NewClientCtx(cert, ossltest.ClientOptions{VerifyServer: true})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	c, err := ossltest.Dial(l.Addr().String(), client, ossl.ClientConfig{ServerName: "localhost", NextProtos: []string{"http/1.1", "h2"}})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	st := c.ConnectionState()
	fmt.Println(st.Version, st.NegotiatedProtocol)
	// Output: TLSv1.3 h2
}
