package ossltest

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"os"
	"sync"

	"github.com/osslcache/osslcache/ossl"
)

// SessionRecorder is a crypto/tls ClientSessionCache for tests of
// stateless tickets: it offers one session (the newest it was given, or
// the one Offering set) whatever the server, and keeps every session it
// was given, so that an old ticket can be offered again later.
type SessionRecorder struct {
	mu   sync.Mutex
	cur  *tls.ClientSessionState
	seen []*tls.ClientSessionState
}

// Get implements tls.ClientSessionCache.
func (r *SessionRecorder) Get(string) (*tls.ClientSessionState, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cur, r.cur != nil
}

// Put implements tls.ClientSessionCache.
func (r *SessionRecorder) Put(_ string, cs *tls.ClientSessionState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cur = cs
	if cs != nil {
		r.seen = append(r.seen, cs)
	}
}

// Newest returns the newest session the recorder was given and the name
// of the ticket key that sealed it: the first 16 bytes of the ticket, as
// libssl writes them (the name of an ossl.TicketKey).
func (r *SessionRecorder) Newest() (*tls.ClientSessionState, []byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.seen) == 0 {
		return nil, nil, errors.New("ossltest: no session recorded")
	}
	cs := r.seen[len(r.seen)-1]
	ticket, _, err := cs.ResumptionState()
	if err != nil {
		return nil, nil, err
	}
	if len(ticket) <= 16 {
		return nil, nil, errors.New("ossltest: the session has no ticket")
	}
	return cs, ticket[:16], nil
}

// Offering returns a copy of base whose session cache, a new recorder
// (also returned), offers cs.
func Offering(base *tls.Config, cs *tls.ClientSessionState) (*tls.Config, *SessionRecorder) {
	r := &SessionRecorder{cur: cs}
	c := base.Clone()
	c.ClientSessionCache = r
	return c, r
}

// WriteTicketKeys writes keys to path as a ticket key file: one base64
// line each, the first sealing. It writes a file aside and renames it into
// place, as an operator's tooling should, so that a reload never reads
// half of it.
func WriteTicketKeys(path string, keys ...ossl.TicketKey) error {
	var b bytes.Buffer
	b.WriteString("# the first key seals new tickets, every key opens them\n")
	for _, k := range keys {
		b.WriteString(base64.StdEncoding.EncodeToString(k[:]) + "\n")
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b.Bytes(), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// NewTicketKey returns a random ticket key.
func NewTicketKey() (ossl.TicketKey, error) {
	var k ossl.TicketKey
	_, err := rand.Read(k[:])
	return k, err
}
