# bench-lib.sh — what the benchmark scripts that run real peers share
# (http-bench.sh, proxy-bench.sh): installing missing Debian packages,
# the test certificate, waiting for a port, medians and ranges. Sourced,
# not run; the caller sets `set -euo pipefail` and defines log().

# bench_install CMD:PACKAGE...: installs, with apt-get (as root or with
# sudo), the package of every command missing from PATH (and /usr/sbin).
# A PACKAGE may name a file instead of a command with a leading /: e.g.
# /usr/lib/nginx/modules/ngx_stream_module.so:libnginx-mod-stream.
bench_install() {
	local need=() spec cmd pkg sudo=""
	for spec in "$@"; do
		cmd=${spec%%:*} pkg=${spec#*:}
		if [[ $cmd == /* ]]; then
			[[ -e $cmd ]] || need+=("$pkg")
		else
			command -v "$cmd" >/dev/null 2>&1 || [[ -x /usr/sbin/$cmd ]] || need+=("$pkg")
		fi
	done
	((${#need[@]})) || return 0
	log "installing ${need[*]}"
	[[ $(id -u) -eq 0 ]] || sudo=sudo
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq
	# The packages' own services are not wanted: the scripts run their
	# own instances (in containers policy-rc.d already stops the start).
	$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
}

# bench_cert DIR: an ECDSA P-256 certificate for localhost, DIR/cert.pem
# and DIR/key.pem.
bench_cert() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
		-addext subjectAltName=DNS:localhost -days 2 -keyout "$1/key.pem" -out "$1/cert.pem" 2>/dev/null
}

# bench_wait_port PORT: until something accepts on 127.0.0.1:PORT (10 s).
bench_wait_port() {
	for _ in $(seq 1 200); do
		if { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null; then
			exec 3<&- 3>&-
			return 0
		fi
		sleep 0.05
	done
	log "nothing listens on 127.0.0.1:$1"
	return 1
}

# bench_median: the median of the numbers on stdin (spaces or lines).
bench_median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.2f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# bench_range [FORMAT]: "lo-hi" of the numbers on stdin, each in FORMAT.
bench_range() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk -v f="${1:-%.0f}" 'NR == 1 { lo = $1 } { hi = $1 } END { printf f "-" f, lo, hi }'; }
