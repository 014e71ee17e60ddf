/* protect.c - host rules for a container that keeps its own network (see
 * protect.h). */
#include "docker/protect.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "docker/veth.h"
#include "enforce/nftables.h"
#include "state/state.h"
#include "util/file.h"

#define RECORD_MAX   8192
#define WATCH_FAILS  120 /* seconds without the daemon before the watcher gives up */
#define RECORD_FIELD 64

static void json_put(struct json_object **o)
{
	json_object_put(*o);
}
#define _cleanup_json_ _cleanup_(json_put)

/* Copy at most size - 1 bytes (cut, not refused: callers check what must
 * fit, and every field is bounded where it is used). */
static void copy(char *dst, size_t size, const char *src)
{
	size_t n = src ? strnlen(src, size - 1) : 0;
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Container references go into request paths: names and ids only. */
static bool valid_ref(const char *ref)
{
	if (!*ref || strlen(ref) > 127)
		return false;
	for (const char *p = ref; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("_.-", *p)))
			return false;
	return true;
}

int protect_inspect(struct docker *dk, const char *ref, struct protect_target *ret, struct diag *d)
{
	char path[DOCKER_PATH_MAX];
	_cleanup_json_ struct json_object *o = NULL;

	memset(ret, 0, sizeof(*ret));
	if (!valid_ref(ref))
		return diag_fail(d, -EINVAL, "'%.64s' is not a container name or id", ref);
	snprintf(path, sizeof(path), "/containers/%s/json", ref);
	int e = docker_call(dk, "GET", path, NULL, &o, d);
	if (e == -ENOENT)
		return diag_fail(d, -ENOENT, "no container %s", ref);
	if (e < 0)
		return e;
	const char *id = docker_json_str(o, "Id", NULL);
	const char *name = docker_json_str(o, "Name", NULL);
	if (!id || strlen(id) != 64)
		return diag_fail(d, -EBADMSG, "Docker described %s without an id", ref);
	copy(ret->id, sizeof(ret->id), id);
	copy(ret->name, sizeof(ret->name), name && name[0] == '/' ? name + 1 : name);
	struct json_object *r = docker_json_get(o, "State", "Running", NULL);
	ret->running = r && json_object_get_boolean(r);
	ret->pid = (pid_t)docker_json_int(o, 0, "State", "Pid", NULL);
	copy(ret->restart, sizeof(ret->restart),
	     docker_json_str(o, "HostConfig", "RestartPolicy", "Name", NULL));
	copy(ret->network_mode, sizeof(ret->network_mode),
	     docker_json_str(o, "HostConfig", "NetworkMode", NULL));
	copy(ret->role, sizeof(ret->role),
	     docker_json_str(o, "Config", "Labels", "io.airlock.role", NULL));
	struct json_object *nets = docker_json_get(o, "NetworkSettings", "Networks", NULL);
	if (json_object_is_type(nets, json_type_object)) {
		json_object_object_foreach(nets, key, val)
		{
			if (ret->n_nets == PROTECT_MAX_LINKS)
				return diag_fail(d, -E2BIG, "%s is on over %d networks", ref,
				                 PROTECT_MAX_LINKS);
			struct protect_net *n = &ret->nets[ret->n_nets++];
			copy(n->name, sizeof(n->name), key);
			copy(n->id, sizeof(n->id), docker_json_str(val, "NetworkID", NULL));
			copy(n->mac, sizeof(n->mac), docker_json_str(val, "MacAddress", NULL));
			copy(n->ipv4, sizeof(n->ipv4), docker_json_str(val, "IPAddress", NULL));
			copy(n->ipv6, sizeof(n->ipv6),
			     docker_json_str(val, "GlobalIPv6Address", NULL));
			for (char *p = n->mac; *p; p++)
				if (*p >= 'A' && *p <= 'F')
					*p = (char)(*p - 'A' + 'a');
		}
	}
	return 0;
}

