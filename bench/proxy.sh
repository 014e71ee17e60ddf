#!/usr/bin/env bash
# HTTP proxies side by side on loopback: airlock's gateway and tinyproxy (and
# squid when it is installed), driven by bench/proxy_load (C, epoll) against
# its own origin.  One run, bounded: about 90 s with the default 5 s a rate.
#
#   bench/proxy.sh AIRLOCK_BINARY PROXY_LOAD_BINARY [SECONDS] [RESULTS_FILE]
#
# Prints a Markdown table (and writes it to RESULTS_FILE when given):
#   - GET http://ORIGIN/small in absolute form, one request a connection,
#     64 clients: requests/s and latency (connect to last byte), with the
#     origin given as an IP literal, then as a name the proxy resolves;
#   - CONNECT, the 200, one echo exchange, close: tunnels/s, 64 clients;
#   - CONNECT bulk: 2 GiB through one tunnel, and through 4, against the
#     same transfer straight to the origin (the same program reads and
#     writes with the same buffers): MiB/s, median of 3, with the CPU each
#     process used;
#   - memory per idle tunnel: 2000 tunnels held open after one exchange,
#     the proxy's RSS and PSS before and after, and the machine's kernel
#     memory (slab, kernel stacks, page tables: both ends' sockets too).
#
# Names: dnsmasq on a loopback address, port 53, answers origin.test with
# 127.0.0.2 (the origin) and nothing for AAAA.  airlock asks it as its
# --upstream; tinyproxy asks it through the C library, run in a private mount
# namespace where /etc/resolv.conf names it (the real one is untouched).
# Port 53 needs root; without it the by-name rows for tinyproxy are skipped.
#
# Policies, as alike as the tools allow: airlock runs the strict profile with
# `--allow origin.test:PORT --allow 127.0.0.2/32:PORT` (an IP literal passes
# only through a CIDR rule; the CIDR rule is also what lets origin.test's
# loopback answer past the rebinding check); tinyproxy has a Filter of those
# two hosts with FilterDefaultDeny Yes and ConnectPort PORT.  Each logs every
# request to a file (airlock's audit log; tinyproxy at LogLevel Connect).
set -euo pipefail
airlock=$1
load=$2
seconds=${3:-5}
results=${4:-}
work=$(mktemp -d)
pids=()
idle_conns=2000
bulk_bytes=$((2 * 1024 * 1024 * 1024))
clients=64

# stop PID [PORT]: SIGTERM, then a connection to PORT (tinyproxy only looks
# at its flag when poll() returns), then SIGKILL after 3 s.
stop() {
	local pid=$1 port=${2:-}
	kill "$pid" 2>/dev/null || return 0
	if [ -n "$port" ]; then
		python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1).close()" \
			"$port" 2>/dev/null || true
	fi
	for _ in $(seq 30); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}
cleanup() {
	for p in "${pids[@]}"; do stop "$p"; done
	rm -rf "$work"
}
trap cleanup EXIT

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() { # ADDR PORT
	for _ in $(seq 100); do
		python3 -c "import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 0.2).close()" \
			"$1" "$2" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "proxy.sh: nothing listens on $1:$2" >&2
	return 1
}
# field KEY LINE: the value of KEY=VALUE in a proxy_load output line.
field() { tr ' ' '\n' <<<"$2" | awk -F= -v k="$1" '$1 == k {print $2}'; }
# num N: N rounded, with thousands separators whatever the locale.
num() {
	awk -v n="$1" 'BEGIN {
		n = sprintf("%.0f", n); s = ""
		while (length(n) > 3) { s = "," substr(n, length(n) - 2) s; n = substr(n, 1, length(n) - 3) }
		print n s }'
}

# 2000 idle tunnels hold 2 fds each in the client and the origin, and up to 6
# in airlock (sockets and two pipes).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((idle_conns * 6 + 1000)) ]; then
	idle_conns=$((($(ulimit -n) - 1000) / 6))
	echo "proxy.sh: ulimit -n is $(ulimit -n): $idle_conns idle tunnels" >&2
fi

oport=$(free_port)
origin=127.0.0.2:$oport
"$load" origin "$origin" >"$work/origin.out" &
pids+=($!)
origin_pid=$!
wait_port 127.0.0.2 "$oport" || exit 1

# The resolver, on a loopback address of its own so that no other port 53 is
# disturbed.
root=false
[ "$(id -u)" -eq 0 ] && root=true
dns_addr=127.83.$((RANDOM % 250 + 1)).$((RANDOM % 250 + 1))
dns_port=53
$root || { dns_addr=127.0.0.1; dns_port=$(free_port); }
dnsmasq --keep-in-foreground --no-resolv --no-hosts --no-poll --bind-interfaces \
	--listen-address="$dns_addr" --port="$dns_port" --local=/test/ \
	--host-record=origin.test,127.0.0.2 --cache-size=0 --user="$(id -un)" --pid-file= \
	2>"$work/dnsmasq.err" &
