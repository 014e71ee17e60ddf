#!/usr/bin/env bash
# DNS filtering, side by side: dnsmasq and airlock's gateway, each in front
# of the same upstream, each refusing a 100,000-name blocklist, measured by
# dnsperf on loopback.  Bounded: SECONDS (default 10) of load per server.
#
#   bench/dns.sh AIRLOCK_BINARY [SECONDS]
#
# The upstream is a dnsmasq answering *.bench.test (TTL 300).  The query mix
# is half allowed names (1,000 distinct: after the first pass both filters
# answer from their caches) and half blocked names drawn from the list.
# airlock runs twice: logging every decision to a file (its normal mode) and
# with the log going to /dev/null (dnsmasq logs no queries by default).
set -euo pipefail
airlock=$1
seconds=${2:-10}
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# The blocklist in both syntaxes, and the query file.
python3 - "$work" <<'PY'
import random, sys
w = sys.argv[1]
random.seed(7)
blocked = [f"blocked-{i}.example" for i in range(100000)]
with open(f"{w}/blocked.txt", "w") as f:
    f.write("\n".join(blocked) + "\n")
with open(f"{w}/dnsmasq-block.conf", "w") as f:
    f.writelines(f"address=/{n}/\n" for n in blocked)
with open(f"{w}/queries.txt", "w") as f:
    for i in range(2000):
        if i % 2:
            f.write(f"{random.choice(blocked)} A\n")
        else:
            f.write(f"a{i % 1000}.bench.test A\n")
PY

up=$(free_port)
dnsmasq --keep-in-foreground --no-resolv --no-hosts --no-poll --bind-interfaces \
	--listen-address=127.0.0.1 --port="$up" --local-ttl=300 \
	--address=/bench.test/198.18.0.20 --user="$(id -un)" --pid-file= 2>/dev/null &
pids+=($!)

run() { # NAME PORT PID
	local name=$1 port=$2 pid=$3
	# Warm up (and fill the caches), then measure.
	dnsperf -s 127.0.0.1 -p "$port" -d "$work/queries.txt" -n 1 >/dev/null 2>&1 || true
	local out
	out=$(dnsperf -s 127.0.0.1 -p "$port" -d "$work/queries.txt" -l "$seconds" -q 200 2>&1)
	local qps lat lost rss
	qps=$(awk '/Queries per second/ {print $4}' <<<"$out")
	lat=$(awk '/Average Latency/ {print $4}' <<<"$out")
	lost=$(awk '/Queries lost/ {print $3}' <<<"$out")
	rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
	printf '| %s | %.0f | %.3f | %s | %.1f |\n' "$name" "$qps" "$(awk "BEGIN{print $lat*1000}")" \
		"$lost" "$(awk "BEGIN{print $rss/1024}")"
}

wait_port() {
	for _ in $(seq 50); do
		dig +time=1 +tries=1 @127.0.0.1 -p "$1" probe.bench.test >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "dns.sh: nothing answers on port $1" >&2
	exit 1
}

echo "| server | queries/s | avg latency (ms) | lost | RSS (MiB) |"
echo "|---|---|---|---|---|"

port=$(free_port)
dnsmasq --keep-in-foreground --no-resolv --no-hosts --no-poll --bind-interfaces \
	--listen-address=127.0.0.1 --port="$port" --server="127.0.0.1#$up" --cache-size=10000 \
	--conf-file="$work/dnsmasq-block.conf" --user="$(id -un)" --pid-file= 2>/dev/null &
pids+=($!)
wait_port "$port"
run "dnsmasq $(dnsmasq --version | awk 'NR==1 {print $3}')" "$port" "${pids[-1]}"

for log in "$work/audit.log" /dev/null; do
	port=$(free_port)
	"$airlock" gateway --profile permissive --block-file "$work/blocked.txt" \
		--listen-dns "127.0.0.1:$port" --upstream "127.0.0.1:$up" --dns-rate 1000000 \
		--log "$log" 2>/dev/null &
	pids+=($!)
	wait_port "$port"
	label="airlock, log to a file"
	[ "$log" = /dev/null ] && label="airlock, log to /dev/null"
	run "$label" "$port" "${pids[-1]}"
done