static int sidecar_address(struct docker *dk, const struct protect_target *t, const char *sidecar,
                           char out[46], char *desc, size_t desc_size, struct diag *d)
{
	struct protect_target g;
	int e = protect_inspect(dk, sidecar, &g, d);
	if (e < 0)
		return e;
	if (!g.running)
		return diag_fail(d, -EINVAL, "the gateway container %s is not running", g.name);
	for (size_t i = 0; i < t->n_nets; i++)
		for (size_t k = 0; k < g.n_nets; k++)
			if (strcmp(t->nets[i].id, g.nets[k].id) == 0 && g.nets[k].ipv4[0]) {
				copy(out, 46, g.nets[k].ipv4);
				snprintf(desc, desc_size, "the gateway %s on %s", g.name,
				         g.nets[k].name);
				return 0;
			}
	return diag_fail(d, -EINVAL,
	                 "the gateway container %s shares no network with %s: connect it "
	                 "('docker network connect NETWORK %s') or give --gateway ADDR",
	                 g.name, t->name, g.name);
}

int protect_gateway(struct docker *dk, const struct protect_target *t, const char *gateway,
                    const char *sidecar, char out[46], char *desc, size_t desc_size, struct diag *d)
{
	unsigned char buf[16];

	if (gateway) {
		if (inet_pton(AF_INET, gateway, buf) != 1 && inet_pton(AF_INET6, gateway, buf) != 1)
			return diag_fail(d, -EINVAL,
			                 "--gateway '%.64s': expected an IPv4 or IPv6 address",
			                 gateway);
		copy(out, 46, gateway);
		snprintf(desc, desc_size, "the gateway at %s", gateway);
		return 0;
	}
	if (sidecar)
		return sidecar_address(dk, t, sidecar, out, desc, desc_size, d);

	/* The airlock sidecars on the container's networks. */
	char found[64] = "";
	size_t n_found = 0;
	for (size_t i = 0; i < t->n_nets; i++) {
		char filter[256], esc[512], path[DOCKER_PATH_MAX];
		_cleanup_json_ struct json_object *list = NULL;
		snprintf(filter, sizeof(filter),
		         "{\"label\":[\"io.airlock.role=sidecar\"],\"network\":[\"%s\"]}",
		         t->nets[i].id);
		if (docker_escape(filter, esc, sizeof(esc)) < 0)
			continue;
		snprintf(path, sizeof(path), "/containers/json?filters=%s", esc);
		int e = docker_call(dk, "GET", path, NULL, &list, d);
		if (e < 0)
			return e;
		size_t len = json_object_is_type(list, json_type_array)
		                     ? json_object_array_length(list)
		                     : 0;
		for (size_t k = 0; k < len; k++) {
			const char *id =
			        docker_json_str(json_object_array_get_idx(list, k), "Id", NULL);
			if (!id || strcmp(id, t->id) == 0 || strcmp(id, found) == 0)
				continue;
			copy(found, sizeof(found), id);
			n_found++;
		}
	}
	if (n_found == 1)
		return sidecar_address(dk, t, found, out, desc, desc_size, d);
	return diag_fail(d, -ENOENT,
	                 "%s airlock sidecars on the networks of %s: give --sidecar CONTAINER "
	                 "or --gateway ADDR",
	                 n_found ? "several" : "no", t->name);
}

/* Fill the links of `spec` from the interfaces of the container (`c`) and
 * of a candidate daemon namespace (`host`).  0, or -ENOENT naming the first
 * interface without a host end there. */
