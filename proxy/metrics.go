package proxy

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/store/redisstore"
)

// MetricsNamespace prefixes every metric name.
const MetricsNamespace = "osslcache"

// metrics are the proxy's own counters, and a collector that reads the
// cache's counters (ossl.Stats, ossl.CallbackStats) and the store's at
// each scrape.
type metrics struct {
	reg             *prometheus.Registry
	accepted        prometheus.Counter
	active          prometheus.Gauge
	handshakes      *prometheus.CounterVec
	handshakeTime   *prometheus.HistogramVec
	handshakeErrors prometheus.Counter
	upstreamErrors  prometheus.Counter
	bytesIn         prometheus.Counter
	bytesOut        prometheus.Counter
	reloads         *prometheus.CounterVec
}

func newMetrics(s *Server) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: MetricsNamespace, Subsystem: "proxy", Name: "connections_total",
			Help: "Client connections accepted.",
		}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: MetricsNamespace, Subsystem: "proxy", Name: "active_connections",
			Help: "Client connections being served.",
		}),
		handshakes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: MetricsNamespace, Subsystem: "proxy", Name: "handshakes_total",
			Help: "TLS handshakes completed, by protocol version and whether they resumed a session.",
		}, []string{"version", "resumed"}),
		handshakeTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: MetricsNamespace, Subsystem: "proxy", Name: "handshake_seconds",
			Help:    "Time from accept to the end of the TLS handshake.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"resumed"}),
		handshakeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: MetricsNamespace, Subsystem: "proxy", Name: "handshake_errors_total",
			Help: "TLS handshakes that failed or timed out.",
		}),
		upstreamErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: MetricsNamespace, Subsystem: "proxy", Name: "upstream_dial_errors_total",
			Help: "Connections to the upstream that failed.",
		}),
		bytesIn: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: MetricsNamespace, Subsystem: "proxy", Name: "client_bytes_total",
			Help: "Plaintext bytes relayed from clients to the upstream.",
		}),
		bytesOut: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: MetricsNamespace, Subsystem: "proxy", Name: "upstream_bytes_total",
			Help: "Plaintext bytes relayed from the upstream to clients.",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: MetricsNamespace, Subsystem: "proxy", Name: "reloads_total",
			Help: "Reloads (Server.Reload, SIGHUP) of the certificate, the ticket keys and the Redis keys, by what and result (ok, error: the previous one stays in force).",
		}, []string{"what", "result"}),
	}
	for _, what := range []string{"certificate", "ticket keys", "redis keys"} {
		for _, r := range []string{"ok", "error"} {
			m.reloads.WithLabelValues(reloadLabel(what), r)
		}
	}
	m.reg.MustRegister(m.accepted, m.active, m.handshakes, m.handshakeTime, m.handshakeErrors,
		m.upstreamErrors, m.bytesIn, m.bytesOut, m.reloads, &cacheCollector{s: s},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) handshake(v ossl.Version, resumed bool, d time.Duration) {
	r := strconv.FormatBool(resumed)
	m.handshakes.WithLabelValues(v.String(), r).Inc()
	m.handshakeTime.WithLabelValues(r).Observe(d.Seconds())
}

func (m *metrics) reload(what string, err error) {
	r := "ok"
	if err != nil {
		r = "error"
	}
	m.reloads.WithLabelValues(reloadLabel(what), r).Inc()
}

// reloadLabel is what's label: "ticket keys" is ticket_keys.
func reloadLabel(what string) string { return strings.ReplaceAll(what, " ", "_") }

// MetricsHandler serves the Prometheus text exposition of the proxy's,
// the cache's and the store's metrics, and Go's runtime metrics.
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.m.reg, promhttp.HandlerOpts{})
}

// Registry returns the registry MetricsHandler serves, to add metrics.
func (s *Server) Registry() *prometheus.Registry { return s.m.reg }

// statMetric is one counter or gauge read from a stats struct.
type statMetric[T any] struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(T) float64
}

func counter[T any](subsystem, name, help string, v func(T) int64) statMetric[T] {
	return statMetric[T]{
		desc:  prometheus.NewDesc(prometheus.BuildFQName(MetricsNamespace, subsystem, name+"_total"), help, nil, nil),
		kind:  prometheus.CounterValue,
		value: func(t T) float64 { return float64(v(t)) },
	}
}

func gauge[T any](subsystem, name, help string, v func(T) float64) statMetric[T] {
	return statMetric[T]{
		desc:  prometheus.NewDesc(prometheus.BuildFQName(MetricsNamespace, subsystem, name), help, nil, nil),
		kind:  prometheus.GaugeValue,
		value: v,
	}
}

