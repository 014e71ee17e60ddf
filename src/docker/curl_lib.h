/* curl_lib.h - libcurl, loaded the first time the Docker API is used.
 *
 * Only the Docker commands speak HTTP, yet a binary linked with libcurl
 * pays for it on every start: libcurl brings some thirty libraries (TLS,
 * Kerberos, LDAP, SSH...) whose relocations and constructors cost about
 * 7 ms of CPU, a quarter of `airlock run -- true`.  So the binary is built
 * against libcurl's header only, and this module dlopen()s the library and
 * looks up the few functions client.c calls.  The gateway image and the
 * devcontainer bundle need no libcurl at all.
 *
 * Not thread-safe: the first call loads, later calls return the same table.
 */
#ifndef AIRLOCK_DOCKER_CURL_LIB_H
#define AIRLOCK_DOCKER_CURL_LIB_H

#include <curl/curl.h>

#include "util/diag.h"

struct curl_lib {
	CURLcode (*global_init)(long flags);
	void (*global_cleanup)(void);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *c);
	void (*easy_reset)(CURL *c);
	CURLcode (*easy_setopt)(CURL *c, CURLoption option, ...);
	CURLcode (*easy_getinfo)(CURL *c, CURLINFO info, ...);
	CURLcode (*easy_perform)(CURL *c);
	const char *(*easy_strerror)(CURLcode code);
	struct curl_slist *(*slist_append)(struct curl_slist *list, const char *text);
	void (*slist_free_all)(struct curl_slist *list);
};

/* The library's functions, or NULL with `d` naming what to install. */
const struct curl_lib *curl_lib_get(struct diag *d);

#endif