static int match_links(const struct protect_target *t, const struct veth_links *c,
                       const struct veth_links *host, struct protect_spec *spec, struct diag *d)
{
	spec->n_links = 0;
	for (size_t i = 0; i < t->n_nets; i++) {
		const struct protect_net *n = &t->nets[i];
		const struct veth_link *cl = veth_by_mac(c, n->mac);
		const char *bridge = NULL;
		if (!cl)
			return diag_fail(d, -ENOENT,
			                 "%s has no interface with the address %s of "
			                 "its network %s",
			                 t->name, n->mac, n->name);
		const struct veth_link *h = veth_host_end(host, cl, &bridge);
		if (!h)
			return diag_fail(
			        d, -ENOENT,
			        "the other end of %s's interface on %s is not a bridge port "
			        "in the daemon's network namespace (protect handles bridge "
			        "networks only)",
			        t->name, n->name);
		struct protect_link *l = &spec->links[spec->n_links++];
		copy(l->veth, sizeof(l->veth), h->name);
		copy(l->bridge, sizeof(l->bridge), bridge);
		copy(l->mac, sizeof(l->mac), n->mac);
		copy(l->ipv4, sizeof(l->ipv4), n->ipv4);
		copy(l->ipv6, sizeof(l->ipv6), n->ipv6);
	}
	return 0;
}

int protect_plan(const struct protect_target *t, const char *gateway, uint16_t dns_port,
                 uint16_t proxy_port, struct protect_spec *ret, int *ret_ns, struct diag *d)
{
	*ret_ns = -1;
	memset(ret, 0, sizeof(*ret));
	if (!t->running || t->pid <= 0)
		return diag_fail(d, -ESRCH, "%s is not running: protect it once it runs", t->name);
	if (strcmp(t->network_mode, "host") == 0)
		return diag_fail(d, -EINVAL,
		                 "%s shares the host's network (--network host): "
		                 "there is no interface of its own to confine",
		                 t->name);
	if (strncmp(t->network_mode, "container:", 10) == 0)
		return diag_fail(d, -EINVAL,
		                 "%s uses another container's network (%s): "
		                 "protect that container",
		                 t->name, t->network_mode);
	if (strcmp(t->network_mode, "none") == 0 || t->n_nets == 0)
		return diag_fail(d, -EINVAL, "%s has no network: nothing to protect", t->name);
	if (protect_table_name(t->id, ret->table, sizeof(ret->table)) < 0)
		return diag_fail(d, -EINVAL, "container id %.64s", t->id);
	copy(ret->container, sizeof(ret->container), t->name);
	copy(ret->gateway, sizeof(ret->gateway), gateway);
	ret->dns_port = dns_port;
	ret->proxy_port = proxy_port;
	ret->bridge_family = true;

	_cleanup_close_ int cns = netns_open_pid(t->pid, d);
	if (cns < 0)
		return cns;
	_cleanup_free_ struct veth_links *clinks = malloc(sizeof(*clinks));
	_cleanup_free_ struct veth_links *hlinks = malloc(sizeof(*hlinks));
	if (!clinks || !hlinks)
		return diag_fail(d, -ENOMEM, "out of memory");
	int e = veth_dump(cns, clinks, d);
	if (e < 0)
		return e;

	/* Where the daemon's namespace may be: the runtime shim's (the
	 * container's parent), then our own. */
	pid_t shim = proc_parent(t->pid);
	int candidates[2] = {-1, -1};
	if (shim > 0)
		candidates[0] = netns_open_pid(shim, NULL);
	candidates[1] = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	e = -ENOENT;
	for (size_t i = 0; i < 2 && e < 0; i++) {
		if (candidates[i] < 0)
			continue;
		if (i == 1 && candidates[0] >= 0 && netns_same(candidates[0], candidates[1]) == 1)
			break;
		if ((e = veth_dump(candidates[i], hlinks, d)) < 0)
			continue;
		e = match_links(t, clinks, hlinks, ret, d);
		if (e == 0) {
			bool ours = i == 1 || (candidates[1] >= 0 &&
			                       netns_same(candidates[0], candidates[1]) == 1);
			*ret_ns = ours ? -1 : TAKE_FD(candidates[i]);
		}
	}
	for (size_t i = 0; i < 2; i++)
		if (candidates[i] >= 0)
			close(candidates[i]);
	return e;
}

