// session_cgo.c holds package ossl's SSL_SESSION shims: times across the
// 1.1.1/3.x API change, saturated expiry arithmetic, DER in and out, and
// the one-call check of a session a store returned.
#include <string.h>
#include <time.h>
#include "shim.h"

int64_t go_session_get_time(const SSL_SESSION *s) {
#if OPENSSL_VERSION_NUMBER >= 0x30300000L
	return (int64_t)SSL_SESSION_get_time_ex(s);
#else
	return (int64_t)SSL_SESSION_get_time(s);
#endif
}

int go_session_set_time(SSL_SESSION *s, int64_t t) {
#if OPENSSL_VERSION_NUMBER >= 0x30300000L
	return SSL_SESSION_set_time_ex(s, (time_t)t) != 0;
#else
	return SSL_SESSION_set_time(s, (long)t) != 0;
#endif
}

int64_t go_session_get_timeout(const SSL_SESSION *s) {
	return (int64_t)SSL_SESSION_get_timeout(s);
}

// go_session_expires returns time + timeout in seconds, saturated: a
// session's fields come from DER a peer or a store may have forged.
int64_t go_session_expires(const SSL_SESSION *s) {
	int64_t t = go_session_get_time(s), d = go_session_get_timeout(s);
	if (d > 0 && t > INT64_MAX - d)
		return INT64_MAX;
	if (d < 0 && t < INT64_MIN - d)
		return INT64_MIN;
	return t + d;
}

SSL_SESSION *go_d2i_session(const unsigned char *der, long len, long *consumed) {
	const unsigned char *p = der;
	SSL_SESSION *s = d2i_SSL_SESSION(NULL, &p, len);
	*consumed = (long)(p - der);
	return s;
}

int go_i2d_session(SSL_SESSION *s, unsigned char *out) {
	unsigned char *p = out;
	return i2d_SSL_SESSION(s, out != NULL ? &p : NULL);
}

// go_session_check says why libssl must not be handed s for a lookup of id
// made under sid_ctx at time now, in one call: 0 fine, 1 another session's
// ID, 2 expired, 3 not resumable, 4 another id context (checked only when
// check_sid is set).
int go_session_check(const SSL_SESSION *s, const unsigned char *id, unsigned int id_len,
                     const unsigned char *sid_ctx, unsigned int sid_len, int check_sid, int64_t now) {
	unsigned int n;
	const unsigned char *sid = SSL_SESSION_get_id(s, &n);
	if (n != id_len || memcmp(sid, id, n) != 0)
		return 1;
	if (go_session_expires(s) <= now)
		return 2;
	if (!SSL_SESSION_is_resumable(s))
		return 3;
	if (check_sid) {
		const unsigned char *c = SSL_SESSION_get0_id_context(s, &n);
		if (n != sid_len || (n > 0 && memcmp(c, sid_ctx, n) != 0))
			return 4;
	}
	return 0;
}
