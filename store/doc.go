// Package store holds the session stores osslcache ships for libssl's
// external session cache (ossl.SessionStore) and for clients
// (ossl.ClientSessionCache):
//
//   - Memory keeps native SSL_SESSION references in process: no encoding,
//     bounded, expiring, sharded so concurrent handshakes rarely share a lock.
//   - Bytes adapts any key-value store of DER bytes with an expiry time (a
//     KV) to ossl.SessionStore; redisstore builds on it.
//   - ClientLRU keeps one session per server for clients.
package store
