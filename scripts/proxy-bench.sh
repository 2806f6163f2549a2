#!/usr/bin/env bash
# proxy-bench.sh — CPU time per TLS handshake of `osslcache serve` against
# nginx (stream module, ssl_session_cache shared) and HAProxy, terminating
# TLS side by side in one run in front of the same plaintext upstream (a
# separate nginx answering "200 ok"), with the same certificate (ECDSA
# P-256) and the same load: CLIENTS parallel `openssl s_time -www /` for
# SECONDS per cell, rounds interleaved. The CPU time is the terminator's
# own (utime + stime of /proc/PID/stat, master and workers for nginx),
# divided by the connections s_time completed. Then the memory each holds
# per idle established connection (RSS growth with IDLE connections open,
# handshake done, upstream connected, nothing sent).
#
# Peers, one process each (nginx: worker_processes 1, HAProxy: nbthread
# 1; serve: GOMAXPROCS as Go sets it), every one with TLS 1.2-1.3 and
# tickets off, so that resumption goes through each one's session cache:
#   nginx          ssl_session_cache shared:SSL:10m; ssl_session_tickets off
#   haproxy        its shared cache (tune.ssl.cachesize), no-tls-tickets
#   serve-memory   osslcache serve -store memory -no-ticket
#   serve-none     osslcache serve -store none -cache-mode SERVER -no-ticket
#   serve-redis    osslcache serve -store redis://... -no-ticket, on a
#                  redis-server started by scripts/redis-server.sh
# The rows: resumed TLS 1.2 (session IDs), resumed TLS 1.3 (stateful
# tickets), full TLS 1.2, full TLS 1.3 (s_time -reuse or -new, -tls1_2 or
# -tls1_3). Every cell is preceded, once per peer, by a one-second warm-up.
#
# Then the same without TLS, as the floor of what Go's runtime costs per
# proxied connection: nginx's stream module (the same process, a server
# without ssl) and internal/plainproxy (net and io.Copy), 1000 x SECONDS
# new connections a cell, from CLIENTS h2load --h1 clients sending
# Connection: close (h2load's -D hangs with it).
#
# Installs nginx, libnginx-mod-stream, haproxy, redis-server, openssl,
# nghttp2-client (h2load) and iproute2 (ss) from Debian when missing;
# builds ./cmd/osslcache and ./internal/plainproxy.
#
# Usage: scripts/proxy-bench.sh [-seconds S] [-rounds R] [-clients C]
#                               [-idle N] [-peers "nginx haproxy ..."]
#   -seconds  length of each s_time run (6)
#   -rounds   rounds; the table shows medians (3; 0 skips the CPU table)
#   -clients  parallel s_time processes (2)
#   -idle     idle connections held for the memory measurement; 0 skips it
#             (1000)
#   -peers    which peers, nginx first (all five)
# Ports PROXY_BENCH_PORT (19400: the upstream) to PROXY_BENCH_PORT+7 (the
# peers) and PROXY_BENCH_PORT+9 (Redis), on 127.0.0.1. Exits non-zero if a
# connection failed, a resumed row did not resume or nothing came back
# from the upstream.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=6 rounds=3 clients=2 idle=1000
peers="nginx haproxy serve-memory serve-none serve-redis"
while (($#)); do
	case $1 in
	-seconds) seconds=$2; shift 2 ;;
	-rounds) rounds=$2; shift 2 ;;
	-clients) clients=$2; shift 2 ;;
	-idle) idle=$2; shift 2 ;;
	-peers) peers=$2; shift 2 ;;
	*) echo "usage: $0 [-seconds S] [-rounds R] [-clients C] [-idle N] [-peers LIST]" >&2; exit 2 ;;
	esac
done
read -ra peers <<<"$peers"
[[ ${peers[0]} == nginx ]] || { echo "proxy-bench: -peers must start with nginx (the ratios' base)" >&2; exit 2; }
base=${PROXY_BENCH_PORT:-19400}
upport=$base
declare -A port=([nginx]=$((base + 1)) [haproxy]=$((base + 2)) [serve-memory]=$((base + 3)) [serve-none]=$((base + 4)) [serve-redis]=$((base + 5))
	[nginx-plain]=$((base + 6)) [go-plain]=$((base + 7)))
