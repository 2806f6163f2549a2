package ossl

import (
	"context"
	"time"
)

// SessionStore is an external server-side session cache, reached through
// libssl's new, get and remove session callbacks
// (SSL_CTX_sess_set_new_cb(3) and friends), in the spirit of
// crypto/tls.ClientSessionCache.
//
// Implementations must be safe for concurrent use: handshakes on many
// threads call them at once. They run inside libssl's handshake, so they
// should return promptly: a call slower than the lookup timeout is
// abandoned (Get then counts as a miss, Put as a failure), and its late
// result released. Delete never holds up libssl: it runs after the
// callback, from a bounded queue.
//
// An error never fails a handshake: a failed Put leaves the session
// unstored, a failed Get is a miss (the handshake goes on as a full one), a
// failed Delete leaves the entry to expire. Errors and panics are counted
// (Ctx.CallbackStats) and reported to StoreConfig.OnEvent.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_sess_set_get_cb/.
type SessionStore interface {
	// Put stores a new session under sess.ID(), until sess.Expires().
	// sess is a reference the store owns from the call on, whatever Put
	// returns: it may keep it as it is, or Close it (a reference it
	// forgets is released by the garbage collector). libssl may be
	// using the same SSL_SESSION, so it is read-only (Dup makes a copy
	// to change).
	Put(ctx context.Context, sess *Session) error
	// Get returns the session stored under id, or nil, nil on a miss.
	// The caller takes over the returned reference: return a new one
	// (Ref) for a session the store keeps. ctx carries the lookup
	// deadline and a LookupInfo.
	Get(ctx context.Context, id []byte) (*Session, error)
	// Delete removes the session stored under id; a missing id is not an
	// error.
	Delete(ctx context.Context, id []byte) error
}

// InlineStore is implemented by stores whose methods never block (an
// in-memory map, say): the bridge calls them directly on libssl's thread,
// with no timeout, where any other store runs on a goroutine abandoned at
// the lookup timeout (a thread handoff per call).
//
// The bridge passes RunsInline the store it was given. A store answers for
// itself alone, so that a type embedding it, whose methods may differ, is
// not taken for inline by the promoted method:
//
//	func (m *Memory) RunsInline(installed ossl.SessionStore) bool { return installed == m }
type InlineStore interface {
	SessionStore
	RunsInline(installed SessionStore) bool
}

// CallbackSet selects which of libssl's session callbacks to install.
type CallbackSet uint8

// The three session callbacks.
const (
	CallbackNew    CallbackSet = 1 << iota // SSL_CTX_sess_set_new_cb: Put
	CallbackGet                            // SSL_CTX_sess_set_get_cb: Get
	CallbackRemove                         // SSL_CTX_sess_set_remove_cb: Delete
	CallbackAll    = CallbackNew | CallbackGet | CallbackRemove
)

// DefaultLookupTimeout bounds a store call when StoreConfig leaves it zero.
const DefaultLookupTimeout = 50 * time.Millisecond

// DefaultDeleteQueue is the number of deletes StoreConfig holds back when
// DeleteQueue is zero.
const DefaultDeleteQueue = 4096

// StoreConfig installs a SessionStore on a context.
type StoreConfig struct {
	Store SessionStore
	// Callbacks picks the callbacks to install; zero means CallbackAll.
	Callbacks CallbackSet
	// LookupTimeout bounds each store call (DefaultLookupTimeout if 0).
	LookupTimeout time.Duration
	// DeleteQueue bounds the deletes waiting for a store that is not
	// inline (DefaultDeleteQueue if 0); past it, deletes are dropped and
	// counted (CallbackStats.RemoveDropped): their sessions expire.
	DeleteQueue int
	// OnEvent, if set, is told of every store error, panic, timeout and
	// rejected session. It is called synchronously; keep it fast.
	OnEvent func(Event)
}

// EventKind classifies an Event.
type EventKind int

// Event kinds.
const (
	EventStoreError EventKind = iota // the store returned an error
	EventPanic                       // the store (or a hook) panicked; recovered
	EventTimeout                     // the store did not answer within the lookup timeout
	EventRejected                    // the store returned a session the bridge refused
	EventRefused                     // a server-name callback refused the connection
)

