package ossl_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
	"github.com/osslcache/osslcache/store"
)

// testDeadline bounds every socket operation of these tests, so that a bug
// fails a test instead of hanging it. No test measures time.
const testDeadline = 30 * time.Second

// serverResult is what one served connection reported.
type serverResult struct {
	reused  bool
	version ossl.Version
	sni     string
	err     error
}

// serveTLS serves ctx on a loopback port (ossltest.NewServer) and runs
// handle on each connection's ossl server side after its handshake.
// Results arrive on the returned channel, one per connection.
func serveTLS(t *testing.T, ctx *ossl.Ctx, handle func(*ossl.Conn) error) (string, <-chan serverResult) {
	t.Helper()
	results := make(chan serverResult, 16)
	srv := ossltest.NewServer(ctx, func(tc *ossl.Conn) {
		if err := tc.Handshake(); err != nil {
			results <- serverResult{err: err}
			return
		}
		st := tc.ConnectionState()
		res := serverResult{reused: st.DidResume, version: st.Version, sni: st.ServerName}
		if handle != nil {
			res.err = handle(tc)
		}
		results <- res
	})
	t.Cleanup(srv.Close)
	return srv.Addr, results
}

// echo copies what the client sends back to it until the client's EOF.
func echo(tc *ossl.Conn) error {
	_, err := io.Copy(tc, tc)
	return err
}

func tlsVersion(v ossl.Version) uint16 {
	if v == ossl.VersionTLS12 {
		return tls.VersionTLS12
	}
	return tls.VersionTLS13
}

func goClientConfig(t testing.TB, v ossl.Version, cache tls.ClientSessionCache) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(testCert(t).Leaf)
	return &tls.Config{
		RootCAs:            pool,
		ServerName:         "localhost",
		MinVersion:         tlsVersion(v),
		MaxVersion:         tlsVersion(v),
		ClientSessionCache: cache,
	}
}