redisport=$((base + 9))

log() { echo "proxy-bench: $*" >&2; }

. scripts/bench-lib.sh
bench_install nginx:nginx /usr/lib/nginx/modules/ngx_stream_module.so:libnginx-mod-stream haproxy:haproxy \
	openssl:openssl redis-server:redis-server ss:iproute2 h2load:nghttp2-client
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)

tmp=$(mktemp -d /tmp/osslcache-proxy-bench.XXXXXX)
chmod 755 "$tmp" # nginx workers (nobody) use its temp directories
declare -A pids  # peer -> the pids whose CPU time counts
bgpids=()        # processes started in the background, to stop at the end
redis_started=0
cleanup() {
	local p
	for p in "${bgpids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "$tmp"/*.pid; do [[ -s $p ]] && kill "$(cat "$p")" 2>/dev/null || true; done
	((redis_started)) && bash scripts/redis-server.sh stop "$redisport" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

bench_cert "$tmp"
cat "$tmp/cert.pem" "$tmp/key.pem" >"$tmp/haproxy.pem"
printf 'k1:%s\n' "$(head -c 32 /dev/urandom | base64)" >"$tmp/redis.keys"
chmod 600 "$tmp/redis.keys"
go build -o "$tmp/osslcache" ./cmd/osslcache
go build -o "$tmp/plainproxy" ./internal/plainproxy

# ---- the upstream and the peers ----

ngx_common() { # name: the lines every nginx of ours has
	cat <<EOF
$([[ $1 == nginx ]] && echo "load_module /usr/lib/nginx/modules/ngx_stream_module.so;")
worker_processes 1;
worker_rlimit_nofile 65536;
pid $tmp/$1.pid;
error_log $tmp/$1-error.log warn;
events { worker_connections 16384; }
EOF
}

start_nginx() { # name, config body
	{ ngx_common "$1"; echo "$2"; } >"$tmp/$1.conf"
	"$NGINX" -c "$tmp/$1.conf" -p "$tmp" -g 'daemon on;' || { log "nginx ($1) did not start:"; cat "$tmp/$1-error.log" >&2; exit 1; }
}

start_upstream() {
	start_nginx upstream "http {
  access_log off;
  client_body_temp_path $tmp/body; proxy_temp_path $tmp/proxy; fastcgi_temp_path $tmp/fastcgi;
  uwsgi_temp_path $tmp/uwsgi; scgi_temp_path $tmp/scgi;
  client_header_timeout 600s;
  server {
    listen 127.0.0.1:$upport;
    location / { default_type text/plain; return 200 \"ok\\n\"; }
  }
}"
	bench_wait_port "$upport"
}

start_peer() { # peer
	local p=$1 pp=${port[$1]} serve_flags=()
	case $p in
	nginx)
		start_nginx nginx "stream {
  server {
    listen 127.0.0.1:$pp ssl;
    ssl_certificate $tmp/cert.pem;
    ssl_certificate_key $tmp/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:10m;
    ssl_session_tickets off;
    proxy_pass 127.0.0.1:$upport;
  }
  server {
    listen 127.0.0.1:${port[nginx-plain]};
    proxy_pass 127.0.0.1:$upport;
  }
}"
		bench_wait_port "$pp"
		pids[nginx]="$(cat "$tmp/nginx.pid") $(pgrep -P "$(cat "$tmp/nginx.pid")" | tr '\n' ' ')"
		pids[nginx-plain]=${pids[nginx]}
		return
		;;
	go-plain)
		"$tmp/plainproxy" "127.0.0.1:$pp" "127.0.0.1:$upport" 2>"$tmp/go-plain.log" &
		pids[go-plain]=$!
		bgpids+=($!)
		bench_wait_port "$pp" || { cat "$tmp/go-plain.log" >&2; exit 1; }
		return
		;;
	haproxy)
		cat >"$tmp/haproxy.cfg" <<EOF
global
  nbthread 1
  maxconn 8000
  ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets
defaults
  mode tcp
  timeout connect 5s
  timeout client 600s
  timeout server 600s
