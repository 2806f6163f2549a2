#!/usr/bin/env bash
# redis-server.sh start|stop|status [PORT] — a throwaway Redis for the
# Makefile, CI and `osslcache redis-bench`;
# redis-server.sh cluster-start|cluster-stop [BASEPORT] — a throwaway Redis
# Cluster for `osslcache redis-bench -cluster`.
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
# cluster-start: six nodes on BASEPORT..BASEPORT+5 (cluster bus on
#        BASEPORT+1000..), joined by redis-cli --cluster create as three
#        masters with a replica each; waits until every node reports
#        cluster_state:ok and the first sees the three replicas. Node files live in /tmp/osslcache-redis-cluster-BASEPORT.
# cluster-stop: stops the nodes cluster-start made and removes their files.
#
# PORT defaults to $REDIS_PORT, else 6379; BASEPORT to $REDIS_CLUSTER_PORT,
# else 7100. The store tests do not need this
# script (each test runs its own redis-server on a free port); set
# OSSLCACHE_REDIS_SERVER to use a redis-server binary outside PATH.
set -euo pipefail

usage() { echo "usage: $0 start|stop|status [port] | cluster-start|cluster-stop [baseport]" >&2; exit 2; }
[[ $# -ge 1 && $# -le 2 ]] || usage
cmd=$1
case $cmd in
cluster-*) port=${2:-${REDIS_CLUSTER_PORT:-7100}} ;;
*) port=${2:-${REDIS_PORT:-6379}} ;;
esac
[[ $port =~ ^[0-9]+$ ]] || usage
pidfile=/tmp/osslcache-redis-$port.pid
logfile=/tmp/osslcache-redis-$port.log
server=${OSSLCACHE_REDIS_SERVER:-redis-server}

log() { echo "redis-server.sh: $*" >&2; }

# ping answers 0 when a Redis answers PING on the port (or on $1); it needs
# no redis-cli (bash's /dev/tcp speaks the inline protocol).
ping() {
	local reply p=${1:-$port}
	{ exec 3<>"/dev/tcp/127.0.0.1/$p"; } 2>/dev/null || return 1
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
cluster-start)
	install_redis
	command -v redis-cli >/dev/null 2>&1 || { log "redis-cli missing (apt-get install redis-tools, or scripts/setup.sh)"; exit 1; }
	dir=/tmp/osslcache-redis-cluster-$port
	if [[ -d $dir ]]; then
		log "a cluster on $port already runs ($dir); cluster-stop it first"
		exit 1
	fi
	nodes=()
	for i in 0 1 2 3 4 5; do
		p=$((port + i))
		if ping "$p"; then
			log "something already answers on 127.0.0.1:$p"
			exit 1
		fi
		mkdir -p "$dir/$p"
		"$server" --bind 127.0.0.1 --port "$p" --save '' --appendonly no \
			--cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000 --cluster-port $((p + 1000)) \
			--daemonize yes --pidfile "$dir/$p/redis.pid" --logfile "$dir/$p/redis.log" --dir "$dir/$p"
		nodes+=("127.0.0.1:$p")
	done
	for i in 0 1 2 3 4 5; do
		for _ in $(seq 1 100); do ping $((port + i)) && break; sleep 0.1; done
	done
	redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >"$dir/create.log" 2>&1 || {
		log "redis-cli --cluster create failed:"; cat "$dir/create.log" >&2; exit 1; }
	for _ in $(seq 1 300); do
		ok=0
		for i in 0 1 2 3 4 5; do
			redis-cli -p $((port + i)) cluster info 2>/dev/null | grep -q '^cluster_state:ok' && ok=$((ok + 1))
		done
		replicas=$(redis-cli -p "$port" cluster nodes 2>/dev/null | awk '$3 ~ /slave/' | wc -l)
		if [[ $ok -eq 6 && $replicas -eq 3 ]]; then
			log "cluster of 3 masters and 3 replicas on 127.0.0.1:$port-$((port + 5))"
			exit 0
		fi
		sleep 0.1
	done
	log "the cluster on $port is not ok after 30s"
	exit 1
	;;
cluster-stop)
	dir=/tmp/osslcache-redis-cluster-$port
	[[ -d $dir ]] || { log "no cluster of ours on $port"; exit 0; }
	for i in 0 1 2 3 4 5; do
		p=$((port + i))
		pid=$(cat "$dir/$p/redis.pid" 2>/dev/null || true)
		[[ -n $pid ]] || continue
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
	done
	rm -rf "$dir"
	log "cluster on $port stopped"
	;;
*) usage ;;
esac
