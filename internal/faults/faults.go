// Package faults wraps a session store with injected failures: errors,
// stalls past the lookup timeout, panics and hostile sessions, each at a
// set rate, for the fault-injection tests and the soak command.
package faults

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/osslcache/osslcache/ossl"
)

// Kind is one injected fault.
type Kind int

// The faults, in the order Rates lists them.
const (
	Error   Kind = iota // the store returns an error
	Stall               // the store sleeps past the lookup timeout
	Panic               // the store panics
	Garbage             // Get returns another session (wrong ID)
	Expired             // Get returns an expired copy of the session
	numKinds
)

var kindNames = [...]string{"error", "stall", "panic", "garbage", "expired"}

func (k Kind) String() string { return kindNames[k] }

// Rates are the probabilities of each fault per store call.
type Rates [numKinds]float64

// Uniform gives every fault the same rate.
func Uniform(r float64) Rates {
	var rs Rates
	for i := range rs {
		rs[i] = r
	}
	return rs
}

// Store injects faults into calls to Inner.
type Store struct {
	Inner ossl.SessionStore
	Rates Rates
	// StallFor is how long a stall lasts.
	StallFor time.Duration

	mu       sync.Mutex
	decoy    *ossl.Session // another session, for Garbage
	injected [numKinds]atomic.Int64
	calls    atomic.Int64
}

// Injected returns how many faults of kind k were injected.
func (s *Store) Injected(k Kind) int64 { return s.injected[k].Load() }

// InjectedTotal returns every fault injected.
func (s *Store) InjectedTotal() int64 {
	var n int64
	for k := range s.injected {
		n += s.injected[k].Load()
	}
	return n
}

// Calls returns how many store calls were made.
func (s *Store) Calls() int64 { return s.calls.Load() }

// Close releases the decoy session.
func (s *Store) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.decoy.Close()
	s.decoy = nil
}

// pick draws at most one fault among those allowed for the call.
func (s *Store) pick(allowed ...Kind) (Kind, bool) {
	s.calls.Add(1)
	x := rand.Float64()
	for _, k := range allowed {
		if x < s.Rates[k] {
			s.injected[k].Add(1)
			return k, true
		}
		x -= s.Rates[k]
	}
	return 0, false
}

var errInjected = errors.New("faults: injected store error")

func (s *Store) common(k Kind) error {
	switch k {
	case Error:
		return errInjected
	case Stall:
		time.Sleep(s.StallFor)
		return nil
	case Panic:
		panic("faults: injected panic")
	}
	return nil
}

// Put implements ossl.SessionStore; it also keeps a decoy session.
func (s *Store) Put(ctx context.Context, sess *ossl.Session) error {
	s.mu.Lock()
	if s.decoy == nil {
		s.decoy, _ = sess.Dup()
	}
	s.mu.Unlock()
	if k, ok := s.pick(Error, Stall, Panic); ok {
		if err := s.common(k); err != nil || k != Stall {
			return err
		}
	}
	return s.Inner.Put(ctx, sess)
}

// Get implements ossl.SessionStore.
func (s *Store) Get(ctx context.Context, id []byte) (*ossl.Session, error) {
	k, ok := s.pick(Error, Stall, Panic, Garbage, Expired)
	if !ok {
		return s.Inner.Get(ctx, id)
	}
	switch k {
	case Garbage:
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.decoy == nil {
			return nil, nil
		}
		return s.decoy.Dup()
	case Expired:
		real, err := s.Inner.Get(ctx, id)
		if real == nil || err != nil {
			return real, err
		}
		defer real.Close()
		d, err := real.Dup()
		if err != nil {
			return nil, err
		}
		if err := d.SetTime(time.Now().Add(-real.Timeout() - time.Hour)); err != nil {
			d.Close()
			return nil, err
		}
		return d, nil
	case Stall:
		time.Sleep(s.StallFor)
		return s.Inner.Get(ctx, id)
	}
	return nil, s.common(k)
}

// Delete implements ossl.SessionStore.
func (s *Store) Delete(ctx context.Context, id []byte) error {
	if k, ok := s.pick(Error, Panic); ok {
		return s.common(k)
	}
	return s.Inner.Delete(ctx, id)
}
