//go:build !ossl_memdebug

package ossl

// liveOpenSSLAllocations reports false: the heap-block count needs the
// ossl_memdebug build.
func liveOpenSSLAllocations() (int64, bool) { return 0, false }