frontend tls
  bind 127.0.0.1:$pp ssl crt $tmp/haproxy.pem
  default_backend upstream
backend upstream
  server upstream 127.0.0.1:$upport
EOF
		"$HAPROXY" -f "$tmp/haproxy.cfg" -db >"$tmp/haproxy.log" 2>&1 &
		pids[haproxy]=$!
		bgpids+=($!)
		bench_wait_port "$pp" || { cat "$tmp/haproxy.log" >&2; exit 1; }
		return
		;;
	serve-memory) serve_flags=(-store memory) ;;
	serve-none) serve_flags=(-store none -cache-mode SERVER) ;;
	serve-redis)
		bash scripts/redis-server.sh start "$redisport" >&2
		redis_started=1
		serve_flags=(-store "redis://127.0.0.1:$redisport/?prefix=proxy-bench" -redis-key-file "$tmp/redis.keys")
		;;
	*) log "unknown peer $p"; exit 2 ;;
	esac
	"$tmp/osslcache" serve -listen "127.0.0.1:$pp" -upstream "127.0.0.1:$upport" -cert "$tmp/cert.pem" -key "$tmp/key.pem" \
		-no-ticket "${serve_flags[@]}" 2>"$tmp/$p.log" &
	pids[$p]=$!
	bgpids+=($!)
	bench_wait_port "$pp" || { cat "$tmp/$p.log" >&2; exit 1; }
}

# cpu_ticks PIDS...: utime + stime of the processes, in clock ticks (the
# fields after the command name, which may hold spaces).
cpu_ticks() {
	local p t=0
	for p in "$@"; do
		t=$((t + $(sed 's/^.*) //' "/proc/$p/stat" | awk '{ print $12 + $13 }')))
	done
	echo "$t"
}

