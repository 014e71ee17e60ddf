#!/usr/bin/env bash
# The main job: install what is needed, build airlock, ask it about real
# names under each built-in profile, then (as root) run commands under
# `airlock run` in a simulated internet built from network namespaces
# (scripts/demo-sandbox.py): allowed and blocked fetches, through the proxy
# and by programs that ignore it, a resolver bypass, a raw connection, UDP
# and ping, all refused in the kernel or the gateway, a rule added while a
# sandbox runs, then the audit log.  Without root, the gateway's DNS filter
# on loopback instead (the simulated internet needs root to build).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
. scripts/lib.sh
meson_configure build-ci/release --buildtype=release
ninja -C build-ci/release src/airlock >/dev/null
airlock=build-ci/release/src/airlock

show() {
	printf '\n$ airlock %s\n' "$*"
	"$airlock" "$@" || true
}

echo "airlock decides what a sandboxed program may reach.  \`airlock check\` shows"
echo "the verdict and the rule that decided, without sending any traffic."
show profiles
show check --profile standard github.com api.github.com pypi.org crates.io evil.example
show check --profile strict --allow '*.github.com' api.github.com github.com \
	notgithub.com api.github.com.evil.test
show check --profile strict --allow 'git.example.com:22' git.example.com:22 git.example.com:443
show check --profile airgapped github.com 198.18.0.1:443
show check --profile permissive anything.example
show check --json --profile strict --allow '.example.com' WWW.Example.COM.
printf '\nExit status: 0 when every name is allowed, 1 when any is blocked, 2 on errors.\n'

# As root: real sandboxes, in a simulated internet of network namespaces.
if [ "$(id -u)" -eq 0 ]; then
	printf '\n--- airlock run in a simulated internet ---\n'
	exec python3 scripts/demo-sandbox.py "$airlock"
fi

# Without root: the gateway's DNS filter on 127.0.0.1.
echo
echo "(Run as root to see a sandbox in network namespaces; here, the DNS filter alone.)"
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
free_port() {
	python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
up=$(free_port)
python3 scripts/demo-upstream.py "$up" &
pids+=($!)
port=$(free_port)
printf '\n$ airlock gateway --profile strict --allow "*.allowed.test" --allow ".rebind.test" \\\n'
printf '      --listen-dns 127.0.0.1:%s --upstream 127.0.0.1:%s --log audit.log &\n' "$port" "$up"
"$airlock" gateway --profile strict --allow '*.allowed.test' --allow '.rebind.test' \
	--listen-dns "127.0.0.1:$port" --upstream "127.0.0.1:$up" --log "$work/audit.log" &
pids+=($!)
for _ in $(seq 50); do
	dig +time=1 +tries=1 @127.0.0.1 -p "$port" probe.allowed.test >/dev/null 2>&1 && break
	sleep 0.1
done
ask() {
	printf '\n$ dig @127.0.0.1 -p %s %s   # %s\n' "$port" "$1" "$2"
	dig +time=2 +tries=1 @127.0.0.1 -p "$port" $1 | grep -E 'status:|^[a-z].*IN' || true
}
ask "api.allowed.test" "allowed: answered"
ask "evil.example" "refused: NXDOMAIN, never sent upstream"
ask "db.rebind.test" "allowed name, private answer: refused (rebinding)"
ask "api.allowed.test TXT" "allowed name, data-carrying type: empty answer"
sleep 0.3
printf '\n$ airlock logs audit.log\n'
"$airlock" logs "$work/audit.log"
