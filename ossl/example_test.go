package ossl_test

import (
	"fmt"
	"log"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
	"github.com/osslcache/osslcache/store"
)

func ExampleCtx_SetSessionCacheMode() {
	ctx, err := ossl.NewCtx(ossl.Config{Role: ossl.RoleServer, MinVersion: ossl.VersionTLS12})
	if err != nil {
		log.Fatal(err)
	}
	defer ctx.Close()
	prev, err := ctx.SetSessionCacheMode(ossl.CacheServer | ossl.CacheNoInternalStore)
	if err != nil {
		log.Fatal(err)
	}
	cur := ctx.SessionCacheMode()
	fmt.Println("previous:", prev)
	fmt.Println("current: ", cur)
	// Output:
	// previous: SERVER
	// current:  SERVER|NO_INTERNAL_STORE
}

func ExampleParseCacheMode() {
	m, err := ossl.ParseCacheMode("ssl_sess_cache_server|NO_INTERNAL")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%v = %#x\n", m, int64(m))
	// Output: SERVER|NO_INTERNAL = 0x302
}

// A server keeps its sessions in a Go store only, and a client resumes.
func ExampleCtx_SetSessionStore() {
	cert, err := ossltest.NewCertificate()
	if err != nil {
		log.Fatal(err)
	}
	server, err := ossltest.NewServerCtx(cert, ossltest.ServerOptions{Version: ossl.VersionTLS12, NoTicket: true, SessionIDContext: []byte("my-service")})
	if err != nil {
		log.Fatal(err)
	}
	defer server.Close()
	if _, err := server.SetSessionCacheMode(ossl.CacheServer | ossl.CacheNoInternal); err != nil {
		log.Fatal(err)
	}
	sessions := store.NewMemory(store.MemoryOptions{Capacity: 10000})
	if err := server.SetSessionStore(ossl.StoreConfig{Store: sessions}); err != nil {
		log.Fatal(err)
	}
	client, err := ossltest.NewClientCtx(cert, ossltest.ClientOptions{Version: ossl.VersionTLS12, VerifyServer: true})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	full, err := ossltest.Handshake(client, server, ossltest.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer full.Close()
	again, err := ossltest.Handshake(client, server, ossltest.Options{Session: full.ClientSession})
	if err != nil {
		log.Fatal(err)
	}
	defer again.Close()
	st := server.CallbackStats()
	fmt.Println("stored:", st.Stored, "hits:", st.GetHits, "resumed:", again.ServerReused)
	// Output: stored: 1 hits: 1 resumed: true
}

// A client keeps one session per server in a Go cache.
func ExampleCtx_SetClientSessionCache() {
	cert, _ := ossltest.NewCertificate()
	server, _ := ossltest.NewServerCtx(cert, ossltest.ServerOptions{Version: ossl.VersionTLS13})
	defer server.Close()
	client, _ := ossltest.NewClientCtx(cert, ossltest.ClientOptions{Version: ossl.VersionTLS13})
	defer client.Close()
	if _, err := client.SetSessionCacheMode(ossl.CacheClient | ossl.CacheNoInternalStore); err != nil {
		log.Fatal(err)
	}
	if err := client.SetClientSessionCache(ossl.ClientCacheConfig{Cache: store.NewClientLRU(store.ClientLRUOptions{Capacity: 64})}); err != nil {
		log.Fatal(err)
	}
	key := ossl.ClientSessionKey("localhost", 443)
	for i := 0; i < 2; i++ {
		r, err := ossltest.Handshake(client, server, ossltest.Options{CacheKey: key})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("offered:", r.Offered, "resumed:", r.ClientReused)
		r.Close()
	}
	// Output:
	// offered: false resumed: false
	// offered: true resumed: true
}