static int apply_text(int ns, const char *text, struct diag *d)
{
	int saved;
	int e = netns_enter(ns, &saved, d);
	if (e < 0)
		return e;
	e = nftables_apply(text, d);
	netns_leave(saved);
	return e;
}

int protect_apply(int ns, struct protect_spec *spec, struct diag *d)
{
	_cleanup_free_ char *text = malloc(PROTECT_TEXT_MAX);
	if (!text)
		return diag_fail(d, -ENOMEM, "out of memory");
	int n = ruleset_protect_render(spec, text, PROTECT_TEXT_MAX, d);
	if (n < 0)
		return n;
	int e = apply_text(ns, text, d);
	if (e == -EOPNOTSUPP && spec->bridge_family) {
		/* No bridge family in this kernel: the inet table alone. */
		spec->bridge_family = false;
		if ((n = ruleset_protect_render(spec, text, PROTECT_TEXT_MAX, d)) < 0)
			return n;
		e = apply_text(ns, text, d);
	}
	return e;
}

int protect_remove_rules(int ns, const char *table, struct diag *d)
{
	char text[512];
	int n = ruleset_protect_render_remove(table, true, text, sizeof(text), d);
	if (n < 0)
		return n;
	int e = apply_text(ns, text, d);
	if (e == -EOPNOTSUPP) { /* no bridge family: there is no bridge table either */
		if ((n = ruleset_protect_render_remove(table, false, text, sizeof(text), d)) < 0)
			return n;
		e = apply_text(ns, text, d);
	}
	return e;
}

/* ---- records ---- */

int protect_dir(char *out, size_t size, struct diag *d)
{
	char root[PATH_MAX];
	int e = state_root(SANDBOX_KIND_DOCKER, root, sizeof(root), d);
	if (e < 0)
		return e;
	if (snprintf(out, size, "%s/.protect", root) >= (int)size)
		return diag_fail(d, -ENAMETOOLONG, "the state directory's path is too long");
	return 0;
}

static int mkdirs(const char *path, struct diag *d)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return diag_fail(d, -errno, "cannot create %s: %s", buf, strerror(errno));
		*p = '/';
	}
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return diag_fail(d, -errno, "cannot create %s: %s", buf, strerror(errno));
	return 0;
}

static bool valid_id(const char *id)
{
	if (strlen(id) != 64)
		return false;
	for (const char *p = id; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

static int record_path(const char *id, char *out, size_t size, struct diag *d)
{
	char dir[PATH_MAX];
	int e = protect_dir(dir, sizeof(dir), d);
	if (e < 0)
		return e;
	if (!valid_id(id))
		return diag_fail(d, -EINVAL, "container id '%.64s'", id);
	if (snprintf(out, size, "%s/%s.conf", dir, id) >= (int)size)
		return diag_fail(d, -ENAMETOOLONG, "the state directory's path is too long");
	return 0;
}

int protect_record_save(const struct protect_record *r, struct diag *d)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8], dir[PATH_MAX], text[RECORD_MAX];
	int e;

	if ((e = protect_dir(dir, sizeof(dir), d)) < 0 || (e = mkdirs(dir, d)) < 0 ||
	    (e = record_path(r->id, path, sizeof(path), d)) < 0)
		return e;
	int n = snprintf(text, sizeof(text),
	                 "id=%s\nname=%s\ntable=%s\nsocket=%s\npid=%ld\nbridge=%d\ngateway=%s\n",
	                 r->id, r->name, r->table, r->socket, r->pid, r->bridge_family ? 1 : 0,
	                 r->gateway);
	if (n < 0 || (size_t)n >= sizeof(text) || strchr(r->name, '\n') || strchr(r->socket, '\n'))
		return diag_fail(d, -EINVAL, "cannot record %s", r->name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return diag_fail(d, -errno, "cannot write %s: %s", tmp, strerror(errno));
	bool ok = write(fd, text, (size_t)n) == n && fsync(fd) == 0;
	e = errno;
	close(fd);
	if (!ok || rename(tmp, path) < 0) {
		e = ok ? errno : e;
		unlink(tmp);
		return diag_fail(d, -e, "cannot write %s: %s", path, strerror(e));
	}
	return 0;
}

static void field(const char *text, const char *key, char *out, size_t size)
{
	size_t kl = strlen(key);
	out[0] = '\0';
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p)
		if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
			const char *v = p + kl + 1, *end = strchr(v, '\n');
			size_t n = end ? (size_t)(end - v) : strlen(v);
			snprintf(out, size, "%.*s", (int)(n < size ? n : size - 1), v);
			return;
		}
}

