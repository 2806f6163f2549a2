// Package conformance checks, with real in-memory handshakes against the
// linked libssl, every claim of SSL_CTX_set_session_cache_mode(3) (and a few
// surprises the page does not mention) and reports for each claim and
// protocol variant whether it holds, deviates or does not apply, with the
// numbers it observed.
//
// The checks use only the public API of package ossl and its ossltest
// harness. Each check builds fresh contexts, observes (session counts, the
// SSL_CTX_sess_* counters, the order of the session callbacks, reuse flags on
// both sides, session times) and then decides; the decision functions are
// pure, so they are unit-tested on their own.
//
// The claims are data: claims.md (embedded) gives their IDs, text, variants
// and order; checks.go maps each ID to its check function.
//
// Run runs the suite; LoadExpectations and Compare tell whether the statuses
// still match the ones measured for the linked OpenSSL release line.
// expectations.json (embedded, read as an ExpectationsFile) holds those of
// every release line: a status per claim and variant, and the lines that
// differ from it. The osslcache command's "conform" subcommand is the front
// end.
package conformance
