#!/usr/bin/env bash
# redis-server.sh start|stop|status [PORT] — a throwaway Redis for the
# Makefile, CI and `osslcache redis-bench`.
#
# start: installs redis-server from Debian if it is missing (apt-get update,
#        apt-get install -y redis-server), then runs it daemonized on
#        127.0.0.1:PORT without persistence, its pid in
#        /tmp/osslcache-redis-PORT.pid and its log in
#        /tmp/osslcache-redis-PORT.log, and waits until it answers PING.
#        A Redis already answering on PORT is left alone.
# stop:  stops the server this script started on PORT (SHUTDOWN NOSAVE, then
#        SIGTERM, then SIGKILL); anything else on the port is left alone.
# status: exits 0 when a Redis answers on PORT.
#
# PORT defaults to $REDIS_PORT, else 6379. The store tests do not need this
# script (each test runs its own redis-server on a free port); set
# OSSLCACHE_REDIS_SERVER to use a redis-server binary outside PATH.
set -euo pipefail

usage() { echo "usage: $0 start|stop|status [port]" >&2; exit 2; }
[[ $# -ge 1 && $# -le 2 ]] || usage
cmd=$1
port=${2:-${REDIS_PORT:-6379}}
[[ $port =~ ^[0-9]+$ ]] || usage
pidfile=/tmp/osslcache-redis-$port.pid
logfile=/tmp/osslcache-redis-$port.log
server=${OSSLCACHE_REDIS_SERVER:-redis-server}

log() { echo "redis-server.sh: $*" >&2; }

# ping answers 0 when a Redis answers PING on the port; it needs no
# redis-cli (bash's /dev/tcp speaks the inline protocol).
ping() {
	local reply
	{ exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
	printf 'PING\r\n' >&3
	IFS= read -r -t 2 reply <&3 || reply=""
	exec 3<&- 3>&-
	[[ $reply == "+PONG"* || $reply == "-NOAUTH"* ]]
}

install_redis() {
	command -v "$server" >/dev/null 2>&1 && return 0
	if [[ $server != redis-server ]]; then
		log "$server (OSSLCACHE_REDIS_SERVER) not found"
		exit 1
	fi
	log "redis-server missing: installing it with apt-get"
	local sudo=""
	[[ $(id -u) -eq 0 ]] || sudo=sudo
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update
	$sudo apt-get install -y redis-server
	# The package may start a system Redis on 6379 (with systemd); this
	# script leaves it alone and uses it if PORT is 6379.
}

ours() { [[ -s $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

case $cmd in
start)
	if ping; then
		if ours; then log "already running on 127.0.0.1:$port (pid $(cat "$pidfile"))"; else log "a Redis already answers on 127.0.0.1:$port; using it"; fi
		exit 0
	fi
	install_redis
	rm -f "$pidfile"
	"$server" --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
		--daemonize yes --pidfile "$pidfile" --logfile "$logfile" --dir /tmp
	for _ in $(seq 1 100); do
		if ping; then
			log "started on 127.0.0.1:$port (pid $(cat "$pidfile" 2>/dev/null || echo '?'), log $logfile)"
			exit 0
		fi
		sleep 0.1
	done
	log "redis-server did not answer on 127.0.0.1:$port within 10s; log:"
	tail -n 20 "$logfile" >&2 || true
	exit 1
	;;
stop)
	if ! ours; then
		log "no redis-server of ours on port $port"
		rm -f "$pidfile"
		exit 0
	fi
	pid=$(cat "$pidfile")
	if command -v redis-cli >/dev/null 2>&1; then
		redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
	fi
	for signal in TERM KILL; do
		for _ in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break 2
			sleep 0.1
		done
		kill -"$signal" "$pid" 2>/dev/null || true
	done
	rm -f "$pidfile"
	log "stopped (pid $pid)"
	;;
status)
	if ping; then
		log "a Redis answers on 127.0.0.1:$port"
		exit 0
	fi
	log "nothing answers on 127.0.0.1:$port"
	exit 1
	;;
*) usage ;;
esac