# rss_kb PIDS...: their resident memory, in KiB.
rss_kb() {
	local p t=0
	for p in "$@"; do
		t=$((t + $(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status")))
	done
	echo "$t"
}
hz=$(getconf CLK_TCK)

# The rows: name | what | s_time flags
rows=(
	"resumed-1.2|resumed TLS 1.2 (session ID)|-reuse -tls1_2"
	"resumed-1.3|resumed TLS 1.3 (stateful ticket)|-reuse -tls1_3"
	"full-1.2|full TLS 1.2|-new -tls1_2"
	"full-1.3|full TLS 1.3|-new -tls1_3"
)

failed=0
# s_time_run PEER SECONDS FLAGS...: CLIENTS s_time in parallel; sets n
# (connections), k (resumed) and us (the peer's CPU µs per connection).
s_time_run() {
	local p=$1 secs=$2 c t0 t1 out got bytes
	shift 2
	# shellcheck disable=SC2086
	t0=$(cpu_ticks ${pids[$p]})
	local st=()
	for c in $(seq 1 "$clients"); do
		openssl s_time -connect "127.0.0.1:${port[$p]}" -www / -time "$secs" "$@" >"$tmp/s_time.$c" 2>&1 &
		st+=($!)
	done
	for c in "${st[@]}"; do wait "$c" || true; done
	# shellcheck disable=SC2086
	t1=$(cpu_ticks ${pids[$p]})
	n=0 k=0
	for c in $(seq 1 "$clients"); do
		out=$tmp/s_time.$c
		got=$(sed -n 's/^\([0-9]*\) connections in [0-9.]* real seconds, \([0-9]*\) bytes read per connection.*/\1 \2/p' "$out")
		read -r got bytes <<<"${got:-0 0}"
		if ((got == 0 || bytes == 0)); then
			log "$p: s_time $* failed or read nothing from the upstream:"
			tail -n 5 "$out" >&2
			failed=1
		fi
		n=$((n + got))
		k=$((k + $(grep -E '^[r*]+$' "$out" | tr -cd 'r' | wc -c)))
	done
	us=$(awk -v t=$((t1 - t0)) -v hz="$hz" -v n="$n" 'BEGIN { if (n > 0) printf "%.1f", t / hz * 1e6 / n; else print 0 }')
}

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $(go version | cut -d' ' -f3), $(openssl version), $("$NGINX" -v 2>&1 | cut -d' ' -f3), HAProxy $("$HAPROXY" -v | sed -n 's/^HAProxy version \([^ ]*\).*/\1/p'), Redis $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')"
echo "# $clients x openssl s_time -www / for ${seconds}s per cell, $rounds rounds, peers: ${peers[*]}"

start_upstream
for p in "${peers[@]}"; do
	start_peer "$p"
	s_time_run "$p" 1 -new >/dev/null # warm-up: caches, heaps, the Redis pool
done

declare -A cpu ratios res conns
for r in $(seq 1 "$rounds"); do
	for row in "${rows[@]}"; do
		IFS='|' read -r name what flags <<<"$row"
		# Rotate the order of the peers from round to round.
		order=()
		for i in "${!peers[@]}"; do order+=("${peers[$(((i + r - 1) % ${#peers[@]}))]}"); done
		declare -A this=()
		for p in "${order[@]}"; do
			# shellcheck disable=SC2086
			s_time_run "$p" "$seconds" $flags
			this[$p]=$us
			cpu[$name,$p]+="$us "
			conns[$name,$p]=$((${conns[$name,$p]:-0} + n))
			res[$name,$p]=$((${res[$name,$p]:-0} + k))
			log "round $r, $name, $p: $n connections, $k resumed, $us µs CPU each"
			if [[ $name == resumed-* ]] && ((k * 100 < n * 95)); then
				log "$p: only $k of $n connections resumed in a resumed row"
				failed=1
			fi
		done
		for p in "${peers[@]}"; do
			ratios[$name,$p]+="$(awk -v a="${this[$p]}" -v b="${this[nginx]}" 'BEGIN { if (b > 0) printf "%.4f", a / b; else print 0 }') "
		done
		unset this
	done
done

((rounds > 0)) && {
echo
echo "CPU time per handshake, µs (median of $rounds rounds), and its ratio to nginx's (median of the rounds' ratios; range):"
echo
printf '| handshake | s_time |'
for p in "${peers[@]}"; do printf ' %s |' "$p"; done
printf '\n|---|---|'
for _ in "${peers[@]}"; do printf -- '---:|'; done
echo
for row in "${rows[@]}"; do
	IFS='|' read -r name what flags <<<"$row"
	printf '| %s | `%s` |' "$what" "$flags"
	for p in "${peers[@]}"; do
		us=$(bench_median <<<"${cpu[$name,$p]}")
		if [[ $p == nginx ]]; then
			printf ' %.0f |' "$us"
		else
			printf ' %.0f (%.2fx, %s) |' "$us" "$(bench_median <<<"${ratios[$name,$p]}")" "$(bench_range '%.2f' <<<"${ratios[$name,$p]}")"
		fi
	done
	echo
done
echo
printf 'Connections per cell (all rounds) and share resumed:'
for row in "${rows[@]}"; do
	IFS='|' read -r name _ _ <<<"$row"
	printf '\n  %s:' "$name"
	for p in "${peers[@]}"; do
		printf ' %s %d (%s%% resumed);' "$p" "${conns[$name,$p]}" "$(awk -v n="${conns[$name,$p]}" -v k="${res[$name,$p]}" 'BEGIN { printf "%.1f", n ? 100 * k / n : 0 }')"
	done
done
echo
}

# ---- the floor: proxying without TLS ----

# h2load_run PEER SECONDS: CLIENTS h2load clients, a connection per
# request; sets n (requests that succeeded) and us (CPU µs per connection).
h2load_run() {
	local p=$1 secs=$2 t0 t1 total
	# shellcheck disable=SC2086
	t0=$(cpu_ticks ${pids[$p]})
	timeout 300 h2load --h1 -c "$clients" -n $((secs * 1000)) -H 'Connection: close' "http://127.0.0.1:${port[$p]}/" >"$tmp/h2load.out" 2>&1 || true
	# shellcheck disable=SC2086
	t1=$(cpu_ticks ${pids[$p]})
	read -r total n < <(sed -n 's/^requests: \([0-9]*\) total, [0-9]* started, [0-9]* done, \([0-9]*\) succeeded.*/\1 \2/p' "$tmp/h2load.out") || true
	n=${n:-0}
	if ((n == 0 || n + 2 * clients < ${total:-0})); then
		log "$p: h2load failed (${n} of ${total:-0} succeeded):"
		tail -n 5 "$tmp/h2load.out" >&2
		failed=1
	fi
	us=$(awk -v t=$((t1 - t0)) -v hz="$hz" -v n="$n" 'BEGIN { if (n > 0) printf "%.1f", t / hz * 1e6 / n; else print 0 }')
}

if ((rounds > 0)) && [[ " ${peers[*]} " == *" nginx "* ]]; then
	start_peer go-plain
	h2load_run go-plain 1 # warm-up
	h2load_run nginx-plain 1
	declare -A plain=() plainratios=() this=()
	for r in $(seq 1 "$rounds"); do
		order=(nginx-plain go-plain)
		((r % 2 == 0)) && order=(go-plain nginx-plain)
		for p in "${order[@]}"; do
			h2load_run "$p" "$seconds"
			this[$p]=$us
			plain[$p]+="$us "
			log "round $r, plaintext, $p: $n connections, $us µs CPU each"
		done
		plainratios[go-plain]+="$(awk -v a="${this[go-plain]}" -v b="${this[nginx-plain]}" 'BEGIN { if (b > 0) printf "%.4f", a / b; else print 0 }') "
	done
	echo
	echo "Without TLS, the floor: CPU time per proxied connection, µs (median of $rounds rounds), h2load --h1 -c $clients -n $((seconds * 1000)) -H Connection:close:"
	echo
	echo "| proxy | µs per connection | ratio to nginx |"
	echo "|---|---:|---:|"
	printf '| nginx stream, no ssl | %.0f | |\n' "$(bench_median <<<"${plain[nginx-plain]}")"
	printf '| Go: net + io.Copy (internal/plainproxy) | %.0f | %.2fx (%s) |\n' "$(bench_median <<<"${plain[go-plain]}")" \
		"$(bench_median <<<"${plainratios[go-plain]}")" "$(bench_range '%.2f' <<<"${plainratios[go-plain]}")"
fi

# ---- memory per idle established connection ----

# established_to_upstream: connections the upstream has accepted and holds.
established_to_upstream() { ss -Htn state established "( sport = :$upport )" | wc -l; }

if ((idle > 0)); then
	echo
	echo "Memory per idle connection: RSS growth with $idle connections open (TLS 1.3 handshake done, upstream connected, nothing sent):"
	echo
	echo "| peer | RSS before, MiB | RSS with $idle idle, MiB | KiB per connection |"
	echo "|---|---:|---:|---:|"
	for p in "${peers[@]}"; do
		# shellcheck disable=SC2086
		before=$(rss_kb ${pids[$p]})
		"$tmp/osslcache" load -addr "127.0.0.1:${port[$p]}" -ca "$tmp/cert.pem" -tls 1.3 -client go \
			-conns "$idle" -concurrency 8 -resume-share 0 -hold >"$tmp/hold.out" 2>&1 &
		holder=$!
		ok=0
		for _ in $(seq 1 1200); do
			if grep -q '^holding' "$tmp/hold.out" && (($(established_to_upstream) >= idle)); then
				ok=1
				break
			fi
			kill -0 "$holder" 2>/dev/null || break
			sleep 0.1
		done
		if ((!ok)); then
			log "$p: $idle idle connections did not all reach the upstream:"
			cat "$tmp/hold.out" >&2
			failed=1
		fi
		sleep 1 # let the peer finish what each connection set off
		# shellcheck disable=SC2086
		after=$(rss_kb ${pids[$p]})
		kill -TERM "$holder" 2>/dev/null || true
		wait "$holder" || true
		for _ in $(seq 1 300); do (($(established_to_upstream) == 0)) && break; sleep 0.1; done
		awk -v p="$p" -v b="$before" -v a="$after" -v n="$idle" \
			'BEGIN { printf "| %s | %.1f | %.1f | %.1f |\n", p, b / 1024, a / 1024, (a - b) / n }'
	done
fi
exit $failed
