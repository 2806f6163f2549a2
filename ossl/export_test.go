package ossl

// LiveCtxStates counts the Go states attached to SSL_CTX ex_data that libssl
// has not freed yet, for leak tests.
func LiveCtxStates() int64 { return liveStates.Load() }