// sslStats are SSL_CTX_sess_number(3) and the SSL_CTX_sess_* counters.
var sslStats = []statMetric[ossl.Stats]{
	gauge("session_cache", "sessions", "Sessions in libssl's internal cache (SSL_CTX_sess_number).", func(s ossl.Stats) float64 { return float64(s.Sessions) }),
	counter("session_cache", "accept", "Server handshakes started (SSL_CTX_sess_accept).", func(s ossl.Stats) int64 { return s.Accept }),
	counter("session_cache", "accept_good", "Server handshakes completed (SSL_CTX_sess_accept_good).", func(s ossl.Stats) int64 { return s.AcceptGood }),
	counter("session_cache", "accept_renegotiate", "Server renegotiations started (SSL_CTX_sess_accept_renegotiate).", func(s ossl.Stats) int64 { return s.AcceptRenegotiate }),
	counter("session_cache", "connect", "Client handshakes started (SSL_CTX_sess_connect).", func(s ossl.Stats) int64 { return s.Connect }),
	counter("session_cache", "connect_good", "Client handshakes completed (SSL_CTX_sess_connect_good).", func(s ossl.Stats) int64 { return s.ConnectGood }),
	counter("session_cache", "connect_renegotiate", "Client renegotiations started (SSL_CTX_sess_connect_renegotiate).", func(s ossl.Stats) int64 { return s.ConnectRenegotiate }),
	counter("session_cache", "hits", "Sessions resumed, from the internal cache or the store (SSL_CTX_sess_hits).", func(s ossl.Stats) int64 { return s.Hits }),
	counter("session_cache", "callback_hits", "Sessions found by the get callback, i.e. the store (SSL_CTX_sess_cb_hits).", func(s ossl.Stats) int64 { return s.CallbackHits }),
	counter("session_cache", "misses", "Proposed sessions not found (SSL_CTX_sess_misses).", func(s ossl.Stats) int64 { return s.Misses }),
	counter("session_cache", "timeouts", "Proposed sessions found but expired (SSL_CTX_sess_timeouts).", func(s ossl.Stats) int64 { return s.Timeouts }),
	counter("session_cache", "cache_full", "Sessions evicted because the internal cache was full (SSL_CTX_sess_cache_full).", func(s ossl.Stats) int64 { return s.CacheFull }),
}

// callbackStats are ossl.CallbackStats: what the session callbacks did.
var callbackStats = []statMetric[ossl.CallbackStats]{
	counter("callback", "new_calls", "New-session callbacks on the server.", func(s ossl.CallbackStats) int64 { return s.NewCalls }),
	counter("callback", "stored", "Sessions the store accepted.", func(s ossl.CallbackStats) int64 { return s.Stored }),
	counter("callback", "store_errors", "Store Put errors.", func(s ossl.CallbackStats) int64 { return s.StoreErrors }),
	counter("callback", "get_calls", "Get-session callbacks (lookups in the store).", func(s ossl.CallbackStats) int64 { return s.GetCalls }),
	counter("callback", "get_hits", "Sessions the store returned and libssl was handed.", func(s ossl.CallbackStats) int64 { return s.GetHits }),
	counter("callback", "get_misses", "Lookups the store had nothing for.", func(s ossl.CallbackStats) int64 { return s.GetMisses }),
	counter("callback", "get_errors", "Store Get errors.", func(s ossl.CallbackStats) int64 { return s.GetErrors }),
	counter("callback", "timeouts", "Store calls abandoned at the lookup timeout.", func(s ossl.CallbackStats) int64 { return s.Timeouts }),
	counter("callback", "rejected", "Sessions from the store refused (wrong ID, expired, other id context, not resumable).", func(s ossl.CallbackStats) int64 { return s.Rejected }),
	counter("callback", "remove_calls", "Remove-session callbacks.", func(s ossl.CallbackStats) int64 { return s.RemoveCalls }),
	counter("callback", "remove_errors", "Store Delete errors.", func(s ossl.CallbackStats) int64 { return s.RemoveErrors }),
	counter("callback", "remove_skipped", "Removes not forwarded because the context was being freed.", func(s ossl.CallbackStats) int64 { return s.RemoveSkipped }),
	counter("callback", "client_puts", "Client sessions handed to a ClientSessionCache.", func(s ossl.CallbackStats) int64 { return s.ClientPuts }),
	counter("callback", "panics", "Panics recovered in store code.", func(s ossl.CallbackStats) int64 { return s.Panics }),
}

