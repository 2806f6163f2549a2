//go:build asan

package ossl_test

// asanBuild: the tests run under AddressSanitizer (go test -asan), whose
// LeakSanitizer reports at exit every leak, libssl's own included.
const asanBuild = true