func dialGo(t testing.TB, addr string, cfg *tls.Config) *tls.Conn {
	t.Helper()
	raw, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	require.NoError(t, raw.SetDeadline(time.Now().Add(testDeadline)))
	c := tls.Client(raw, cfg)
	require.NoError(t, c.Handshake())
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip sends msg and reads it back: on TLS 1.3 the client has then
// read the server's tickets too.
func roundTrip(t testing.TB, c io.ReadWriter, msg []byte) {
	t.Helper()
	_, err := c.Write(msg)
	require.NoError(t, err)
	got := make([]byte, len(msg))
	_, err = io.ReadFull(c, got)
	require.NoError(t, err)
	require.True(t, bytes.Equal(msg, got), "echo differs")
}

// forEachTransport runs f over each of Conn's transports: libssl reading
// and writing the socket itself, and a BIO pair that Conn pumps (as over
// any net.Conn but a *net.TCPConn), forced over the same sockets.
func forEachTransport(t *testing.T, f func(t *testing.T)) {
	for _, tr := range []struct {
		name string
		pair bool
	}{{"socket", false}, {"BIO pair", true}} {
		t.Run(tr.name, func(t *testing.T) {
			restore := ossl.UseBIOPair(tr.pair)
			defer restore()
			f(t)
		})
	}
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

func TestConnEchoWithCryptoTLSClient(t *testing.T) {
	forEachTransport(t, func(t *testing.T) {
		for _, v := range []variant{tls12, tls13} {
			t.Run(v.Name, func(t *testing.T) {
				addr, results := serveTLS(t, newServer(t, v), echo)
				c := dialGo(t, addr, goClientConfig(t, v.Version, nil))
				assert.Equal(t, tlsVersion(v.Version), c.ConnectionState().Version)
				for _, n := range []int{1, 100, 16 * 1024, 16*1024 + 1, 200 * 1024} {
					roundTrip(t, c, randomBytes(t, n))
				}
				require.NoError(t, c.CloseWrite(), "close_notify: the server's Read sees io.EOF")
				rest, err := io.ReadAll(c)
				require.NoError(t, err, "the server answers with its own close_notify")
				assert.Empty(t, rest)
				r := <-results
				require.NoError(t, r.err)
				assert.Equal(t, v.Version, r.version)
				assert.Equal(t, "localhost", r.sni)
				assert.False(t, r.reused)
			})
		}
	})
}

// TestConnResumesCryptoTLSClient resumes crypto/tls clients, which
// resume with tickets only, against ossl servers: stateless tickets, and
// TLS 1.3 stateful tickets kept in libssl's internal cache or in a Go store.
func TestConnResumesCryptoTLSClient(t *testing.T) {
	forEachTransport(t, func(t *testing.T) {
		tests := []struct {
			name  string
			v     variant
			mode  ossl.CacheMode
			store bool
		}{
			{"tls12 stateless tickets", tls12Tickets, ossl.CacheServer, false},
			{"tls13 stateless tickets", tls13, ossl.CacheServer, false},
			{"tls13 stateful, internal cache", tls13Stateful, ossl.CacheServer, false},
			{"tls13 stateful, store.Memory only", tls13Stateful, ossl.CacheServer | ossl.CacheNoInternal, true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				server := newServer(t, tt.v)
				_, err := server.SetSessionCacheMode(tt.mode)
				require.NoError(t, err)
				mem := store.NewMemory(store.MemoryOptions{})
				t.Cleanup(mem.Close)
				if tt.store {
					require.NoError(t, server.SetSessionStore(ossl.StoreConfig{Store: mem}))
				}
				addr, results := serveTLS(t, server, echo)
				cfg := goClientConfig(t, tt.v.Version, tls.NewLRUClientSessionCache(4))
				for i, wantReused := range []bool{false, true} {
					c := dialGo(t, addr, cfg)
					roundTrip(t, c, []byte("ping\n"))
					assert.Equal(t, wantReused, c.ConnectionState().DidResume, "connection %d", i)
					require.NoError(t, c.Close())
					r := <-results
					require.NoError(t, r.err)
					assert.Equal(t, wantReused, r.reused, "server side, connection %d", i)
				}
				st := server.Stats()
				assert.Equal(t, int64(2), st.AcceptGood)
				assert.Equal(t, int64(1), st.Hits)
				if tt.store {
					cs := server.CallbackStats()
					assert.Positive(t, cs.Stored, "the tickets' sessions went to the store")
					assert.Equal(t, int64(1), cs.GetHits, "the resumption came from the store")
					assert.Equal(t, int64(0), st.Sessions, "nothing in the internal cache")
				}
			})
		}
	})
}

// TestConnOsslClient runs ossl clients against ossl servers over real
// sockets: session-ID resumption (which crypto/tls cannot do) through a Go
// store on the server and a ClientSessionCache on the client, and TLS 1.3.
func TestConnOsslClient(t *testing.T) {
	forEachTransport(t, func(t *testing.T) {
		for _, v := range []variant{tls12, tls13Stateful} {
			t.Run(v.Name, func(t *testing.T) {
				server, _ := newMemoryServer(t, v, store.MemoryOptions{})
				addr, results := serveTLS(t, server, echo)

				client := newClient(t, v)
				_, err := client.SetSessionCacheMode(ossl.CacheClient | ossl.CacheNoInternalStore)
				require.NoError(t, err)
				require.NoError(t, client.SetClientSessionCache(ossl.ClientCacheConfig{Cache: store.NewClientLRU(store.ClientLRUOptions{Capacity: 4})}))
				for i, wantReused := range []bool{false, true} {
					raw, err := net.Dial("tcp", addr)
					require.NoError(t, err)
					require.NoError(t, raw.SetDeadline(time.Now().Add(testDeadline)))
					c, err := ossl.Client(raw, client, ossl.ClientConfig{ServerName: "localhost", CacheKey: addr})
					require.NoError(t, err)
					require.NoError(t, c.Handshake())
					st := c.ConnectionState()
					assert.Equal(t, v.Version, st.Version)
					assert.Equal(t, "localhost", st.ServerName)
					assert.Equal(t, wantReused, st.DidResume, "connection %d", i)
					if !wantReused {
						require.NotEmpty(t, st.PeerCertificates, "a full handshake shows the server's chain")
						assert.Equal(t, "localhost", st.PeerCertificates[0].Subject.CommonName)
					}
					assert.NotZero(t, st.CipherSuite)
					assert.NotEmpty(t, tls.CipherSuiteName(st.CipherSuite))
					roundTrip(t, c, []byte("ping\n"))
					require.NoError(t, c.CloseWrite())
					_, err = io.ReadAll(c)
					require.NoError(t, err)
					require.NoError(t, c.Close())
					assert.ErrorIs(t, c.Close(), net.ErrClosed)
					r := <-results
					require.NoError(t, r.err)
					assert.Equal(t, wantReused, r.reused)
				}
				assert.Equal(t, int64(1), server.CallbackStats().GetHits)
			})
		}
	})
}

// TestConnFullDuplex reads and writes one connection from two goroutines
// on each side at once, megabytes each way, so that both sides block in
// writes while their readers must go on: a read blocked on the network must
// not stop the writer. Run with -race.
func TestConnFullDuplex(t *testing.T) {
	forEachTransport(t, func(t *testing.T) {
		const size = 4 << 20
		for _, v := range []variant{tls12, tls13} {
			t.Run(v.Name, func(t *testing.T) {
				fromServer := randomBytes(t, size)
				fromClient := randomBytes(t, size)
				duplex := func(c io.ReadWriter, send []byte) (got [32]byte, err error) {
					var wg sync.WaitGroup
					var werr error
					wg.Add(1)
					go func() {
						defer wg.Done()
						for b := send; len(b) > 0; {
							n := min(len(b), 7919) // odd sizes: records split across writes
							if _, werr = c.Write(b[:n]); werr != nil {
								return
							}
							b = b[n:]
						}
					}()
					h := sha256.New()
					_, err = io.CopyN(h, c, size)
					wg.Wait()
					copy(got[:], h.Sum(nil))
					return got, errors.Join(err, werr)
				}
				addr, results := serveTLS(t, newServer(t, v), func(tc *ossl.Conn) error {
					got, err := duplex(tc, fromServer)
					if err == nil && got != sha256.Sum256(fromClient) {
						err = errors.New("server received other bytes")
					}
					return err
				})
				// Go client.
				c := dialGo(t, addr, goClientConfig(t, v.Version, nil))
				got, err := duplex(c, fromClient)
				require.NoError(t, err)
				assert.Equal(t, sha256.Sum256(fromServer), got)
				require.NoError(t, (<-results).err)

				// ossl client.
				raw, err := net.Dial("tcp", addr)
				require.NoError(t, err)
				require.NoError(t, raw.SetDeadline(time.Now().Add(testDeadline)))
				oc, err := ossl.Client(raw, newClient(t, v), ossl.ClientConfig{ServerName: "localhost"})
				require.NoError(t, err)
				defer oc.Close()
				got, err = duplex(oc, fromClient)
				require.NoError(t, err)
				assert.Equal(t, sha256.Sum256(fromServer), got)
				require.NoError(t, (<-results).err)
			})
		}
	})
}

// TestConnEndOfStream checks how Read reports the end of a connection,
// and that a transport close without close_notify leaves the session in
// the store.
func TestConnEndOfStream(t *testing.T) {
	forEachTransport(t, func(t *testing.T) {
		tests := []struct {
			name    string
			end     func(c *tls.Conn, raw net.Conn) error
			wantErr error
		}{
			{"close_notify", func(c *tls.Conn, raw net.Conn) error { return c.CloseWrite() }, io.EOF},
			{"TCP close at a record boundary", func(c *tls.Conn, raw net.Conn) error { return raw.Close() }, io.EOF},
			{"TCP close inside a record", func(c *tls.Conn, raw net.Conn) error {
				// A record header announcing 64 bytes, then 10 of them.
				if _, err := raw.Write(append([]byte{0x17, 0x03, 0x03, 0x00, 0x40}, make([]byte, 10)...)); err != nil {
					return err
				}
				return raw.Close()
			}, io.ErrUnexpectedEOF},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				server, mem := newMemoryServer(t, tls13Stateful, store.MemoryOptions{})
				addr, results := serveTLS(t, server, func(tc *ossl.Conn) error {
					if _, err := tc.Write([]byte("hello\n")); err != nil {
						return err
					}
					_, err := io.ReadAll(tc)
					if err == nil {
						err = io.EOF // ReadAll hides io.EOF; report it
					}
					_, again := tc.Read(make([]byte, 1))
					return errors.Join(err, again)
				})
				raw, err := net.Dial("tcp", addr)
				require.NoError(t, err)
				require.NoError(t, raw.SetDeadline(time.Now().Add(testDeadline)))
				c := tls.Client(raw, goClientConfig(t, ossl.VersionTLS13, nil))
				defer c.Close()
				line := make([]byte, 6)
				_, err = io.ReadFull(c, line) // the tickets came before
				require.NoError(t, err)
				require.NoError(t, tt.end(c, raw))
				r := <-results
				require.Error(t, r.err)
				for _, e := range r.err.(interface{ Unwrap() []error }).Unwrap() {
					assert.ErrorIs(t, e, tt.wantErr, "and again on the next Read")
				}
				cs := server.CallbackStats()
				assert.Equal(t, int64(2), cs.Stored)
				assert.Equal(t, int64(0), cs.RemoveCalls, "the sessions stay in the store")
				assert.Equal(t, 2, mem.Len())
			})
		}
	})
}