// redisStats are redisstore.Stats.
var redisStats = []statMetric[redisstore.Stats]{
	counter("redis", "gets", "Lookups in Redis.", func(s redisstore.Stats) int64 { return s.Gets }),
	counter("redis", "hits", "Lookups that found a session and opened it.", func(s redisstore.Stats) int64 { return s.Hits }),
	counter("redis", "misses", "Lookups of absent keys (replays included).", func(s redisstore.Stats) int64 { return s.Misses }),
	counter("redis", "replays", "Single-use lookups of a session already consumed (a blob put back after its use); each is a miss.", func(s redisstore.Stats) int64 { return s.Replays }),
	counter("redis", "puts", "Sessions written.", func(s redisstore.Stats) int64 { return s.Puts }),
	counter("redis", "expired", "Sessions not written because they had expired.", func(s redisstore.Stats) int64 { return s.Expired }),
	counter("redis", "skipped", "Sessions of stateless TLS 1.3 tickets not written (libssl never looks them up).", func(s redisstore.Stats) int64 { return s.Skipped }),
	counter("redis", "refused", "Store calls refused because single use cannot hold under the context's setup.", func(s redisstore.Stats) int64 { return s.Refused }),
	counter("redis", "deletes", "Sessions deleted.", func(s redisstore.Stats) int64 { return s.Deletes }),
	counter("redis", "sealed", "Sessions sealed (AES-256-GCM) on write.", func(s redisstore.Stats) int64 { return s.Sealed }),
	counter("redis", "opened", "Sealed sessions opened on lookup.", func(s redisstore.Stats) int64 { return s.Opened }),
	counter("redis", "plaintext_read", "Unsealed sessions accepted on lookup (read_plaintext=1).", func(s redisstore.Stats) int64 { return s.PlaintextRead }),
	counter("redis", "open_failures", "Stored values that did not open (tampered, foreign, unknown key); each is a miss.", func(s redisstore.Stats) int64 { return s.OpenFailures }),
	counter("redis", "errors", "Failed Redis commands, timeouts included.", func(s redisstore.Stats) int64 { return s.RedisErrors }),
	counter("redis", "timeouts", "Redis commands that timed out.", func(s redisstore.Stats) int64 { return s.Timeouts }),
	counter("redis", "outages", "Times Redis stopped answering after it had answered (at most one per 10 s; each is logged).", func(s redisstore.Stats) int64 { return s.Outages }),
	gauge("redis", "connections", "Connections in the Redis pool.", func(s redisstore.Stats) float64 { return float64(s.Conns) }),
	gauge("redis", "idle_connections", "Idle connections in the Redis pool.", func(s redisstore.Stats) float64 { return float64(s.IdleConns) }),
}

var (
	memorySessions = prometheus.NewDesc(prometheus.BuildFQName(MetricsNamespace, "memory", "sessions"),
		"Sessions held by the in-process store.", nil, nil)
	ticketKeys = prometheus.NewDesc(prometheus.BuildFQName(MetricsNamespace, "proxy", "ticket_keys"),
		"Stateless ticket keys installed (the first seals, all open); 0: libssl's own per-process key.", nil, nil)
	certNotAfter = prometheus.NewDesc(prometheus.BuildFQName(MetricsNamespace, "proxy", "certificate_not_after_seconds"),
		"Expiry (Unix time) of the certificate served to new connections.", nil, nil)
)

// cacheCollector reads the context's and the store's counters at scrape
// time.
type cacheCollector struct{ s *Server }

func (c *cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range sslStats {
		ch <- m.desc
	}
	for _, m := range callbackStats {
		ch <- m.desc
	}
	if c.s.store.redis != nil {
		for _, m := range redisStats {
			ch <- m.desc
		}
	}
	if c.s.store.memory != nil {
		ch <- memorySessions
	}
	ch <- ticketKeys
	ch <- certNotAfter
}

func (c *cacheCollector) Collect(ch chan<- prometheus.Metric) {
	emit(ch, sslStats, c.s.ctx.Stats())
	emit(ch, callbackStats, c.s.ctx.CallbackStats())
	if r := c.s.store.redis; r != nil {
		emit(ch, redisStats, r.Stats())
	}
	if m := c.s.store.memory; m != nil {
		ch <- prometheus.MustNewConstMetric(memorySessions, prometheus.GaugeValue, float64(m.Len()))
	}
	ch <- prometheus.MustNewConstMetric(ticketKeys, prometheus.GaugeValue, float64(c.s.ctx.TicketKeyCount()))
	ch <- prometheus.MustNewConstMetric(certNotAfter, prometheus.GaugeValue, float64(c.s.loaded.Load().leaf.NotAfter.Unix()))
}

func emit[T any](ch chan<- prometheus.Metric, ms []statMetric[T], v T) {
	for _, m := range ms {
		ch <- prometheus.MustNewConstMetric(m.desc, m.kind, m.value(v))
	}
}
