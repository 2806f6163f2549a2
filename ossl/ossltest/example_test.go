package ossltest_test

import (
	"crypto/tls"
	"fmt"
	"net"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
)

// A server whose connections libssl serves (echoing, the default handler),
// an ossl client and a crypto/tls client, each running one whole exchange.
func ExampleNewServer() {
	cert, err := ossltest.NewCertificate("localhost")
	if err != nil {
		panic(err)
	}
	server, err := ossltest.NewServerCtx(cert, ossltest.TLS13.ServerOptions())
	if err != nil {
		panic(err)
	}
	defer server.Close()
	srv := ossltest.NewServer(server, nil)
	defer srv.Close()

	o := ossltest.TLS13.ClientOptions()
	o.VerifyServer = true
	client, err := ossltest.NewClientCtx(cert, o)
	if err != nil {
		panic(err)
	}
	defer client.Close()
	c, err := srv.Dial(client, ossl.ClientConfig{ServerName: "localhost"})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	fmt.Println("ossl:", c.ConnectionState().Version, ossltest.Exchange(c, "hello"))

	g, err := tls.DialWithDialer(&net.Dialer{Timeout: ossltest.DefaultConnTimeout}, "tcp", srv.Addr, cert.GoClientConfig(ossl.VersionTLS13))
	if err != nil {
		panic(err)
	}
	defer g.Close()
	fmt.Println("crypto/tls:", g.ConnectionState().Version == tls.VersionTLS13, ossltest.Exchange(g, "hello"))
	// Output:
	// ossl: TLSv1.3 <nil>
	// crypto/tls: true <nil>
}
