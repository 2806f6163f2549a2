// errors_cgo.c reads the per-thread OpenSSL error queue for package ossl's
// *Error values, across the 1.1.1/3.x API change.
#include "shim.h"

unsigned long go_err_next(const char **file, int *line, const char **func, const char **data, int *flags) {
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
	return ERR_get_error_all(file, line, func, data, flags);
#else
	*func = NULL;
	return ERR_get_error_line_data(file, line, data, flags);
#endif
}
