//go:build ossl_memdebug

package ossl

/*
long go_memdebug_live(int *on);
*/
import "C"

// liveOpenSSLAllocations returns the number of heap blocks libcrypto and
// libssl hold right now, counted through CRYPTO_set_mem_functions(3). It
// reports false unless the hooks went in before OpenSSL's first
// allocation.
func liveOpenSSLAllocations() (int64, bool) {
	var on C.int
	n := C.go_memdebug_live(&on)
	return int64(n), on == 1
}