// failingWriter takes limit bytes, then fails.
type failingWriter struct {
	limit int
	err   error
}

func (w *failingWriter) Write(b []byte) (int, error) {
	n := min(len(b), w.limit)
	w.limit -= n
	if n < len(b) {
		return n, w.err
	}
	return n, nil
}

// TestConnWriteTo copies what a client sends out of the server's Conn with
// WriteTo (io.Copy's path): everything, then nil, at close_notify or at
// the end of the stream at a record boundary; io.ErrUnexpectedEOF at an
// end inside a record; and the writer's error when it fails.
func TestConnWriteTo(t *testing.T) {
	forEachTransport(t, func(t *testing.T) {
		data := randomBytes(t, 100*1024+7)
		errFull := errors.New("sink full")
		closeNotify := func(c *tls.Conn, raw net.Conn) error { return c.CloseWrite() }
		tests := []struct {
			name   string
			end    func(c *tls.Conn, raw net.Conn) error
			sink   io.Writer // nil: a hash of everything
			want   error
			copied int
		}{
			{"close_notify", closeNotify, nil, nil, len(data)},
			{"TCP close at a record boundary", func(c *tls.Conn, raw net.Conn) error { return raw.Close() }, nil, nil, len(data)},
			{"TCP close inside a record", func(c *tls.Conn, raw net.Conn) error {
				if _, err := raw.Write(append([]byte{0x17, 0x03, 0x03, 0x00, 0x40}, make([]byte, 10)...)); err != nil {
					return err
				}
				return raw.Close()
			}, nil, io.ErrUnexpectedEOF, len(data)},
			{"the writer fails", closeNotify, &failingWriter{limit: 5000, err: errFull}, errFull, 5000},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				type copied struct {
					n   int64
					sum [32]byte
					err error
				}
				out := make(chan copied, 1)
				srv := ossltest.NewServer(newServer(t, tls13), func(tc *ossl.Conn) {
					if _, err := tc.Write([]byte("ready\n")); err != nil {
						out <- copied{err: err}
						return
					}
					h := sha256.New()
					var w io.Writer = h
					if tt.sink != nil {
						w = tt.sink
					}
					var c copied
					c.n, c.err = tc.WriteTo(w)
					copy(c.sum[:], h.Sum(nil))
					out <- c
				})
				defer srv.Close()
				raw, err := net.Dial("tcp", srv.Addr)
				require.NoError(t, err)
				require.NoError(t, raw.SetDeadline(time.Now().Add(testDeadline)))
				c := tls.Client(raw, goClientConfig(t, ossl.VersionTLS13, nil))
				defer c.Close()
				_, err = io.ReadFull(c, make([]byte, 6)) // the tickets came before: nothing unread at the end
				require.NoError(t, err)
				for b := data; len(b) > 0; b = b[min(len(b), 3001):] { // records of odd sizes
					_, err := c.Write(b[:min(len(b), 3001)])
					if tt.sink == nil { // a failing sink stops the server reading
						require.NoError(t, err)
					}
				}
				_ = tt.end(c, raw)
				got := <-out
				if tt.want == nil {
					require.NoError(t, got.err)
				} else {
					require.ErrorIs(t, got.err, tt.want)
				}
				assert.Equal(t, int64(tt.copied), got.n)
				if tt.sink == nil {
					assert.Equal(t, sha256.Sum256(data), got.sum)
				}
			})
		}
	})
}

