/* privs.c - identity mapping and dropping privileges (see privs.h). */
#include "sandbox/privs.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/securebits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

static int write_file(const char *path, const char *text, struct diag *d)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t len = strlen(text);
	if (fd < 0)
		return diag_fail(d, -errno, "cannot open %s: %s", path, strerror(errno));
	if (write(fd, text, len) != (ssize_t)len)
		return diag_fail(d, errno ? -errno : -EIO, "cannot write %s: %s", path,
		                 strerror(errno ? errno : EIO));
	return 0;
}

int privs_map_ids(uid_t uid, gid_t gid, struct diag *d)
{
	char map[64];
	int e;

	/* An unprivileged process may map its own gid only after giving up
	 * setgroups(2) in the namespace (otherwise it could drop a group that
	 * denies it access to something). */
	e = write_file("/proc/self/setgroups", "deny", d);
	if (e < 0 && e != -ENOENT)
		return e;
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
	if ((e = write_file("/proc/self/uid_map", map, d)) < 0)
		return e;
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)gid, (unsigned)gid);
	return write_file("/proc/self/gid_map", map, d);
}

int privs_drop_all(struct diag *d)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return diag_fail(d, -errno, "cannot set no_new_privs: %s", strerror(errno));
	/* uid 0 (a root caller's own uid, mapped) gets no capabilities at exec,
	 * and nothing can unlock that. */
	unsigned long bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
	                     SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
	                     SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
	if (prctl(PR_SET_SECUREBITS, bits, 0, 0, 0) < 0)
		return diag_fail(d, -errno, "cannot lock the securebits: %s", strerror(errno));
	if (cap_reset_ambient() < 0)
		return diag_fail(d, -errno, "cannot clear the ambient capabilities: %s",
		                 strerror(errno));
	/* Every capability the running kernel knows, not only those our
	 * headers name. */
	for (cap_value_t c = 0; c < (cap_value_t)cap_max_bits(); c++)
		if (cap_drop_bound(c) < 0)
			return diag_fail(d, -errno,
			                 "cannot drop capability %d from the bounding set: %s",
			                 (int)c, strerror(errno));
	cap_t none = cap_init();
	if (!none)
		return diag_fail(d, -ENOMEM, "out of memory");
	int r = cap_set_proc(none);
	int e = errno;
	cap_free(none);
	if (r < 0)
		return diag_fail(d, -e, "cannot drop the capabilities: %s", strerror(e));
	return 0;
}

int privs_become(uid_t uid, gid_t gid, struct diag *d)
{
	/* The bounding set while CAP_SETPCAP is still ours; the ids, which
	 * clear the other sets (no SECBIT_KEEP_CAPS); then no_new_privs. */
	for (cap_value_t c = 0; c < (cap_value_t)cap_max_bits(); c++)
		if (cap_drop_bound(c) < 0)
			return diag_fail(d, -errno,
			                 "cannot drop capability %d from the bounding set: %s",
			                 (int)c, strerror(errno));
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		return diag_fail(d, -errno, "cannot become uid %u: %s", (unsigned)uid,
		                 strerror(errno));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return diag_fail(d, -errno, "cannot set no_new_privs: %s", strerror(errno));
	cap_t now = cap_get_proc();
	cap_flag_value_t v = CAP_CLEAR;
	bool any = false;
	for (cap_value_t c = 0; now && c <= CAP_LAST_CAP; c++)
		if (cap_get_flag(now, c, CAP_PERMITTED, &v) == 0 && v == CAP_SET)
			any = true;
	if (now)
		cap_free(now);
	if (!now || any || getuid() != uid || geteuid() != uid)
		return diag_fail(d, -EPERM, "privileges remain after becoming uid %u",
		                 (unsigned)uid);
	return 0;
}
