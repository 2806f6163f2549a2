//go:build ossl_memdebug

// memdebug_cgo.c counts OpenSSL's live heap blocks through
// CRYPTO_set_mem_functions(3), installed before libcrypto allocates
// anything, so that leak tests can compare counts before and after
// thousands of handshakes. Built only with -tags ossl_memdebug.
#include <stdlib.h>
#include <stdatomic.h>
#include <openssl/crypto.h>

static atomic_long go_live_blocks;
static int go_memdebug_on;

static void *go_dbg_malloc(size_t n, const char *file, int line) {
	void *p = malloc(n);
	if (p != NULL)
		atomic_fetch_add(&go_live_blocks, 1);
	return p;
}

static void go_dbg_free(void *p, const char *file, int line) {
	if (p != NULL) {
		atomic_fetch_sub(&go_live_blocks, 1);
		free(p);
	}
}

static void *go_dbg_realloc(void *p, size_t n, const char *file, int line) {
	if (p == NULL)
		return go_dbg_malloc(n, file, line);
	if (n == 0) {
		go_dbg_free(p, file, line);
		return NULL;
	}
	return realloc(p, n);
}

__attribute__((constructor)) static void go_memdebug_install(void) {
	go_memdebug_on = CRYPTO_set_mem_functions(go_dbg_malloc, go_dbg_realloc, go_dbg_free);
}

long go_memdebug_live(int *on) {
	*on = go_memdebug_on;
	return atomic_load(&go_live_blocks);
}