pids+=($!)
for _ in $(seq 50); do
	dig +time=1 +tries=1 +short @"$dns_addr" -p "$dns_port" origin.test 2>/dev/null |
		grep -q 127.0.0.2 && break
	sleep 0.1
done
echo "nameserver $dns_addr" >"$work/resolv.conf"

start_airlock() { # PORT
	"$airlock" gateway --profile strict --allow "origin.test:$oport" \
		--allow "127.0.0.2/32:$oport" --listen-proxy "127.0.0.1:$1" \
		--upstream "$dns_addr:$dns_port" --proxy-max-connections $((idle_conns + 100)) \
		--log "$work/airlock.log" 2>>"$work/airlock.err" &
	pids+=($!)
	proxy_pid=$!
	wait_port 127.0.0.1 "$1"
}

start_tinyproxy() { # PORT
	printf '^origin\\.test$\n^127\\.0\\.0\\.2$\n' >"$work/tinyproxy.filter"
	cat >"$work/tinyproxy.conf" <<EOF
Port $1
Listen 127.0.0.1
Timeout 600
MaxClients $((idle_conns + 100))
LogFile "$work/tinyproxy.log"
LogLevel Connect
Allow 127.0.0.1
Filter "$work/tinyproxy.filter"
FilterType ere
FilterURLs Off
FilterDefaultDeny Yes
ConnectPort $oport
DisableViaHeader Yes
EOF
	if $root; then
		# The C library resolves through $work/resolv.conf, seen only by
		# this process.  unshare execs: $! is tinyproxy.
		unshare -m --propagation private sh -c \
			'mount --bind "$1" /etc/resolv.conf && exec tinyproxy -d -c "$2"' \
			sh "$work/resolv.conf" "$work/tinyproxy.conf" 2>>"$work/tinyproxy.err" &
	else
		tinyproxy -d -c "$work/tinyproxy.conf" 2>>"$work/tinyproxy.err" &
	fi
	pids+=($!)
	proxy_pid=$!
	wait_port 127.0.0.1 "$1"
}

start_squid() { # PORT
	# Squid started as root works as an unprivileged user: its logs go to a
	# directory that user can write.
	mkdir -p "$work/squid"
	chmod 1777 "$work/squid"
	chmod 755 "$work"
	cat >"$work/squid.conf" <<EOF
http_port 127.0.0.1:$1
acl origin_name dstdomain origin.test
acl origin_ip dst 127.0.0.2/32
acl origin_port port $oport
acl CONNECT method CONNECT
http_access deny !origin_port
http_access allow origin_name
http_access allow origin_ip
http_access deny all
cache deny all
cache_mem 8 MB
dns_nameservers $dns_addr
max_filedescriptors $((idle_conns * 4 + 1000))
access_log stdio:$work/squid/access.log
cache_log $work/squid/cache.log
pid_filename none
coredump_dir $work/squid
shutdown_lifetime 1 seconds
EOF
	squid -N -f "$work/squid.conf" 2>>"$work/squid.err" &
	pids+=($!)
	proxy_pid=$!
	wait_port 127.0.0.1 "$1"
}

# measure MODE PROXY TARGET: one warm-up second, then SECONDS.
measure() {
	"$load" "$1" "$2" "$3" "$clients" 1 >/dev/null 2>&1 || true
	"$load" "$1" "$2" "$3" "$clients" "$seconds"
}
rate_cell() { # LINE
	local errors
	errors=$(field errors "$1")
	printf '%s (%s / %s ms)' "$(num "$(field rate "$1")")" "$(field p50_ms "$1")" \
		"$(field p99_ms "$1")"
	[ "$errors" = 0 ] || printf ', %s errors' "$errors"
}
# bulk PROXY|direct STREAMS NAME=PID...: the median of 3 runs, by MiB/s.
bulk() {
	local proxy=$1 streams=$2 out
	shift 2
	out=$(for _ in 1 2 3; do
		"$load" bulk "$proxy" "$origin" "$bulk_bytes" "$streams" "$@" || true
	done)
	awk '{for (i = 1; i <= NF; i++) if ($i ~ /^MiBps=/) {split($i, a, "="); print a[2] "\t" $0}}' \
		<<<"$out" | sort -n | sed -n 2p | cut -f2-
}
bulk_cell() { # LINE BASELINE_MIBPS
	local mib
	mib=$(field MiBps "$1")
	[ -n "$mib" ] || { printf 'failed'; return; }
	printf '%s MiB/s' "$(num "$mib")"
	[ -z "${2:-}" ] || printf ' (%s%%)' "$(awk -v a="$mib" -v b="$2" 'BEGIN{printf "%.0f", 100*a/b}')"
}
cpu_cell() { # LINE
	printf 'proxy %s, origin %s, client %s; machine %s busy' "$(field cpu_proxy "$1")" \
		"$(field cpu_origin "$1")" "$(field cpu_client "$1")" "$(field machine_busy "$1")"
}
idle_cell() { # LINE
	local held
	held=$(field held "$1")
	[ -n "$held" ] || { printf 'failed'; return; }
	printf '%s / %s / %s KiB' \
		"$(awk -v v="$(field rss_per_conn "$1")" 'BEGIN{printf "%.1f", v/1024}')" \
		"$(awk -v v="$(field pss_per_conn "$1")" 'BEGIN{printf "%.1f", v/1024}')" \
		"$(awk -v v="$(field kernel_per_conn "$1")" 'BEGIN{printf "%.1f", v/1024}')"
	[ "$held" = "$idle_conns" ] || printf ' (%s of %s held)' "$held" "$idle_conns"
}

