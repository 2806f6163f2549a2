#!/usr/bin/env bash
# http-bench.sh — requests and handshakes per second of examples/http (Go's
# net/http on libssl, osslhttp) against nginx answering the same one-line
# response over HTTPS, side by side in one run, measured by h2load
# (nghttp2-client). Both servers run on this machine with the same
# certificate (ECDSA P-256), TLS 1.2-1.3 and worker count; each scenario
# starts both afresh and alternates which goes first from round to round.
#
# Installs nginx, nghttp2-client and openssl from Debian when missing
# (apt-get, as root or with sudo); builds ./examples/http with go.
#
# Usage: scripts/http-bench.sh [-n REQUESTS] [-hn HANDSHAKES] [-c CLIENTS]
#                              [-m STREAMS] [-rounds R] [-workers W]
#   -n        requests of the keep-alive scenarios (default 20000)
#   -hn       requests of the handshake scenarios, one connection each (2000)
#   -c        h2load clients, i.e. concurrent connections (8)
#   -m        HTTP/2 streams per connection (10)
#   -b        HTTP/2 clients of the burst scenario, one request each (500)
#   -rounds   rounds; the table shows the median and the range (3)
#   -workers  nginx worker_processes and GOMAXPROCS (nproc)
# Ports 18443 (example) and 18444 (nginx) on 127.0.0.1, or HTTP_BENCH_PORT
# and HTTP_BENCH_PORT+1. Exits non-zero if any request failed.
set -euo pipefail
cd "$(dirname "$0")/.."

n=20000 hn=2000 c=8 m=10 b=500 rounds=3 workers=$(nproc)
while (($#)); do
	case $1 in
	-n) n=$2; shift 2 ;;
	-hn) hn=$2; shift 2 ;;
	-c) c=$2; shift 2 ;;
	-m) m=$2; shift 2 ;;
	-b) b=$2; shift 2 ;;
	-rounds) rounds=$2; shift 2 ;;
	-workers) workers=$2; shift 2 ;;
	*) echo "usage: $0 [-n N] [-hn N] [-c N] [-m N] [-b N] [-rounds R] [-workers W]" >&2; exit 2 ;;
	esac
done
port=${HTTP_BENCH_PORT:-18443}
nport=$((port + 1))

log() { echo "http-bench: $*" >&2; }

. scripts/bench-lib.sh
bench_install nginx:nginx h2load:nghttp2-client openssl:openssl
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

tmp=$(mktemp -d /tmp/osslcache-http-bench.XXXXXX)
chmod 755 "$tmp" # nginx workers (nobody) use its temp directories
expid="" ngxpid=""
cleanup() {
	[[ -n $expid ]] && kill "$expid" 2>/dev/null || true
	[[ -s $tmp/nginx.pid ]] && kill "$(cat "$tmp/nginx.pid")" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

bench_cert "$tmp"
go build -o "$tmp/example" ./examples/http

# The scenarios: name | what | h2load arguments | example flags | nginx session lines
scenarios=(
	"h2|HTTP/2, keep-alive, $c connections x $m streams|-n $n -c $c -m $m||ssl_session_tickets on;"
	"h1|HTTP/1.1, keep-alive, $c connections|--h1 -n $n -c $c||ssl_session_tickets on;"
	"h1-resume-ticket|HTTP/1.1, new connection per request, resumed by ticket|--h1 -n $hn -c $c -H Connection:close||ssl_session_tickets on;"
	"h1-resume-cache|HTTP/1.1, new connection per request, resumed from the server's cache (no tickets)|--h1 -n $hn -c $c -H Connection:close|-no-ticket|ssl_session_tickets off;"
	"h1-full|HTTP/1.1, new connection per request, full handshake (no resumption)|--h1 -n $hn -c $c -H Connection:close|-store none -no-ticket -cache-mode OFF|ssl_session_tickets off; ssl_session_cache off;"
	"h2-burst|HTTP/2, $b clients at once, one request each: full handshakes|-n $b -c $b||ssl_session_tickets on;"
)

start_example() { # flags...
	GOMAXPROCS=$workers "$tmp/example" -listen "127.0.0.1:$port" -cert "$tmp/cert.pem" -key "$tmp/key.pem" "$@" 2>"$tmp/example.log" &
	expid=$!
	bench_wait_port "$port"
}

stop_example() { # sets h (handshakes) and k (resumed) from its last log line
	kill -TERM "$expid"
	wait "$expid" || true
	expid=""
	read -r h k < <(sed -n 's/.*msg=stopped handshakes=\([0-9]*\) resumed=\([0-9]*\).*/\1 \2/p' "$tmp/example.log") || true
}

start_nginx() { # session lines
	cat >"$tmp/nginx.conf" <<EOF
worker_processes $workers;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log warn;
events { worker_connections 4096; }
http {
  log_format reused '\$ssl_session_reused';
  access_log $tmp/nginx-access.log reused buffer=256k;
  client_body_temp_path $tmp/body;
  proxy_temp_path $tmp/proxy;
  fastcgi_temp_path $tmp/fastcgi;
  uwsgi_temp_path $tmp/uwsgi;
  scgi_temp_path $tmp/scgi;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$nport ssl http2;
    ssl_certificate $tmp/cert.pem;
    ssl_certificate_key $tmp/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:10m;
    $1
    location / {
      default_type text/plain;
      return 200 "proto=\$server_protocol alpn=\$ssl_alpn_protocol resumed=\$ssl_session_reused version=\$ssl_protocol\n";
    }
  }
}
EOF
	rm -f "$tmp/nginx-access.log"
	"$NGINX" -c "$tmp/nginx.conf" -p "$tmp" -g 'daemon on;' 2>>"$tmp/nginx-error.log"
	bench_wait_port "$nport"
}

