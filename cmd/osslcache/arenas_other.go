//go:build !linux || !cgo

package main

// limitMallocArenas does nothing but on glibc.
func limitMallocArenas(int) bool { return false }
