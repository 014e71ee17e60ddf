/* privs.h - the sandbox's identity and the privileges it gives up.
 *
 * Two phases, in this order, each in the process that is about to need it:
 *
 *   privs_map_ids   right after unshare(CLONE_NEWUSER): the caller's uid
 *                   and gid map to themselves inside the new user namespace
 *                   (and only they), so files the command writes belong to
 *                   the caller, and the command runs as the caller.  The
 *                   process keeps every capability *in that namespace*, which
 *                   is what configuring the sandbox's network needs; none of
 *                   them works on anything the namespace does not own.
 *   privs_drop_all  just before the command runs: no_new_privs first (no
 *                   setuid binary or file capability can give anything
 *                   back), the securebits locked so that uid 0 means nothing
 *                   special, then the ambient, bounding, inheritable,
 *                   permitted and effective sets emptied.  After this no
 *                   process of the sandbox can change its nftables rules,
 *                   routes or mounts.
 */
#ifndef AIRLOCK_SANDBOX_PRIVS_H
#define AIRLOCK_SANDBOX_PRIVS_H

#include <sys/types.h>

#include "util/diag.h"

/* Write /proc/self/{setgroups,uid_map,gid_map}.  0 or a negative errno. */
int privs_map_ids(uid_t uid, gid_t gid, struct diag *d);

/* Give up every privilege for good.  0 or a negative errno; on failure the
 * caller must not run the command. */
int privs_drop_all(struct diag *d);

/* Root becomes `uid`:`gid` for good (`airlock apply`'s gateway, once its
 * listeners are bound): no supplementary groups, every capability gone
 * (bounding set included), no_new_privs.  0 or a negative errno. */
int privs_become(uid_t uid, gid_t gid, struct diag *d);

#endif
