package main

import (
	"fmt"
	"io"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
)

func runDemo(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("demo", "", stderr)
	mode := ossl.CacheServer
	fs.Var(&mode, "cache-mode", "server cache mode, e.g. SERVER or SERVER|NO_AUTO_CLEAR")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if err := demo(stdout, mode); err != nil {
		fmt.Fprintln(stderr, "osslcache demo:", err)
		return 1
	}
	return 0
}

func demo(w io.Writer, mode ossl.CacheMode) error {
	fmt.Fprintf(w, "linked:   %s (release line %s)\n", ossl.OpenSSLVersion(), ossl.ReleaseLine())
	fmt.Fprintf(w, "headers:  %s\n", ossl.HeaderVersion)
	cert, err := ossltest.NewCertificate()
	if err != nil {
		return err
	}
	for _, v := range []struct {
		name string
		ossltest.Variant
	}{
		{"TLS 1.2, session IDs", ossltest.TLS12},
		{"TLS 1.3, stateful tickets", ossltest.TLS13Stateful},
		{"TLS 1.3, stateless tickets", ossltest.TLS13},
	} {
		so := v.ServerOptions()
		so.SessionIDContext = []byte("demo")
		server, err := ossltest.NewServerCtx(cert, so)
		if err != nil {
			return err
		}
		defer server.Close()
		if _, err := server.SetSessionCacheMode(mode); err != nil {
			return err
		}
		co := v.ClientOptions()
		co.VerifyServer = true
		client, err := ossltest.NewClientCtx(cert, co)
		if err != nil {
			return err
		}
		defer client.Close()
		full, err := ossltest.Handshake(client, server, ossltest.Options{})
		if err != nil {
			return err
		}
		res, err := ossltest.Handshake(client, server, ossltest.Options{Session: full.ClientSession})
		full.Close()
		if err != nil {
			return err
		}
		res.Close()
		st := server.Stats()
		fmt.Fprintf(w, "%-27s mode %-6s full handshake, then resumed=%-5v (server: %d cached, %d hits, %d misses)\n",
			v.name+":", mode, res.ServerReused, st.Sessions, st.Hits, st.Misses)
	}
	return nil
}
