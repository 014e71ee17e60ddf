# Shared by the scripts in this directory: source it, do not run it.

# meson_configure DIR [MESON OPTIONS...]: set up a build directory, or
# reconfigure it with these options if it exists.
meson_configure() {
	local dir=$1
	shift
	if [ -f "$dir/build.ninja" ]; then
		meson setup --reconfigure "$dir" "$@" >/dev/null
	else
		meson setup "$dir" "$@" >/dev/null
	fi
}