func TestConnHalfClose(t *testing.T) {
	forEachTransport(t, func(t *testing.T) {
		addr, results := serveTLS(t, newServer(t, tls13), func(tc *ossl.Conn) error {
			if _, err := tc.Write([]byte("bye\n")); err != nil {
				return err
			}
			if err := tc.CloseWrite(); err != nil {
				return err
			}
			if _, err := tc.Write([]byte("x")); err == nil {
				return errors.New("write after CloseWrite succeeded")
			}
			got, err := io.ReadAll(tc) // the client still writes
			if err == nil && string(got) != "still here" {
				err = errors.New("got " + string(got))
			}
			return err
		})
		c := dialGo(t, addr, goClientConfig(t, ossl.VersionTLS13, nil))
		got, err := io.ReadAll(c)
		require.NoError(t, err, "close_notify ends the stream cleanly")
		assert.Equal(t, "bye\n", string(got))
		_, err = c.Write([]byte("still here"))
		require.NoError(t, err)
		require.NoError(t, c.CloseWrite())
		require.NoError(t, (<-results).err)
	})
}

func TestConnHandshakeFailures(t *testing.T) {
	forEachTransport(t, func(t *testing.T) {
		other, err := ossltest.NewCertificate("localhost")
		require.NoError(t, err)
		pool := x509.NewCertPool()
		pool.AddCert(other.Leaf)
		tests := []struct {
			name       string
			client     func(addr string) error
			serverWant func(t *testing.T, err error)
		}{
			{
				"client rejects the certificate",
				func(addr string) error {
					raw, err := net.Dial("tcp", addr)
					if err != nil {
						return err
					}
					defer raw.Close()
					return tls.Client(raw, &tls.Config{RootCAs: pool, ServerName: "localhost"}).Handshake()
				},
				func(t *testing.T, err error) {
					var oe *ossl.Error
					require.ErrorAs(t, err, &oe)
					assert.True(t, oe.HasReason("bad certificate"), err.Error())
				},
			},
			{
				"client speaks no TLS",
				func(addr string) error {
					raw, err := net.Dial("tcp", addr)
					if err != nil {
						return err
					}
					defer raw.Close()
					_, err = raw.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
					if err == nil {
						_, _ = io.ReadAll(raw)
						err = errors.New("not TLS")
					}
					return err
				},
				func(t *testing.T, err error) {
					var oe *ossl.Error
					require.ErrorAs(t, err, &oe)
					assert.Equal(t, "SSL_do_handshake", oe.Op)
				},
			},
			{
				"client hangs up mid-handshake",
				func(addr string) error {
					raw, err := net.Dial("tcp", addr)
					if err != nil {
						return err
					}
					_, _ = raw.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01})
					raw.Close()
					return errors.New("hung up")
				},
				func(t *testing.T, err error) { assert.ErrorIs(t, err, io.ErrUnexpectedEOF) },
			},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				addr, results := serveTLS(t, newServer(t, tls13), echo)
				require.Error(t, tt.client(addr))
				tt.serverWant(t, (<-results).err)
			})
		}
	})
}

