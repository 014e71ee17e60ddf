#!/usr/bin/env bash
# Put the airlock binary, the shared libraries it loads and their loader
# under devcontainer/src/airlock/dist/, where the feature's install.sh takes
# them from (a feature's folder is all an image build sees).
#
#   scripts/build-feature.sh [BINARY] [DIST_DIR]
#
# Without BINARY, builds a release binary first.  The libraries come from
# ldd, so what is bundled is exactly what this binary needs on this machine;
# the feature then works in any glibc-based image of the same architecture,
# whatever libraries that image has.
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${1:-}
dist=${2:-devcontainer/src/airlock/dist}
if [ -z "$binary" ]; then
	scripts/install-deps.sh
	. scripts/lib.sh
	meson_configure build-ci/release --buildtype=release
	ninja -C build-ci/release src/airlock >/dev/null
	binary=build-ci/release/src/airlock
fi
rm -rf "$dist"
mkdir -p "$dist/lib"
cp "$binary" "$dist/airlock"
loader=
while read -r name arrow path _; do
	case "$name" in
	/*ld-linux*) loader=$name; continue ;;
	linux-vdso*) continue ;;
	esac
	[ "$arrow" = "=>" ] && [ -f "$path" ] || { echo "build-feature: cannot find $name" >&2; exit 1; }
	cp -L "$path" "$dist/lib/$name"
done < <(ldd "$binary")
[ -n "$loader" ] || { echo "build-feature: no loader in ldd's list" >&2; exit 1; }
cp -L "$loader" "$dist/ld.so"
echo "build-feature: $(ls "$dist/lib" | wc -l) libraries and the loader in $dist"
