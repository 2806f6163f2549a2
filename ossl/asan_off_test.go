//go:build !asan

package ossl_test

// asanBuild: the tests run under AddressSanitizer (go test -asan).
const asanBuild = false
