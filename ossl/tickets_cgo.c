// tickets_cgo.c holds package ossl's session ticket shims: the trampolines
// of SSL_CTX_set_session_ticket_cb(3), which carry ticket generation and
// decryption to Go, per-connection ticket counts, SSL_new_session_ticket,
// and the session fields tickets carry.
#include "shim.h"
#include "_cgo_export.h"

static int go_gen_ticket_cb(SSL *s, void *arg) {
	uintptr_t h = go_ctx_get_handle(go_ssl_session_ctx(s));
	if (h == 0)
		return 1;
	return goGenerateTicket(h, s);
}

static SSL_TICKET_RETURN go_dec_ticket_cb(SSL *s, SSL_SESSION *ss, const unsigned char *keyname, size_t keyname_len,
                                          SSL_TICKET_STATUS status, void *arg) {
	uintptr_t h = go_ctx_get_handle(go_ssl_session_ctx(s));
	if (h == 0)
		return status == SSL_TICKET_SUCCESS ? SSL_TICKET_RETURN_USE : SSL_TICKET_RETURN_IGNORE_RENEW;
	return (SSL_TICKET_RETURN)goDecryptTicket(h, s, ss, (unsigned char *)keyname, (int)keyname_len, (int)status);
}

int go_ctx_set_ticket_callbacks(SSL_CTX *ctx, int on) {
	return SSL_CTX_set_session_ticket_cb(ctx, on ? go_gen_ticket_cb : NULL, on ? go_dec_ticket_cb : NULL, NULL);
}

int go_ssl_set_ticket_appdata(SSL *s, const unsigned char *data, int len) {
	SSL_SESSION *sess = SSL_get_session(s);
	if (sess == NULL)
		return 0;
	return SSL_SESSION_set1_ticket_appdata(sess, data, (size_t)len);
}

const unsigned char *go_session_ticket_appdata(SSL_SESSION *s, size_t *len) {
	void *data = NULL;
	*len = 0;
	if (!SSL_SESSION_get0_ticket_appdata(s, &data, len))
		return NULL;
	return data;
}

const char *go_session_hostname(const SSL_SESSION *s) { return SSL_SESSION_get0_hostname(s); }
unsigned long go_session_ticket_lifetime_hint(const SSL_SESSION *s) { return SSL_SESSION_get_ticket_lifetime_hint(s); }
int go_session_has_ticket(const SSL_SESSION *s) { return SSL_SESSION_has_ticket(s); }

int go_ssl_set_num_tickets(SSL *s, size_t n) { return SSL_set_num_tickets(s, n); }
size_t go_ssl_get_num_tickets(SSL *s) { return SSL_get_num_tickets(s); }
int go_ssl_new_session_ticket(SSL *s) {
#if GO_HAVE_NEW_SESSION_TICKET
	return SSL_new_session_ticket(s);
#else
	(void)s;
	return 0;
#endif
}

// Per-connection setup that cgo cannot call or that 1.1.1 spells otherwise.
void go_ssl_set_post_handshake_auth(SSL *s, int on) { SSL_set_post_handshake_auth(s, on); }
int go_ssl_verify_client_post_handshake(SSL *s) { return SSL_verify_client_post_handshake(s); }
void go_ssl_set_verify(SSL *s, int mode) { SSL_set_verify(s, mode, NULL); }
