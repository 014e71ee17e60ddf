/* image.h - the gateway image, built from the files on this machine.
 *
 * Nothing is downloaded: the image's root file system is this very airlock
 * binary (/proc/self/exe, as /usr/bin/airlock), the shared objects this
 * process has loaded (dl_iterate_phdr: the paths the loader opened, with the
 * host's symlinks along them, so the loader finds them by soname), an
 * /etc/passwd and /etc/group naming one unprivileged user (GATEWAY_UID),
 * and the empty directories the sidecar mounts over (/run/airlock,
 * /etc/airlock/rules, /tmp).  It is imported with POST /images/create?fromSrc=-
 * (what `docker import` does), with USER, ENTRYPOINT and a
 * `io.airlock.content` label holding the archive's fingerprint: an image
 * whose label matches was built from the same files and is reused.
 */
#ifndef AIRLOCK_DOCKER_IMAGE_H
#define AIRLOCK_DOCKER_IMAGE_H

#include <stdbool.h>

#include "docker/client.h"
#include "docker/tar.h"

#define GATEWAY_UID         65532
#define GATEWAY_IMAGE_REPO  "airlock-gateway"
#define GATEWAY_IMAGE_LABEL "io.airlock.content"

/* The root file system as a finished archive, and its fingerprint. */
int gateway_rootfs(struct tar *ret, char fingerprint[17], struct diag *d);

/* The default reference, "airlock-gateway:VERSION". */
const char *gateway_image_default(void);

/* Make sure `ref` ("repo:tag") exists and was built from this binary: build
 * and import it when it is missing, carries another fingerprint, or
 * `force`.  *ret_built (may be NULL) says whether an import happened. */
int gateway_image_ensure(struct docker *dk, const char *ref, bool force, bool *ret_built,
                         struct diag *d);

/* 1 if image `ref` exists, 0 if not. */
int gateway_image_exists(struct docker *dk, const char *ref, struct diag *d);

/* Whether `ref` exists and carries this binary's fingerprint (what
 * gateway_image_ensure() would reuse), without building anything. */
enum gateway_image_state {
	GATEWAY_IMAGE_MISSING,
	GATEWAY_IMAGE_STALE, /* built from other files: another airlock binary */
	GATEWAY_IMAGE_CURRENT,
};
int gateway_image_state(struct docker *dk, const char *ref, enum gateway_image_state *ret,
                        struct diag *d);

#endif