func TestConnHandshakeContext(t *testing.T) {
	forEachTransport(t, func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer l.Close()
		raw, err := net.Dial("tcp", l.Addr().String())
		require.NoError(t, err)
		defer raw.Close() // a client that never speaks
		srv, err := l.Accept()
		require.NoError(t, err)
		tc, err := ossl.Server(srv, newServer(t, tls13))
		require.NoError(t, err)
		defer tc.Close()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		assert.ErrorIs(t, tc.HandshakeContext(ctx), context.Canceled)
		assert.ErrorIs(t, tc.Handshake(), context.Canceled, "the failure sticks")
		_, err = tc.Read(make([]byte, 1))
		assert.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, ossl.ConnectionState{}, tc.ConnectionState())
	})
}

func TestConnClose(t *testing.T) {
	forEachTransport(t, func(t *testing.T) {
		release := make(chan struct{})
		addr, results := serveTLS(t, newServer(t, tls13), func(tc *ossl.Conn) error {
			<-release
			return nil
		})
		var releaseOnce sync.Once
		t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) }) // runs before serveTLS's
		c := dialGo(t, addr, goClientConfig(t, ossl.VersionTLS13, nil))
		raw, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		oc, err := ossl.Client(raw, newClient(t, tls13), ossl.ClientConfig{ServerName: "localhost"})
		require.NoError(t, err)
		require.NoError(t, oc.Handshake())
		assert.Equal(t, raw, oc.NetConn())
		assert.Equal(t, raw.LocalAddr(), oc.LocalAddr())
		assert.Equal(t, raw.RemoteAddr(), oc.RemoteAddr())
		require.NoError(t, oc.SetDeadline(time.Now().Add(testDeadline)))

		// A Read blocked on the network does not hold up Close.
		readErr := make(chan error, 1)
		go func() {
			_, err := oc.Read(make([]byte, 10))
			readErr <- err
		}()
		require.NoError(t, oc.Close())
		assert.Error(t, <-readErr)
		assert.ErrorIs(t, oc.Close(), net.ErrClosed)
		_, err = oc.Write([]byte("x"))
		assert.ErrorIs(t, err, net.ErrClosed)
		assert.Equal(t, ossl.ConnectionState{HandshakeComplete: true}, oc.ConnectionState())
		assert.Nil(t, oc.Session())
		releaseOnce.Do(func() { close(release) })
		c.Close()
		require.NoError(t, (<-results).err)
		require.NoError(t, (<-results).err)
	})
}

