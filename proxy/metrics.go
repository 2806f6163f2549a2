package proxy

import (
	"net/http"
	"reflect"
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
	earlyDataConns  *prometheus.CounterVec
	earlyDataBytes  prometheus.Counter
	idleTimeouts    prometheus.Counter
	// acceptLimited and acceptLimitedSeconds count the accept loop's
	// waits at MaxConns, and their time.
	acceptLimited        prometheus.Counter
	acceptLimitedSeconds prometheus.Counter
	maxConns             prometheus.Gauge
}

func newMetrics(s *Server) *metrics {
	m := &metrics{
		reg:      prometheus.NewRegistry(),
		accepted: proxyCounter("connections_total", "Client connections accepted."),
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
		handshakeErrors: proxyCounter("handshake_errors_total", "TLS handshakes that failed or timed out."),
		upstreamErrors:  proxyCounter("upstream_dial_errors_total", "Connections to the upstream that failed."),
		bytesIn:         proxyCounter("client_bytes_total", "Plaintext bytes relayed from clients to the upstream."),
		bytesOut:        proxyCounter("upstream_bytes_total", "Plaintext bytes relayed from the upstream to clients."),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: MetricsNamespace, Subsystem: "proxy", Name: "reloads_total",
			Help: "Reloads (Server.Reload, SIGHUP) of the certificate, the ticket keys and the Redis keys, by what and result (ok, error: the previous one stays in force).",
		}, []string{"what", "result"}),
	}
	m.earlyDataConns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: MetricsNamespace, Subsystem: "proxy", Name: "early_data_total",
		Help: "TLS 1.3 connections that sent early data (-early-data), by result: accepted, replay_rejected (the anti-replay check found the ticket used before), rejected (any other reason: the check failed, libssl's own checks).",
	}, []string{"result"})
	m.earlyDataBytes = proxyCounter("early_data_bytes_total", "Early data bytes accepted and relayed upstream before the handshake ended (also in client_bytes_total).")
	m.idleTimeouts = proxyCounter("idle_timeouts_total", "Connections closed after -idle-timeout without a byte either way.")
	m.acceptLimited = proxyCounter("accept_limited_total", "Times the accept loop waited for a connection to end because -max-conns connections were open.")
	m.acceptLimitedSeconds = proxyCounter("accept_limited_seconds_total", "Time the accept loop spent waiting at -max-conns.")
	m.maxConns = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: MetricsNamespace, Subsystem: "proxy", Name: "max_connections",
		Help: "The bound on connections served at once (-max-conns); 0: none.",
	})
	m.maxConns.Set(float64(s.cfg.MaxConns))
	for _, r := range []string{"accepted", "replay_rejected", "rejected"} {
		m.earlyDataConns.WithLabelValues(r)
	}
	for _, what := range []string{"certificate", "ticket keys", "redis keys"} {
		for _, r := range []string{"ok", "error"} {
			m.reloads.WithLabelValues(reloadLabel(what), r)
		}
	}
	m.reg.MustRegister(m.accepted, m.active, m.handshakes, m.handshakeTime, m.handshakeErrors,
		m.upstreamErrors, m.bytesIn, m.bytesOut, m.reloads, m.earlyDataConns, m.earlyDataBytes,
		m.idleTimeouts, m.acceptLimited, m.acceptLimitedSeconds, m.maxConns, &cacheCollector{s: s},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// proxyCounter is one of the proxy's own counters.
func proxyCounter(name, help string) prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Namespace: MetricsNamespace, Subsystem: "proxy", Name: name, Help: help})
}

func (m *metrics) handshake(v ossl.Version, resumed bool, d time.Duration) {
	r := strconv.FormatBool(resumed)
	m.handshakes.WithLabelValues(v.String(), r).Inc()
	m.handshakeTime.WithLabelValues(r).Observe(d.Seconds())
}

