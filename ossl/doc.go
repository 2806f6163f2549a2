// Package ossl binds the system libssl's TLS session cache through cgo: the
// cache mode of SSL_CTX_set_session_cache_mode(3) with every flag of the
// man page, the rest of the session cache surface (id context, size,
// timeout, flushing, statistics, tickets), sessions as Go values, libssl's
// new, get and remove session callbacks bridged to Go stores, and a
// net.Conn served by libssl.
//
// Everything here calls the real libssl, linked through pkg-config (libssl,
// libcrypto); OpenSSL 1.1.1 and 3.x are supported.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_session_cache_mode/.
//
// # The types
//
//   - Ctx is an SSL_CTX: configuration, the internal session cache, and the
//     callbacks (SetSessionStore, SetClientSessionCache,
//     SetServerNameCallback).
//   - Conn is a TLS connection over a net.Conn, in the shape of
//     crypto/tls.Conn: Server, Client, Handshake, HandshakeContext,
//     ConnectionState, and TLS 1.3 early data (WriteEarlyData,
//     ReadEarlyData). NewListener and Listen accept them, as
//     crypto/tls.NewListener does, without handshaking in Accept; ALPN is
//     Ctx.SetNextProtos on servers and ClientConfig.NextProtos on clients
//     (package osslhttp serves net/http over them).
//   - SSL is a bare connection object (an SSL*), for driving libssl step by
//     step; package ossltest joins two of them in memory.
//   - Session is a reference to an SSL_SESSION.
//   - SessionStore and ClientSessionCache are the Go caches the callbacks
//     feed, in the shape of crypto/tls.ClientSessionCache; package store
//     has implementations, store/redisstore one shared by a fleet.
//
// # Ownership
//
// Every object that crosses into user code, or back into C, has one owner,
// and nothing a Go program does with a value this package hands out can
// free memory that something else still uses.
//
// A *Ctx owns one reference to its SSL_CTX. NewCtx makes the context with
// that reference; WrapCtx takes a new one (SSL_CTX_up_ref) on a context
// other code made, so the wrapper stays valid whatever its maker does.
// Close releases the reference; the garbage collector releases it if Close
// is forgotten. libssl frees the SSL_CTX when its last reference goes:
// every connection made from it holds one, so a context closed while
// connections are open serves them to the end, its callbacks included.
// Several *Ctx over one SSL_CTX share its Go state (stores, counters),
// which lives in the context's ex_data until libssl frees it.
//
// A *Conn owns its SSL object and what it reads and writes through (a
// socket BIO, or a BIO pair and its buffers), released together, on one
// thread, by Close or the garbage collector. A socket BIO holds the
// socket's descriptor only for the length of a libssl call made inside
// the net.Conn's syscall.RawConn callback, which keeps it open; between
// calls it holds none, so libssl never reads or writes a descriptor that
// was closed and reused. A *SSL owns
// its SSL object; two SSL objects joined in memory are never freed at once
// on two threads (freeing one end of a BIO pair writes into the other).
//
// A *Session owns one reference to its SSL_SESSION; Close releases it, the
// garbage collector a forgotten one. Every *Session this package hands out
// is the receiver's to keep or close: Ref and Dup make new ones,
// SSL.Session and Conn.Session return one, SessionStore.Put and
// ClientSessionCache.Put are handed one the store owns from the call on.
// Sessions a store or cache returns (Get) pass to the bridge, which hands
// them to libssl. Several Sessions may share one SSL_SESSION (Ref); one
// that libssl may hold too (a cache, a connection) refuses SetID
// (ErrSharedSession), which would corrupt a cache filed by ID.
//
// What Close does: on a Ctx, drop its reference; on an SSL, free the
// object; on a Conn, send close_notify (if it can without waiting on a
// Write), close the net.Conn and free everything; on a Session, drop its
// reference. Each is idempotent. Every method of these types may race
// Close from another goroutine: it finishes first, or returns ErrClosed
// (getters without an error return a zero value). Ctx and Session methods
// run concurrently; SSL methods are serialized (libssl's SSL objects are
// not safe for concurrent use); Conn's Read and Write may run at once.
//
// What crosses into C: bytes a Conn writes are copied into C memory first
// (libssl may point at them until a retried write completes), freed once
// the write completed. The Go state of a context is reached from libssl's
// callbacks through a runtime/cgo.Handle kept as an integer in the
// context's ex_data, released by libssl's ex_data free callback; no Go
// pointer is kept in C memory. A session handed to libssl by the get
// callback is a reference of its own (*copy = 0). Callbacks get copies:
// the session ID of an EarlyDataRequest, a Ticket's key name and data are
// Go memory the callback owns. The new-session callback
// keeps the reference libssl takes for it (it returns 1) and hands it to
// the store as a *Session. The context a server-name callback switches to
// is handed to C with a reference Go took, dropped by C once
// SSL_set_SSL_CTX has taken its own. Strings in ex_data (a client's cache
// key, the server name a client sent) are copied by SSL_dup and freed with
// their object. Stateless ticket keys live in C memory in the context's
// ex_data, swapped under a lock and wiped when freed; so does a server's
// ALPN list, read by a selection callback that never calls Go.
//
// # Threads and the error queue
//
// OpenSSL's error queue is per thread. Every libssl call that may fail
// runs with its goroutine locked to the OS thread, the queue cleared
// before and drained into the returned *Error after, so an error carries
// OpenSSL's own reasons (and a fix where one is known) and no error leaks
// to the next call on that thread.
//
// # Callbacks
//
// libssl calls the callbacks on the thread of the handshake that needs
// them. The bridge keeps these rules:
//
//   - Nothing unwinds through libssl: every panic in user code is
//     recovered, counted (Ctx.CallbackStats) and reported
//     (StoreConfig.OnEvent).
//   - A store call is bounded by StoreConfig.LookupTimeout: a store that
//     does not answer is abandoned (a lookup then misses and the handshake
//     goes on as a full one), and its late result released. The early
//     data check (SetAllowEarlyDataCallback) is bounded the same way by
//     its own Timeout, and rejects the early data when it fails. A store whose
//     methods never block declares it (InlineStore, for itself alone, so
//     that embedding does not pass the promise on) and runs inline.
//   - libssl is never blocked while it holds a lock: it calls the remove
//     callback holding the context's cache lock (a flush, an eviction), so
//     deletes go to a bounded queue (drops are counted) unless the store
//     is inline.
//   - A session a store returns that is another session's, expired, not
//     resumable or from another session id context is refused and counted.
//   - The callbacks of a connection belong to the context given to
//     SSL_new, also after a server-name callback switched it to another
//     (libssl keeps that one's cache too).
//   - When SSL_CTX_free empties the internal cache of a context whose last
//     reference is gone, its removals are not forwarded (a store shared by
//     a fleet keeps those sessions): the remove callback tells that case
//     by SSL_CTX_up_ref, which reports whether the count was above zero.
//   - A store or cache must not call back into the context whose callback
//     it serves.
package ossl
