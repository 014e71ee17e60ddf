/* curl_lib.c - dlopen() libcurl and look up its functions (curl_lib.h). */
#include "docker/curl_lib.h"

#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* The sonames of Debian's builds (OpenSSL, GnuTLS, NSS flavours): one API. */
static const char *const sonames[] = {"libcurl.so.4", "libcurl-gnutls.so.4", "libcurl-nss.so.4"};

static const struct {
	const char *name;
	size_t offset;
} symbols[] = {
        {"curl_global_init", offsetof(struct curl_lib, global_init)},
        {"curl_global_cleanup", offsetof(struct curl_lib, global_cleanup)},
        {"curl_easy_init", offsetof(struct curl_lib, easy_init)},
        {"curl_easy_cleanup", offsetof(struct curl_lib, easy_cleanup)},
        {"curl_easy_reset", offsetof(struct curl_lib, easy_reset)},
        {"curl_easy_setopt", offsetof(struct curl_lib, easy_setopt)},
        {"curl_easy_getinfo", offsetof(struct curl_lib, easy_getinfo)},
        {"curl_easy_perform", offsetof(struct curl_lib, easy_perform)},
        {"curl_easy_strerror", offsetof(struct curl_lib, easy_strerror)},
        {"curl_slist_append", offsetof(struct curl_lib, slist_append)},
        {"curl_slist_free_all", offsetof(struct curl_lib, slist_free_all)},
};

const struct curl_lib *curl_lib_get(struct diag *d)
{
	static struct curl_lib lib;
	static void *handle;
	char why[256] = "";

	if (handle)
		return &lib;
	void *h = NULL;
	for (size_t i = 0; i < sizeof(sonames) / sizeof(sonames[0]) && !h; i++) {
		h = dlopen(sonames[i], RTLD_NOW | RTLD_LOCAL);
		if (!h && i == 0) {
			const char *e = dlerror();
			snprintf(why, sizeof(why), "%s", e ? e : "not found");
		}
	}
	if (!h) {
		diag_fail(d, -ENOENT,
		          "the Docker commands need libcurl, which cannot be loaded (%s): "
		          "install it (Debian and Ubuntu: apt install libcurl4)",
		          why);
		return NULL;
	}
	for (size_t i = 0; i < sizeof(symbols) / sizeof(symbols[0]); i++) {
		void *f = dlsym(h, symbols[i].name);
		if (!f) {
			diag_fail(d, -ENOSYS, "libcurl has no %s: it is older than airlock needs",
			          symbols[i].name);
			dlclose(h);
			return NULL;
		}
		/* POSIX: a dlsym() result is the function's address; copied as
		 * bytes into its slot, which has the representation of a void *. */
		memcpy((char *)&lib + symbols[i].offset, &f, sizeof(f));
	}
	handle = h;
	return &lib;
}