static int record_read(const char *path, struct protect_record *r, struct diag *d)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	char num[RECORD_FIELD];
	int e = file_read_all(path, RECORD_MAX, &text, &len, d);
	if (e < 0)
		return e;
	memset(r, 0, sizeof(*r));
	field(text, "id", r->id, sizeof(r->id));
	field(text, "name", r->name, sizeof(r->name));
	field(text, "table", r->table, sizeof(r->table));
	field(text, "socket", r->socket, sizeof(r->socket));
	field(text, "gateway", r->gateway, sizeof(r->gateway));
	field(text, "pid", num, sizeof(num));
	r->pid = strtol(num, NULL, 10);
	field(text, "bridge", num, sizeof(num));
	r->bridge_family = strcmp(num, "1") == 0;
	if (!valid_id(r->id))
		return diag_fail(d, -EBADMSG, "%s: no container id", path);
	return 0;
}

int protect_record_load(const char *id, struct protect_record *r, struct diag *d)
{
	char path[PATH_MAX];
	int e = record_path(id, path, sizeof(path), d);
	if (e < 0)
		return e;
	if (access(path, F_OK) < 0)
		return diag_fail(d, -ENOENT, "%.12s is not protected", id);
	return record_read(path, r, d);
}

int protect_record_remove(const char *id)
{
	char path[PATH_MAX];
	if (record_path(id, path, sizeof(path), NULL) < 0)
		return -EINVAL;
	return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}

int protect_record_each(protect_record_fn *fn, void *ctx, struct diag *d)
{
	char dir[PATH_MAX], path[PATH_MAX + 80];
	int e = protect_dir(dir, sizeof(dir), d);
	if (e < 0)
		return e;
	DIR *dh = opendir(dir);
	if (!dh)
		return errno == ENOENT
		               ? 0
		               : diag_fail(d, -errno, "cannot read %s: %s", dir, strerror(errno));
	struct dirent *de;
	while ((de = readdir(dh))) {
		size_t n = strlen(de->d_name);
		struct protect_record r;
		if (n != 69 || strcmp(de->d_name + 64, ".conf") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (record_read(path, &r, NULL) < 0)
			continue;
		if ((e = fn(&r, ctx)) < 0)
			break;
	}
	closedir(dh);
	return e < 0 ? e : 0;
}

/* ---- the watcher ---- */

static int lock_path(const char *socket, char *out, size_t size, struct diag *d)
{
	char dir[PATH_MAX];
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	int e = protect_dir(dir, sizeof(dir), d);
	if (e < 0)
		return e;
	for (const unsigned char *p = (const unsigned char *)socket; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	if (snprintf(out, size, "%s/watch-%016llx.lock", dir, (unsigned long long)h) >= (int)size)
		return diag_fail(d, -ENAMETOOLONG, "the state directory's path is too long");
	return 0;
}

pid_t protect_watcher_pid(const char *socket)
{
	char path[PATH_MAX], buf[32];
	if (lock_path(socket, path, sizeof(path), NULL) < 0)
		return 0;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) == 0)
		return 0; /* free: nobody watches (closing releases ours) */
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	long pid = strtol(buf, NULL, 10);
	return pid > 0 ? (pid_t)pid : 0;
}