// earlyData counts a connection's early data, once its handshake is done.
func (m *metrics) earlyData(st ossl.ConnectionState, relayed int64) {
	if r := earlyDataResult(st); r != "none" {
		m.earlyDataConns.WithLabelValues(r).Inc()
	}
	m.earlyDataBytes.Add(float64(relayed))
	m.bytesIn.Add(float64(relayed))
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

// statMetric is one counter or gauge read at each scrape from a field of
// the stats struct of its subsystem: session_cache reads ossl.Stats,
// callback ossl.CallbackStats, redis redisstore.Stats.
type statMetric struct {
	subsystem, field, name string
	kind                   prometheus.ValueType
	help                   string
}

const (
	counter = prometheus.CounterValue
	gauge   = prometheus.GaugeValue
)

// statMetrics are the metrics read from stats structs; counters' names get
// _total. The fields are SSL_CTX_sess_number(3) and the SSL_CTX_sess_*
// counters, what the session callbacks did, and the Redis store's counts.
var statMetrics = []statMetric{
	{"session_cache", "Sessions", "sessions", gauge, "Sessions in libssl's internal cache (SSL_CTX_sess_number)."},
	{"session_cache", "Accept", "accept", counter, "Server handshakes started (SSL_CTX_sess_accept)."},
	{"session_cache", "AcceptGood", "accept_good", counter, "Server handshakes completed (SSL_CTX_sess_accept_good)."},
	{"session_cache", "AcceptRenegotiate", "accept_renegotiate", counter, "Server renegotiations started (SSL_CTX_sess_accept_renegotiate)."},
	{"session_cache", "Connect", "connect", counter, "Client handshakes started (SSL_CTX_sess_connect)."},
	{"session_cache", "ConnectGood", "connect_good", counter, "Client handshakes completed (SSL_CTX_sess_connect_good)."},
	{"session_cache", "ConnectRenegotiate", "connect_renegotiate", counter, "Client renegotiations started (SSL_CTX_sess_connect_renegotiate)."},
	{"session_cache", "Hits", "hits", counter, "Sessions resumed, from the internal cache or the store (SSL_CTX_sess_hits)."},
	{"session_cache", "CallbackHits", "callback_hits", counter, "Sessions found by the get callback, i.e. the store (SSL_CTX_sess_cb_hits)."},
	{"session_cache", "Misses", "misses", counter, "Proposed sessions not found (SSL_CTX_sess_misses)."},
	{"session_cache", "Timeouts", "timeouts", counter, "Proposed sessions found but expired (SSL_CTX_sess_timeouts)."},
	{"session_cache", "CacheFull", "cache_full", counter, "Sessions evicted because the internal cache was full (SSL_CTX_sess_cache_full)."},
	{"callback", "NewCalls", "new_calls", counter, "New-session callbacks on the server."},
	{"callback", "Stored", "stored", counter, "Sessions the store accepted."},
	{"callback", "StoreErrors", "store_errors", counter, "Store Put errors."},
	{"callback", "GetCalls", "get_calls", counter, "Get-session callbacks (lookups in the store)."},
	{"callback", "GetHits", "get_hits", counter, "Sessions the store returned and libssl was handed."},
	{"callback", "GetMisses", "get_misses", counter, "Lookups the store had nothing for."},
	{"callback", "GetErrors", "get_errors", counter, "Store Get errors."},
	{"callback", "Timeouts", "timeouts", counter, "Store calls abandoned at the lookup timeout."},
	{"callback", "Rejected", "rejected", counter, "Sessions from the store refused (wrong ID, expired, other id context, not resumable)."},
	{"callback", "RemoveCalls", "remove_calls", counter, "Remove-session callbacks."},
	{"callback", "RemoveErrors", "remove_errors", counter, "Store Delete errors."},
	{"callback", "RemoveSkipped", "remove_skipped", counter, "Removes not forwarded because the context was being freed."},
	{"callback", "ClientPuts", "client_puts", counter, "Client sessions handed to a ClientSessionCache."},
	{"callback", "Panics", "panics", counter, "Panics recovered in store code."},
	{"callback", "EarlyDataAllowed", "early_data_allowed", counter, "Early data the anti-replay check allowed (a ticket's first use)."},
	{"callback", "EarlyDataRefused", "early_data_refused", counter, "Early data the anti-replay check refused (a ticket used before)."},
	{"callback", "EarlyDataErrors", "early_data_errors", counter, "Anti-replay checks that failed (error, timeout, panic): early data rejected."},
	{"redis", "Gets", "gets", counter, "Lookups in Redis."},
	{"redis", "Hits", "hits", counter, "Lookups that found a session and opened it."},
	{"redis", "Misses", "misses", counter, "Lookups of absent keys (replays included)."},
	{"redis", "Replays", "replays", counter, "Single-use lookups of a session already consumed (a blob put back after its use); each is a miss."},
	{"redis", "Puts", "puts", counter, "Sessions written."},
	{"redis", "Expired", "expired", counter, "Sessions not written because they had expired."},
	{"redis", "Skipped", "skipped", counter, "Sessions of stateless TLS 1.3 tickets not written (libssl never looks them up)."},
	{"redis", "Refused", "refused", counter, "Store calls refused because single use cannot hold under the context's setup."},
	{"redis", "Deletes", "deletes", counter, "Sessions deleted."},
	{"redis", "Sealed", "sealed", counter, "Sessions sealed (AES-256-GCM) on write."},
	{"redis", "Opened", "opened", counter, "Sealed sessions opened on lookup."},
	{"redis", "PlaintextRead", "plaintext_read", counter, "Unsealed sessions accepted on lookup (read_plaintext=1)."},
	{"redis", "OpenFailures", "open_failures", counter, "Stored values that did not open (tampered, foreign, unknown key); each is a miss."},
	{"redis", "RedisErrors", "errors", counter, "Failed Redis commands, timeouts included."},
	{"redis", "Timeouts", "timeouts", counter, "Redis commands that timed out."},
	{"redis", "EarlyDataAllowed", "early_data_allowed", counter, "First uses of a ticket's early data recorded in Redis (SET NX)."},
	{"redis", "EarlyDataReplays", "early_data_replays", counter, "Early data refused: the ticket's first use was already recorded, by this server or another."},
	{"redis", "Outages", "outages", counter, "Times Redis stopped answering after it had answered (at most one per 10 s; each is logged)."},
	{"redis", "Conns", "connections", gauge, "Connections in the Redis pool."},
	{"redis", "IdleConns", "idle_connections", gauge, "Idle connections in the Redis pool."},
}

// statTypes are the stats struct each subsystem reads.
var statTypes = map[string]reflect.Type{
	"session_cache": reflect.TypeFor[ossl.Stats](),
	"callback":      reflect.TypeFor[ossl.CallbackStats](),
	"redis":         reflect.TypeFor[redisstore.Stats](),
}

// statDescs are the descriptions of statMetrics, index for index. A field
// that is not an integer of its struct panics here, when the package
// loads.
var statDescs = func() []*prometheus.Desc {
	ds := make([]*prometheus.Desc, len(statMetrics))
	for i, m := range statMetrics {
		f, ok := statTypes[m.subsystem].FieldByName(m.field)
		if !ok || !f.Type.ConvertibleTo(reflect.TypeFor[float64]()) {
			panic("proxy: no integer field " + m.field + " in the stats of " + m.subsystem)
		}
		name := m.name
		if m.kind == counter {
			name += "_total"
		}
		ds[i] = prometheus.NewDesc(prometheus.BuildFQName(MetricsNamespace, m.subsystem, name), m.help, nil, nil)
	}
	return ds
}()

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
	for i, m := range statMetrics {
		if m.subsystem != "redis" || c.s.store.redis != nil {
			ch <- statDescs[i]
		}
	}
	if c.s.store.memory != nil {
		ch <- memorySessions
	}
	ch <- ticketKeys
	ch <- certNotAfter
}