# Everything one proxy is measured on; fills the row arrays at index $1.
declare -a c_ip c_name c_tun c_b1 c_b4 c_cpu c_idle
run_proxy() { # INDEX START_FN [NAMES: true|false]
	local i=$1 start=$2 names=${3:-true} port line
	port=$(free_port)
	if ! "$start" "$port"; then
		tail -n 5 "$work"/*.err >&2 || true
		for a in c_ip c_name c_tun c_b1 c_b4 c_cpu c_idle; do
			printf -v "$a[$i]" '%s' "did not start"
		done
		return 0
	fi
	local p=127.0.0.1:$port pid=$proxy_pid
	c_ip[i]=$(rate_cell "$(measure rps "$p" "http://$origin/small")")
	if $names; then
		c_name[i]=$(rate_cell "$(measure rps "$p" "http://origin.test:$oport/small")")
	else
		c_name[i]="not measured (port 53 needs root)"
	fi
	c_tun[i]=$(rate_cell "$(measure tunnels "$p" "$origin")")
	line=$(bulk "$p" 1 proxy="$pid" origin="$origin_pid")
	c_b1[i]=$(bulk_cell "$line" "$direct1")
	c_cpu[i]=$(cpu_cell "$line")
	c_b4[i]=$(bulk_cell "$(bulk "$p" 4 proxy="$pid" origin="$origin_pid")" "$direct4")
	stop "$pid" "$port"
	# Memory on a fresh process: what earlier rounds left in its heap
	# would hide what idle tunnels cost.
	port=$(free_port)
	"$start" "$port" || { c_idle[i]="did not start"; return 0; }
	"$load" tunnels "127.0.0.1:$port" "$origin" 4 1 >/dev/null 2>&1 || true
	c_idle[i]=$(idle_cell "$("$load" idle "127.0.0.1:$port" "$origin" "$idle_conns" "$proxy_pid" || true)")
	stop "$proxy_pid" "$port"
}

line=$(bulk direct 1 origin="$origin_pid")
direct1=$(field MiBps "$line")
direct_cpu=$(printf 'origin %s, client %s; machine %s busy' "$(field cpu_origin "$line")" \
	"$(field cpu_client "$line")" "$(field machine_busy "$line")")
direct4=$(field MiBps "$(bulk direct 4 origin="$origin_pid")")

names=("airlock $("$airlock" --version 2>/dev/null | awk '{print $NF}')"
	"tinyproxy $(tinyproxy -v 2>/dev/null | awk '{print $2}')")
run_proxy 0 start_airlock
run_proxy 1 start_tinyproxy "$root"
ncol=2
if command -v squid >/dev/null; then
	names+=("squid $(squid -v | awk 'NR==1 {print $4}')")
	run_proxy 2 start_squid "$root"
	ncol=3
fi

{
	printf '| measure |'
	for ((i = 0; i < ncol; i++)); do printf ' %s |' "${names[i]}"; done
	printf ' direct |\n|---|'
	for ((i = 0; i < ncol; i++)); do printf -- '---|'; done
	printf -- '---|\n'
	row() { # LABEL ARRAY_NAME DIRECT
		local -n a=$2
		printf '| %s |' "$1"
		for ((i = 0; i < ncol; i++)); do printf ' %s |' "${a[i]}"; done
		printf ' %s |\n' "$3"
	}
	row "GET, IP literal: requests/s (p50 / p99)" c_ip ""
	row "GET, name the proxy resolves: requests/s (p50 / p99)" c_name ""
	row "CONNECT + one exchange: tunnels/s (p50 / p99)" c_tun ""
	row "CONNECT bulk, 1 stream (% of direct)" c_b1 "$(num "$direct1") MiB/s"
	row "CONNECT bulk, 4 streams (% of direct)" c_b4 "$(num "$direct4") MiB/s"
	row "CPU during the 1-stream transfer (% of one core)" c_cpu "$direct_cpu"
	row "memory per idle tunnel: RSS / PSS / kernel" c_idle ""
	echo
	echo "$(nproc) cores, $(uname -r), TCP congestion control $(cat /proc/sys/net/ipv4/tcp_congestion_control);" \
		"$clients clients, ${seconds} s a rate, $((bulk_bytes >> 30)) GiB a transfer (median of 3)," \
		"$idle_conns idle tunnels."
	if ! command -v squid >/dev/null; then
		echo "squid: not installed."
	fi
} | tee "${results:-/dev/null}"
