#!/usr/bin/env bash
# The main job, as far as it is built today: install what is needed, build
# airlock, and ask it about real names under each built-in profile.
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