func (c *cacheCollector) Collect(ch chan<- prometheus.Metric) {
	emit(ch, "session_cache", c.s.ctx.Stats())
	emit(ch, "callback", c.s.ctx.CallbackStats())
	if r := c.s.store.redis; r != nil {
		emit(ch, "redis", r.Stats())
	}
	if m := c.s.store.memory; m != nil {
		ch <- prometheus.MustNewConstMetric(memorySessions, prometheus.GaugeValue, float64(m.Len()))
	}
	ch <- prometheus.MustNewConstMetric(ticketKeys, prometheus.GaugeValue, float64(c.s.ctx.TicketKeyCount()))
	ch <- prometheus.MustNewConstMetric(certNotAfter, prometheus.GaugeValue, float64(c.s.loaded.Load().leaf.NotAfter.Unix()))
}

// emit sends the metrics of subsystem, read from the fields of stats (a
// struct of integers).
func emit(ch chan<- prometheus.Metric, subsystem string, stats any) {
	v := reflect.ValueOf(stats)
	for i, m := range statMetrics {
		if m.subsystem == subsystem {
			ch <- prometheus.MustNewConstMetric(statDescs[i], m.kind, v.FieldByName(m.field).Convert(reflect.TypeFor[float64]()).Float())
		}
	}
}