stop_nginx() { # sets h and k from the access log: with a connection per
	# request, requests are handshakes (keep-alive rows show no share)
	local pid
	pid=$(cat "$tmp/nginx.pid")
	kill -QUIT "$pid"
	while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
	rm -f "$tmp/nginx.pid"
	read -r h k < <(awk '{ n++; if ($1 == "r") r++ } END { printf "%d %d\n", n, r }' "$tmp/nginx-access.log") || true
}

declare -A rps hs res tlsinfo ratios last
failed=0 v=0 tls=""

# run_h2load URL ARGS...: sets v (req/s) and tls (version, cipher, ALPN);
# a failed request fails the script at the end.
run_h2load() {
	local url=$1 out=$tmp/h2load.out ok total
	shift
	if ! h2load "$@" "$url" >"$out" 2>&1; then
		log "h2load $* $url failed:"
		cat "$out" >&2
		failed=1
	fi
	read -r total ok < <(sed -n 's/^requests: \([0-9]*\) total, [0-9]* started, [0-9]* done, \([0-9]*\) succeeded.*/\1 \2/p' "$out") || true
	if [[ -z ${total:-} || $ok != "$total" ]]; then
		log "h2load $* $url: not every request succeeded:"
		cat "$out" >&2
		failed=1
	fi
	tls="$(sed -n 's/^TLS Protocol: //p' "$out") $(sed -n 's/^Cipher: //p' "$out") $(sed -n 's/^Application protocol: //p' "$out")"
	v=$(sed -n 's/^finished in [^,]*, \([0-9.]*\) req\/s.*/\1/p' "$out")
	v=${v:-0}
}

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $(go version | cut -d' ' -f3), $(openssl version), $("$NGINX" -v 2>&1 | cut -d' ' -f3), $(h2load --version 2>&1 | head -1)"
echo "# rounds: $rounds; worker processes / GOMAXPROCS: $workers"
for r in $(seq 1 "$rounds"); do
	for s in "${scenarios[@]}"; do
		IFS='|' read -r name what args exflags ngx <<<"$s"
		order=(example nginx)
		((r % 2 == 0)) && order=(nginx example)
		for server in "${order[@]}"; do
			if [[ $server == example ]]; then
				# shellcheck disable=SC2086
				start_example $exflags
				url="https://localhost:$port/"
			else
				start_nginx "$ngx"
				url="https://localhost:$nport/"
			fi
			# shellcheck disable=SC2086
			run_h2load "$url" $args
			h=0 k=0
			if [[ $server == example ]]; then stop_example; else stop_nginx; fi
			rps[$name,$server]+="$v "
			hs[$name,$server]=$((${hs[$name,$server]:-0} + ${h:-0}))
			res[$name,$server]=$((${res[$name,$server]:-0} + ${k:-0}))
			tlsinfo[$name,$server]=$tls
			last[$server]=$v
			log "round $r $name $server: $v req/s ($k of $h resumed: handshakes for the example, requests logged for nginx)"
		done
		# The ratio of this round: both ran back to back, under the same
		# load from the rest of the machine.
		ratios[$name]+="$(awk -v a="${last[example]}" -v b="${last[nginx]}" 'BEGIN { if (b > 0) printf "%.4f", a / b; else print 0 }') "
	done
done

echo
echo "Medians of $rounds rounds (range); the ratio is the median of each round's ratio (both servers ran back to back)."
echo
echo "| scenario | h2load | examples/http req/s | nginx req/s | examples/http / nginx | resumed (example, nginx) | TLS (example; nginx) |"
echo "|---|---|---:|---:|---:|---|---|"
for s in "${scenarios[@]}"; do
	IFS='|' read -r name what args _ _ <<<"$s"
	e=$(bench_median <<<"${rps[$name,example]}")
	x=$(bench_median <<<"${rps[$name,nginx]}")
	ratio="$(bench_median <<<"${ratios[$name]}" | awk '{ printf "%.2fx", $1 }') ($(bench_range '%.2f' <<<"${ratios[$name]}"))"
	share() { awk -v h="$1" -v k="$2" 'BEGIN { if (h > 0) printf "%.1f%%", 100 * k / h; else print "-" }'; }
	if [[ $name == h1-* || $name == h2-burst ]]; then
		resumed="$(share "${hs[$name,example]}" "${res[$name,example]}"), $(share "${hs[$name,nginx]}" "${res[$name,nginx]}")"
	else
		resumed="-"
	fi
	printf '| %s | `h2load %s` | %.0f (%s) | %.0f (%s) | %s | %s | %s; %s |\n' "$what" "$args" "$e" "$(bench_range <<<"${rps[$name,example]}")" \
		"$x" "$(bench_range <<<"${rps[$name,nginx]}")" "$ratio" "$resumed" "${tlsinfo[$name,example]}" "${tlsinfo[$name,nginx]}"
done
exit $failed
