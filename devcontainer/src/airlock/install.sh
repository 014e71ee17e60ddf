#!/bin/sh
# The airlock devcontainer feature: installs the airlock binary built from
# this repository (scripts/build-feature.sh puts it, with the shared
# libraries it needs and their loader, under dist/), the gateway's user, the
# configuration from the feature's options, and the init hook that runs
# `airlock apply` at every container start (through the entrypoint, or by
# hand: docs/devcontainer.md).
#
# The options arrive as environment variables, upper-cased (ALLOWEDDOMAINS
# for allowedDomains...), and go one-to-one into /etc/airlock/apply.conf.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
prefix=/usr/local/lib/airlock
say() { printf 'airlock feature: %s\n' "$*"; }
fail() { say "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "install.sh runs as root (it does in a feature's image build)"
[ -x "$here/dist/airlock" ] || fail "no dist/airlock next to install.sh: run scripts/build-feature.sh in the airlock repository first"

# The binary with its own libraries and loader: nothing of the image's
# libraries is replaced or needed.
mkdir -p "$prefix/lib" /usr/local/bin /etc/airlock /usr/local/share/devcontainer-init.d \
	/usr/local/share/airlock
cp "$here/dist/airlock" "$prefix/airlock"
cp "$here/dist/lib/"* "$prefix/lib/"
cp "$here/dist/ld.so" "$prefix/ld.so"
chmod 755 "$prefix/airlock" "$prefix/ld.so"
cat >/usr/local/bin/airlock <<WRAPPER
#!/bin/sh
exec $prefix/ld.so --library-path $prefix/lib $prefix/airlock "\$@"
WRAPPER
chmod 755 /usr/local/bin/airlock

# The gateway's own user: its traffic is what passes the table.
if ! grep -q '^airlock:' /etc/passwd; then
	if command -v useradd >/dev/null 2>&1; then
		useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin airlock
	else
		uid=999
		while grep -q "^[^:]*:[^:]*:$uid:" /etc/passwd || grep -q "^[^:]*:[^:]*:$uid:" /etc/group; do
			uid=$((uid - 1))
		done
		echo "airlock:x:$uid:" >>/etc/group
		echo "airlock:x:$uid:$uid:airlock gateway:/nonexistent:/usr/sbin/nologin" >>/etc/passwd
	fi
fi

# One option a line; a value holding a newline cannot come from a feature
# option, and is refused rather than written.
conf=/etc/airlock/apply.conf
tmp="$conf.tmp"
: >"$tmp"
option() { # NAME VALUE
	case "$2" in *'
'*) fail "option $1 holds a newline" ;; esac
	[ -z "$2" ] || printf '%s = %s\n' "$1" "$2" >>"$tmp"
}
option profile "${PROFILE:-standard}"
option allowedDomains "${ALLOWEDDOMAINS:-}"
option blockedDomains "${BLOCKEDDOMAINS:-}"
option defaultPolicy "${DEFAULTPOLICY:-}"
option allowDockerNetworks "${ALLOWDOCKERNETWORKS:-true}"
option allowLocalhost "${ALLOWLOCALHOST:-true}"
option immutableConfig "${IMMUTABLECONFIG:-true}"
option logBlocked "${LOGBLOCKED:-true}"
option allowClaudeWebFetchDomains "${ALLOWCLAUDEWEBFETCHDOMAINS:-true}"
option claudeSettingsPaths "${CLAUDESETTINGSPATHS:-}"
# The container's user administers the rules when they are not immutable.
if [ "${IMMUTABLECONFIG:-true}" = false ] && [ -n "${_REMOTE_USER:-}" ] && [ "${_REMOTE_USER}" != root ]; then
	option adminUser "$_REMOTE_USER"
fi
chmod 644 "$tmp"
mv "$tmp" "$conf"
# Check it now, in the image build, rather than at the first start.
/usr/local/bin/airlock apply --config "$conf" --check >/dev/null

cat >/usr/local/share/devcontainer-init.d/50-airlock.sh <<'HOOK'
#!/bin/sh
# airlock: the network policy, at every start of the container (as root).
exec /usr/local/bin/airlock apply --config /etc/airlock/apply.conf
HOOK
chmod 755 /usr/local/share/devcontainer-init.d/50-airlock.sh

cat >/usr/local/share/airlock/entrypoint.sh <<'ENTRY'
#!/bin/sh
# Runs the init hooks (airlock's among them), then the container's command.
# A hook that fails stops the container: without its policy it must not run.
for hook in /usr/local/share/devcontainer-init.d/*.sh; do
	[ -x "$hook" ] || continue
	if [ "$(id -u)" = 0 ]; then
		"$hook" || { echo "entrypoint: $hook failed; not starting" >&2; exit 1; }
	elif command -v sudo >/dev/null 2>&1; then
		sudo -n "$hook" || { echo "entrypoint: $hook failed; not starting" >&2; exit 1; }
	else
		echo "entrypoint: $hook needs root; not starting" >&2
		exit 1
	fi
done
exec "$@"
ENTRY
chmod 755 /usr/local/share/airlock/entrypoint.sh
say "installed: airlock $(/usr/local/bin/airlock --version | cut -d' ' -f2); policy in $conf; applied at every start"