// TestConnFreesEverything runs connections over sockets through every
// way a Conn ends (clean close, transport close, Close during a blocked
// Read, failed handshake, never handshaken) with collections in between.
// Built with -tags ossl_memdebug it fails unless OpenSSL's live heap blocks
// come back to where they were (the SSL, both BIO pair halves and the write
// buffer of each connection); with -asan it checks every free.
func TestConnFreesEverything(t *testing.T) {
	forEachTransport(t, func(t *testing.T) {
		server, mem := newMemoryServer(t, tls13Stateful, store.MemoryOptions{Capacity: 64})
		client := newClient(t, tls13Stateful)
		addr, results := serveTLS(t, server, echo)

		dial := func() *ossl.Conn {
			raw, err := net.Dial("tcp", addr)
			require.NoError(t, err)
			require.NoError(t, raw.SetDeadline(time.Now().Add(testDeadline)))
			c, err := ossl.Client(raw, client, ossl.ClientConfig{ServerName: "localhost"})
			require.NoError(t, err)
			return c
		}
		endings := []func(){
			func() { // clean
				c := dial()
				roundTrip(t, c, []byte("x\n"))
				require.NoError(t, c.CloseWrite())
				_, _ = io.ReadAll(c)
				require.NoError(t, c.Close())
				require.NoError(t, (<-results).err)
			},
			func() { // transport closed under it
				c := dial()
				roundTrip(t, c, []byte("x\n"))
				c.NetConn().Close()
				_ = c.Close()
				<-results
			},
			func() { // Close during a blocked Read
				c := dial()
				require.NoError(t, c.Handshake())
				done := make(chan struct{})
				go func() {
					_, _ = c.Read(make([]byte, 1))
					close(done)
				}()
				_ = c.Close()
				<-done
				<-results
			},
			func() { // never handshaken, dropped for the cleanups
				raw, err := net.Dial("tcp", addr)
				require.NoError(t, err)
				_, err = ossl.Client(raw, client, ossl.ClientConfig{})
				require.NoError(t, err)
				raw.Close()
				<-results
			},
		}
		run := func(n int) {
			for i := range n {
				endings[i%len(endings)]()
			}
		}
		run(len(endings)) // warm-up
		before, counting := settledAllocations()
		run(100)
		mem.Close()
		after, _ := settledAllocations()
		if counting {
			t.Logf("OpenSSL heap blocks: %d before, %d after", before, after)
			require.InDelta(t, before, after, 64, "OpenSSL heap blocks leaked")
		}
	})
}