// String returns the kind's name as metrics and logs write it.
func (k EventKind) String() string {
	switch k {
	case EventStoreError:
		return "store-error"
	case EventPanic:
		return "panic"
	case EventTimeout:
		return "timeout"
	case EventRejected:
		return "rejected"
	case EventRefused:
		return "refused"
	}
	return "unknown"
}

// Event reports something that went wrong in a callback. None of them
// fails the handshake, but a refusal of the server-name callback.
type Event struct {
	Kind EventKind
	// Op is "put", "get", "delete", "client-put", "client-get",
	// "client-delete", "servername" or "allow-early-data", with " after
	// timeout" for what an abandoned call did later.
	Op        string
	SessionID []byte
	Err       error
}

// LookupInfo describes the connection a store call serves; stores read it
// with LookupInfoFrom to namespace their keys.
type LookupInfo struct {
	// SessionIDContext of the context serving the connection, as set
	// through Ctx.SetSessionIDContext (nil if set elsewhere or unset).
	// Read-only: it is shared by every call.
	SessionIDContext []byte
	// ServerName is the SNI host name the client sent, if any.
	ServerName string
	// CacheMode is the serving context's cache mode at the call. With
	// CacheNoInternalStore libssl keeps no session of its own, so a store
	// may keep the reference Put hands it rather than a copy.
	CacheMode CacheMode
	// StatelessTicket, on Put, reports that the session is sealed into a
	// stateless TLS 1.3 ticket (SSL_OP_NO_TICKET clear, and no early data
	// with anti-replay, under which libssl keeps tickets stateful): libssl
	// decrypts the client's ticket itself and never looks the session up,
	// so a store has no use for it. It is false for TLS 1.2 sessions,
	// which reach Put only with a session ID to look up, for stateful
	// tickets, and on Get and Delete.
	StatelessTicket bool
}

type lookupInfoKey struct{}

// infoCtx carries a call's LookupInfo in one allocation (the handshake
// path makes one per store call).
type infoCtx struct {
	context.Context
	info LookupInfo
}

func (c *infoCtx) Value(key any) any {
	if _, ok := key.(lookupInfoKey); ok {
		return &c.info
	}
	return c.Context.Value(key)
}

// LookupInfoFrom returns the LookupInfo of a store call's context.
func LookupInfoFrom(ctx context.Context) (LookupInfo, bool) {
	if li, ok := ctx.Value(lookupInfoKey{}).(*LookupInfo); ok {
		return *li, true
	}
	return LookupInfo{}, false
}

// CallbackStats counts what the callbacks did on one context. Each store
// call ends in one outcome: NewCalls = Stored + StoreErrors, GetCalls =
// GetHits + GetMisses + GetErrors + Rejected, RemoveCalls = Deleted +
// RemoveErrors + RemoveDropped + the deletes still queued. Timeouts and
// Panics count across operations.
type CallbackStats struct {
	NewCalls    int64 // server new-session callbacks
	Stored      int64 // sessions the store accepted
	StoreErrors int64 // Puts that failed (error, timeout or panic)
	GetCalls    int64
	GetHits     int64 // sessions handed to libssl
	GetMisses   int64 // store had nothing
	GetErrors   int64 // Gets that failed (error, timeout or panic)
	Rejected    int64 // sessions refused: wrong ID, expired, other id context, not resumable
	RemoveCalls int64 // remove callbacks of a live context, server and client
	Deleted     int64 // deletes the store (or client cache) carried out
	// RemoveErrors counts Deletes that failed (error, timeout or panic).
	RemoveErrors int64
	// RemoveDropped counts deletes dropped because the queue was full.
	RemoveDropped int64
	// RemoveSkipped counts removes not forwarded because libssl was
	// freeing the context (SSL_CTX_free empties the internal cache;
	// a shared store keeps those sessions for the other servers).
	RemoveSkipped int64
	ClientPuts    int64 // client sessions handed to a ClientSessionCache
	SNIRefused    int64 // connections a server-name callback refused
	Timeouts      int64 // store calls abandoned at the lookup timeout
	Panics        int64 // panics recovered in user code
	// Early data decisions of the allow callback
	// (Ctx.SetAllowEarlyDataCallback): allowed, refused, and failed
	// (error, timeout or panic: the early data was rejected).
	EarlyDataAllowed, EarlyDataRefused, EarlyDataErrors int64
}
