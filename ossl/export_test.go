package ossl

// LiveCtxStates counts the Go states attached to SSL_CTX ex_data that libssl
// has not freed yet, for leak tests.
func LiveCtxStates() int64 { return liveStates.Load() }

// LeakOneReference takes a reference to s and forgets it, so that the
// leak-detector canary has something real to find.
func LeakOneReference(s *Session) {
	r, err := s.Ref()
	if err != nil {
		panic(err)
	}
	r.mu.Lock()
	r.p = nil
	r.mu.Unlock()
	r.cleanup.Stop()
}

// UseBIOPair makes the Conns made until restore is called run over a BIO
// pair (on) even over a *net.TCPConn, or as they would (off).
func UseBIOPair(on bool) (restore func()) {
	prev := forceBIOPair.Swap(on)
	return func() { forceBIOPair.Store(prev) }
}