/* Make a descriptor one of the standard three, inherited by exec. */
static int install_std(int fd, int target)
{
	if (fd == target)
		return fcntl(fd, F_SETFD, 0);
	if (dup3(fd, target, O_CLOEXEC) < 0)
		return -1;
	return fcntl(target, F_SETFD, 0); /* the standard descriptors stay open */
}

int protect_watcher_ensure(int ns, const char *socket, pid_t *ret_pid, struct diag *d)
{
	char dir[PATH_MAX], log[PATH_MAX + 16], host[PATH_MAX + 8];
	pid_t running = protect_watcher_pid(socket);
	int e;

	if (ret_pid)
		*ret_pid = running;
	if (running > 0)
		return 0;
	if ((e = protect_dir(dir, sizeof(dir), d)) < 0 || (e = mkdirs(dir, d)) < 0)
		return e;
	snprintf(log, sizeof(log), "%s/watch.log", dir);
	snprintf(host, sizeof(host), "unix://%s", socket);
	fflush(NULL);
	pid_t child = fork();
	if (child < 0)
		return diag_fail(d, -errno, "cannot start the watcher: %s", strerror(errno));
	if (child == 0) {
		/* A session of its own, and a second fork so it is nobody's
		 * child but init's (or a subreaper's). */
		if (setsid() < 0)
			_exit(1);
		pid_t w = fork();
		if (w != 0)
			_exit(w < 0 ? 1 : 0);
		if (ns >= 0 && setns(ns, CLONE_NEWNET) < 0)
			_exit(1);
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
		int out = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (null < 0 || out < 0 || install_std(null, 0) < 0 || install_std(out, 1) < 0 ||
		    install_std(out, 2) < 0)
			_exit(1);
		setenv("DOCKER_HOST", host, 1);
		char *argv[] = {(char *)"airlock", (char *)"docker", (char *)"protect",
		                (char *)"--watch", NULL};
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	int status;
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return diag_fail(d, -ECHILD, "cannot start the watcher (see %s)", log);
	/* Wait (briefly) until it holds the lock, so its pid can be shown. */
	for (int i = 0; i < 100; i++) {
		if ((running = protect_watcher_pid(socket)) > 0)
			break;
		struct timespec ts = {0, 20 * 1000000L};
		nanosleep(&ts, NULL);
	}
	if (ret_pid)
		*ret_pid = running;
	return 0;
}

struct watch {
	struct docker *dk;
	const char *socket;
	size_t remaining;
	struct diag *d;
};

static void say(const char *fmt, ...) _printf_(1, 2);
static void say(const char *fmt, ...)
{
	char when[32];
	time_t now = time(NULL);
	struct tm tm;
	va_list ap;
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	fprintf(stderr, "%s airlock docker protect --watch: ", when);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

static void unprotect_record(const struct protect_record *r, const char *why)
{
	struct diag d = {""};
	if (protect_remove_rules(-1, r->table, &d) < 0) {
		say("%s (%.12s) %s, but its rules stay: %s", r->name, r->id, why, d.msg);
		return; /* the record stays, so the next pass tries again */
	}
	protect_record_remove(r->id);
	say("%s (%.12s) %s: rules %s removed", r->name, r->id, why, r->table);
}

static int reconcile_one(const struct protect_record *r, void *ctx)
{
	struct watch *w = ctx;
	struct protect_target t;
	struct diag d = {""};

	if (strcmp(r->socket, w->socket) != 0)
		return 0;
	int e = protect_inspect(w->dk, r->id, &t, &d);
	if (e == -ENOENT) {
		unprotect_record(r, "is gone");
		return 0;
	}
	if (e < 0)
		return diag_fail(w->d, e, "%s", d.msg);
	if (!t.running)
		unprotect_record(r, "stopped");
	else if (t.pid != r->pid)
		unprotect_record(r, "was restarted");
	else
		w->remaining++;
	return 0;
}

static int count_one(const struct protect_record *r, void *ctx)
{
	struct watch *w = ctx;
	if (strcmp(r->socket, w->socket) == 0)
		w->remaining++;
	return 0;
}

static size_t count_records(struct watch *w)
{
	w->remaining = 0;
	protect_record_each(count_one, w, NULL);
	return w->remaining;
}

/* One event: a container died; its record (if any) goes. */
static int on_event(const char *line, size_t len, void *ctx)
{
	struct watch *w = ctx;
	struct protect_record r;
	struct json_tokener *tok = json_tokener_new_ex(16);
	if (!tok)
		return 0;
	struct json_object *o = json_tokener_parse_ex(tok, line, (int)len);
	json_tokener_free(tok);
	const char *action = docker_json_str(o, "Action", NULL);
	const char *id = docker_json_str(o, "Actor", "ID", NULL);
	if (action && id && (strcmp(action, "die") == 0 || strcmp(action, "destroy") == 0) &&
	    valid_id(id) && protect_record_load(id, &r, NULL) == 0 &&
	    strcmp(r.socket, w->socket) == 0)
		unprotect_record(&r, "stopped");
	json_object_put(o);
	return count_records(w) == 0 ? 1 : 0;
}

int protect_watch(struct docker *dk, struct diag *d)
{
	char path[PATH_MAX], pidtext[32];
	struct watch w = {.dk = dk, .socket = docker_socket_path(dk), .d = d};
	int e = lock_path(w.socket, path, sizeof(path), d);
	if (e < 0)
		return e;
	char dir[PATH_MAX];
	if ((e = protect_dir(dir, sizeof(dir), d)) < 0 || (e = mkdirs(dir, d)) < 0)
		return e;
	_cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return diag_fail(d, -errno, "cannot open %s: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		return errno == EWOULDBLOCK
		               ? 0
		               : diag_fail(d, -errno, "cannot lock %s: %s", path, strerror(errno));
	int n = snprintf(pidtext, sizeof(pidtext), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pidtext, (size_t)n, 0) != n)
		return diag_fail(d, -errno, "cannot write %s: %s", path, strerror(errno));
	say("watching %s (pid %ld)", w.socket, (long)getpid());

	for (int fails = 0;;) {
		time_t since = time(NULL) - 2;
		w.remaining = 0;
		e = protect_record_each(reconcile_one, &w, d);
		if (e < 0) {
			if (++fails > WATCH_FAILS) {
				say("giving up: %s", d->msg);
				return e;
			}
			sleep(1);
			continue;
		}
		fails = 0;
		if (w.remaining == 0) {
			/* Unlock, then look again: a `protect` that wrote its record
			 * after our count either sees the lock free (and starts a
			 * watcher) or its record is seen here. */
			flock(fd, LOCK_UN);
			if (count_records(&w) == 0) {
				say("nothing left to watch");
				return 0;
			}
			if (flock(fd, LOCK_EX | LOCK_NB) < 0)
				return 0; /* another watcher took over */
			if (ftruncate(fd, 0) < 0 || pwrite(fd, pidtext, (size_t)n, 0) != n)
				return diag_fail(d, -errno, "cannot write %s", path);
			continue;
		}
		char filter[128], esc[256], req[DOCKER_PATH_MAX];
		snprintf(filter, sizeof(filter),
		         "{\"type\":[\"container\"],\"event\":[\"die\",\"destroy\"]}");
		docker_escape(filter, esc, sizeof(esc));
		snprintf(req, sizeof(req), "/events?since=%lld&filters=%s", (long long)since, esc);
		e = docker_stream(dk, req, PROTECT_WATCH_PERIOD_S, on_event, &w, d);
		if (e < 0) {
			say("%s", d->msg);
			sleep(1);
		}
	}
}
