// psk_cgo.c holds package ossl's TLS 1.3 external PSK shims: the
// trampolines of SSL_CTX_set_psk_use_session_callback(3) and
// SSL_CTX_set_psk_find_session_callback(3), and the making of a PSK
// session.
#include <string.h>
#include "shim.h"
#include "_cgo_export.h"

// The identity a client's use-session callback returns must stay valid
// until the handshake completes: it is kept in the SSL's ex_data, freed
// with it (go_init_ex_indexes allocates the slot).
extern int go_ssl_psk_id_idx;

int go_ssl_keep_psk_identity(SSL *s, const unsigned char *id, size_t len, const unsigned char **out) {
	unsigned char *dup = OPENSSL_malloc(len > 0 ? len : 1);
	if (dup == NULL)
		return 0;
	memcpy(dup, id, len);
	OPENSSL_free(SSL_get_ex_data(s, go_ssl_psk_id_idx));
	if (!SSL_set_ex_data(s, go_ssl_psk_id_idx, dup)) {
		OPENSSL_free(dup);
		return 0;
	}
	*out = dup;
	return 1;
}

static int go_psk_use_cb(SSL *s, const EVP_MD *md, const unsigned char **id, size_t *idlen, SSL_SESSION **sess) {
	uintptr_t h = go_ctx_get_handle(go_ssl_session_ctx(s));
	*sess = NULL;
	if (h == 0)
		return 1;
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
	const char *name = md != NULL ? EVP_MD_get0_name(md) : NULL;
#else
	const char *name = md != NULL ? OBJ_nid2sn(EVP_MD_type(md)) : NULL;
#endif
	return goUsePSKSession(h, s, (char *)name, (unsigned char **)id, idlen, sess);
}

static int go_psk_find_cb(SSL *s, const unsigned char *identity, size_t identity_len, SSL_SESSION **sess) {
	uintptr_t h = go_ctx_get_handle(go_ssl_session_ctx(s));
	*sess = NULL;
	if (h == 0)
		return 1;
	return goFindPSKSession(h, s, (unsigned char *)identity, (int)identity_len, sess);
}

void go_ctx_set_psk_use_callback(SSL_CTX *ctx, int on) {
	SSL_CTX_set_psk_use_session_callback(ctx, on ? go_psk_use_cb : NULL);
}

void go_ctx_set_psk_find_callback(SSL_CTX *ctx, int on) {
	SSL_CTX_set_psk_find_session_callback(ctx, on ? go_psk_find_cb : NULL);
}

// go_new_psk_session makes a TLS 1.3 session for an external PSK: the
// secret as master key, the suite (IANA id) for its handshake digest.
SSL_SESSION *go_new_psk_session(SSL_CTX *ctx, const unsigned char *secret, size_t len, uint16_t suite) {
	unsigned char id[2] = {(unsigned char)(suite >> 8), (unsigned char)suite};
	SSL_SESSION *sess = NULL;
	const SSL_CIPHER *c;
	SSL *tmp = SSL_new(ctx);
	if (tmp == NULL)
		return NULL;
	if ((c = SSL_CIPHER_find(tmp, id)) == NULL || (sess = SSL_SESSION_new()) == NULL ||
	    !SSL_SESSION_set1_master_key(sess, secret, len) || !SSL_SESSION_set_cipher(sess, c) ||
	    !SSL_SESSION_set_protocol_version(sess, TLS1_3_VERSION)) {
		SSL_SESSION_free(sess);
		sess = NULL;
	}
	SSL_free(tmp);
	return sess;
}
