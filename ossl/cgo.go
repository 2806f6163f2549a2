package ossl

// The cgo directives of package ossl; the C files are named in shim.h.

/*
#cgo pkg-config: libssl libcrypto
#cgo CFLAGS: -Wall -Wno-deprecated-declarations
*/
import "C"
