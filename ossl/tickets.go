package ossl

/*
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// TicketStatus is what libssl found in a ticket a client offered
// (SSL_TICKET_STATUS of SSL_CTX_set_session_ticket_cb(3)).
type TicketStatus int

// Ticket statuses.
const (
	// TicketEmpty: the client announced ticket support but sent none
	// (TLS 1.2 only).
	TicketEmpty TicketStatus = C.SSL_TICKET_EMPTY
	// TicketNoDecrypt: the ticket did not decrypt (an unknown key, a
	// ticket of another server) or the key callback declined it.
	TicketNoDecrypt TicketStatus = C.SSL_TICKET_NO_DECRYPT
	// TicketSuccess: it decrypted; the session is usable.
	TicketSuccess TicketStatus = C.SSL_TICKET_SUCCESS
	// TicketSuccessRenew: it decrypted, and the key callback asked for a
	// new ticket (an older key sealed it).
	TicketSuccessRenew TicketStatus = C.SSL_TICKET_SUCCESS_RENEW
)

// String returns the status's name as libssl spells it.
func (s TicketStatus) String() string {
	switch s {
	case TicketEmpty:
		return "SSL_TICKET_EMPTY"
	case TicketNoDecrypt:
		return "SSL_TICKET_NO_DECRYPT"
	case TicketSuccess:
		return "SSL_TICKET_SUCCESS"
	case TicketSuccessRenew:
		return "SSL_TICKET_SUCCESS_RENEW"
	}
	return fmt.Sprintf("SSL_TICKET_STATUS(%d)", int(s))
}

// TicketDecision answers a ticket (SSL_TICKET_RETURN).
type TicketDecision int

// Ticket decisions.
const (
	// TicketAbort fails the handshake.
	TicketAbort TicketDecision = C.SSL_TICKET_RETURN_ABORT
	// TicketIgnore does not use the ticket, and issues no new one.
	TicketIgnore TicketDecision = C.SSL_TICKET_RETURN_IGNORE
	// TicketIgnoreRenew does not use the ticket, and issues a new one.
	TicketIgnoreRenew TicketDecision = C.SSL_TICKET_RETURN_IGNORE_RENEW
	// TicketUse resumes the ticket's session (only for TicketSuccess and
	// TicketSuccessRenew; libssl fails the handshake otherwise).
	TicketUse TicketDecision = C.SSL_TICKET_RETURN_USE
	// TicketUseRenew resumes it and issues a new ticket.
	TicketUseRenew TicketDecision = C.SSL_TICKET_RETURN_USE_RENEW
)

// Ticket is a ticket a client offered, as TicketCallbacks.Decrypt sees it.
type Ticket struct {
	Status TicketStatus
	// KeyName is the start of the ticket: the name of the key that
	// sealed it, in libssl's own format (up to 16 bytes).
	KeyName []byte
	// AppData is what Generate attached, for a ticket that decrypted.
	AppData []byte
	// Session is the ticket's session, for a ticket that decrypted: a
	// reference the callback owns (close it, or let the collector).
	Session *Session
}

// TicketCallbacks are a server context's session ticket callbacks
// (SSL_CTX_set_session_ticket_cb(3)). They run on libssl's thread inside
// the handshake: they must not block, nor call back into the context.
type TicketCallbacks struct {
	// Generate runs as a ticket is made; what it returns is sealed into
	// the ticket (SSL_SESSION_set1_ticket_appdata(3)), nil for nothing.
	// serverName is the name the client sent. An error, or a panic,
	// fails the handshake. Nil: no application data.
	Generate func(serverName string) ([]byte, error)
	// Decrypt decides what to do with a ticket a client offered. A panic
	// counts as TicketIgnoreRenew: the handshake goes on as a full one.
	// Nil: libssl's own decision (use what decrypted, renew when asked).
	Decrypt func(t Ticket) TicketDecision
	// OnEvent is told of errors, panics and refused decisions.
	OnEvent func(Event)
}

// SetSessionTicketCallbacks installs the ticket callbacks on a server
// context (SSL_CTX_set_session_ticket_cb(3)); the zero TicketCallbacks
// removes them.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_session_ticket_cb/.
func (c *Ctx) SetSessionTicketCallbacks(cb TicketCallbacks) error {
	on := cb.Generate != nil || cb.Decrypt != nil
	return c.do("SSL_CTX_set_session_ticket_cb", func(p *C.SSL_CTX) bool {
		if on {
			c.st.tickets.Store(&cb)
		} else {
			c.st.tickets.Store(nil)
		}
		return C.go_ctx_set_ticket_callbacks(p, b2i(on)) == 1
	})
}

// onGenerateTicket runs libssl's ticket generation callback.
func (st *ctxState) onGenerateTicket(ssl *C.SSL) (ok bool) {
	cb := st.tickets.Load()
	if cb == nil || cb.Generate == nil {
		return true
	}
	defer func() {
		if r := recover(); r != nil {
			st.n.panics.Add(1)
			st.report(cb.OnEvent, Event{Kind: EventPanic, Op: "ticket-generate", Err: fmt.Errorf("ossl: ticket Generate panicked: %v", r)})
			ok = false
		}
	}()
	data, err := cb.Generate(serverName(ssl))
	if err != nil {
		st.report(cb.OnEvent, Event{Kind: EventStoreError, Op: "ticket-generate", Err: err})
		return false
	}
	if data == nil {
		return true
	}
	if C.go_ssl_set_ticket_appdata(ssl, cBytes(data), C.int(len(data))) != 1 {
		C.ERR_clear_error()
		st.report(cb.OnEvent, Event{Kind: EventStoreError, Op: "ticket-generate", Err: errors.New("ossl: SSL_SESSION_set1_ticket_appdata failed")})
		return false
	}
	return true
}

// onDecryptTicket runs libssl's ticket decryption callback.
func (st *ctxState) onDecryptTicket(ss *C.SSL_SESSION, keyName []byte, status TicketStatus) (d TicketDecision) {
	cb := st.tickets.Load()
	def := TicketIgnoreRenew
	if status == TicketSuccess {
		def = TicketUse
	} else if status == TicketSuccessRenew {
		def = TicketUseRenew
	}
	if cb == nil || cb.Decrypt == nil {
		return def
	}
	t := Ticket{Status: status, KeyName: keyName}
	if ss != nil {
		var n C.size_t
		if p := C.go_session_ticket_appdata(ss, &n); p != nil && n > 0 {
			t.AppData = C.GoBytes(unsafe.Pointer(p), C.int(n))
		}
		C.SSL_SESSION_up_ref(ss)
		t.Session = newSession(ss, true)
	}
	defer func() {
		if r := recover(); r != nil {
			st.n.panics.Add(1)
			st.report(cb.OnEvent, Event{Kind: EventPanic, Op: "ticket-decrypt", Err: fmt.Errorf("ossl: ticket Decrypt panicked: %v", r)})
			d = TicketIgnoreRenew
		}
	}()
	d = cb.Decrypt(t)
	switch d {
	case TicketAbort, TicketIgnore, TicketIgnoreRenew, TicketUse, TicketUseRenew:
		return d
	}
	st.report(cb.OnEvent, Event{Kind: EventRejected, Op: "ticket-decrypt", Err: fmt.Errorf("ossl: ticket Decrypt returned %d, not a TicketDecision", int(d))})
	return TicketIgnoreRenew
}

// SetNumTickets sets how many TLS 1.3 tickets the server sends on this
// connection after a full handshake (SSL_set_num_tickets(3)).
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_num_tickets/.
func (s *SSL) SetNumTickets(n int) error {
	if n < 0 {
		return errorf("SSL_set_num_tickets", "negative ticket count %d", n)
	}
	return s.do("SSL_set_num_tickets", func(p *C.SSL) bool { return C.go_ssl_set_num_tickets(p, C.size_t(n)) == 1 })
}

// NumTickets returns the connection's TLS 1.3 ticket count
// (SSL_get_num_tickets(3)).
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_num_tickets/.
func (s *SSL) NumTickets() int {
	var n int
	s.with(func(p *C.SSL) { n = int(C.go_ssl_get_num_tickets(p)) })
	return n
}

// NewSessionTicket asks a TLS 1.3 server to send one more ticket on an
// established connection (SSL_new_session_ticket(3)); it goes out with the
// next write or handshake call. OpenSSL 1.1.1 lacks the call: there the
// error wraps errors.ErrUnsupported and names the release line that has
// it.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_num_tickets/.
func (s *SSL) NewSessionTicket() error {
	if C.GO_HAVE_NEW_SESSION_TICKET == 0 {
		return unsupported("SSL_new_session_ticket", "3.0")
	}
	return s.do("SSL_new_session_ticket", func(p *C.SSL) bool { return C.go_ssl_new_session_ticket(p) == 1 })
}
