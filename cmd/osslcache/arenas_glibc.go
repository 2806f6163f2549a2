//go:build linux && cgo

package main

/*
#include <malloc.h>

// go_limit_arenas caps glibc's malloc arenas (M_ARENA_MAX); 0 where the
// C library has no such setting.
static int go_limit_arenas(int n) {
#ifdef M_ARENA_MAX
	return mallopt(M_ARENA_MAX, n);
#else
	(void)n;
	return 0;
#endif
}
*/
import "C"

// limitMallocArenas caps the C library's malloc arenas at n, and reports
// whether it could (glibc: yes).
func limitMallocArenas(n int) bool { return C.go_limit_arenas(C.int(n)) == 1 }
