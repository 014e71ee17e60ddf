/* bench_matcher: load time, memory and lookup speed of the policy matcher.
 *
 *   bench_matcher [RULES [LOOKUPS]]     (defaults: 1000000 rules, 2000000 lookups)
 *
 * Writes RULES synthetic domain rules (60% exact, 30% *.name, 10% .name) to a
 * temporary file, then measures what `airlock` does with such a list: read,
 * parse, normalise and compile it (the load), the memory the compiled
 * snapshot holds, and decisions per second for a mix of names that match and
 * names that do not - both on canonical names (what the gateway has once a
 * name is normalised) and including name_normalize() on raw input.
 * Each measure is taken ROUNDS times and the median is printed, as a Markdown
 * table.  Deterministic input: fixed PRNG seed.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "policy/policy.h"
#include "policy/rulelist.h"

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;

static uint64_t rng(void)
{
	/* xorshift64*: fast, and the same sequence every run. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kib(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "re");
	if (!f)
		return 0;
	if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
		resident = 0;
	fclose(f);
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* A random registrable-looking name: 1-3 labels of 3-12 letters, then a TLD. */
static size_t random_name(char *buf, size_t size)
{
	static const char *const tlds[] = {"com", "net", "org", "io", "dev", "example"};
	unsigned labels = 1 + (unsigned)(rng() % 3);
	size_t o = 0;
	for (unsigned i = 0; i < labels; i++) {
		unsigned len = 3 + (unsigned)(rng() % 10);
		for (unsigned j = 0; j < len && o + 1 < size; j++)
			buf[o++] = (char)('a' + rng() % 26);
		buf[o++] = '.';
	}
	o += (size_t)snprintf(buf + o, size - o, "%s", tlds[rng() % 6]);
	return o;
}

struct name {
	char text[80];
	size_t len;
	bool exact; /* rules: written as an exact rule (else *.name or .name) */
};

enum { ROUNDS = 5 };

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v)
{
	qsort(v, ROUNDS, sizeof(*v), cmp_double);
	return v[ROUNDS / 2];
}

int main(int argc, char **argv)
{
	long n_rules = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
	long n_lookups = argc > 2 ? strtol(argv[2], NULL, 10) : 2000000;
	char path[] = "/tmp/airlock-bench-XXXXXX";
	struct diag d = {""};

	if (n_rules <= 0 || n_lookups <= 0) {
		fprintf(stderr, "usage: bench_matcher [RULES [LOOKUPS]]\n");
		return 2;
	}
	struct name *names = calloc((size_t)n_rules, sizeof(*names));
	struct name *queries = calloc((size_t)n_lookups, sizeof(*queries));
	if (!names || !queries)
		return 1;

	/* The rule list, as a file, like a blocklist would be. */
	int fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		perror("bench_matcher: temporary file");
		return 1;
	}
	for (long i = 0; i < n_rules; i++) {
		names[i].len = random_name(names[i].text, sizeof(names[i].text));
		unsigned kind = (unsigned)(rng() % 10);
		names[i].exact = kind < 6;
		fprintf(f, "%s%s\n", kind < 6 ? "" : kind < 9 ? "*." : ".", names[i].text);
	}
	fclose(f);

	/* Half the queries match a rule (the name of an exact rule, a name below
	 * a wildcard one), half are names no rule covers. */
	for (long i = 0; i < n_lookups; i++) {
		struct name *q = &queries[i];
		if (i % 2 == 0) {
			const struct name *r = &names[rng() % (uint64_t)n_rules];
			q->len = (size_t)snprintf(q->text, sizeof(q->text), "%s%s",
			                          r->exact ? "" : "www.", r->text);
		} else {
			q->len = random_name(q->text, sizeof(q->text));
		}
	}

	double load_t[ROUNDS], decide_t[ROUNDS], any_t[ROUNDS], full_t[ROUNDS];
	long rss_growth = 0;
	size_t loaded = 0, memory = 0;
	unsigned long blocked = 0, decided = 0;

	for (int round = 0; round < ROUNDS; round++) {
		long rss_before = rss_kib();
		double t0 = now();
		struct policy_builder *b = policy_builder_new();
		struct policy *p = NULL;
		/* Default allow, rules block: the blocked share shows the hit rate. */
		if (b)
			policy_builder_set_default(b, ACTION_ALLOW);
		if (!b || rulelist_load_file(b, ACTION_BLOCK, path, &loaded, &d) < 0 ||
		    policy_compile(b, &p, &d) < 0) {
			fprintf(stderr, "bench_matcher: %s\n", d.msg);
			unlink(path);
			return 1;
		}
		load_t[round] = now() - t0;
		rss_growth = rss_kib() - rss_before;
		memory = policy_memory(p);

		/* Decisions on canonical names. */
		struct decision dec;
		double t1 = now();
		for (long i = 0; i < n_lookups; i++) {
			policy_decide_name(p, queries[i].text, queries[i].len, 443, &dec);
			blocked += dec.verdict == ACTION_BLOCK;
		}
		decide_t[round] = now() - t1;

		/* The same, any port (the DNS filter's question). */
		double t2 = now();
		for (long i = 0; i < n_lookups; i++) {
			policy_decide_name(p, queries[i].text, queries[i].len, 0, &dec);
			blocked += dec.verdict == ACTION_BLOCK;
		}
		any_t[round] = now() - t2;

		/* Normalise raw input first, as for a DNS question or an SNI. */
		double t3 = now();
		for (long i = 0; i < n_lookups; i++) {
			char canon[NAME_BUF_SIZE];
			size_t len;
			if (name_normalize(queries[i].text, queries[i].len, canon, &len, NULL) ==
			    0) {
				policy_decide_name(p, canon, len, 443, &dec);
				blocked += dec.verdict == ACTION_BLOCK;
			}
		}
		full_t[round] = now() - t3;
		decided += 3 * (unsigned long)n_lookups;
		policy_unref(p);
	}
	unlink(path);
	double load = median(load_t), decide = median(decide_t), decide_any = median(any_t),
	       full = median(full_t);

	printf("| measure | value |\n|---|---|\n");
	printf("| rules loaded (file -> compiled snapshot) | %zu |\n", loaded);
	printf("| load time (median of %d) | %.0f ms |\n", ROUNDS, load * 1e3);
	printf("| snapshot memory (policy_memory) | %.1f MiB (%.0f bytes/rule) |\n",
	       (double)memory / (1024.0 * 1024.0), (double)memory / (double)loaded);
	printf("| process RSS growth during a load | %.1f MiB |\n", (double)rss_growth / 1024.0);
	printf("| lookups (half match a rule) | %ld |\n", n_lookups);
	printf("| decide, one port | %.0f ns/lookup (%.1f M/s) |\n",
	       decide / (double)n_lookups * 1e9, (double)n_lookups / decide / 1e6);
	printf("| decide, any port (DNS) | %.0f ns/lookup (%.1f M/s) |\n",
	       decide_any / (double)n_lookups * 1e9, (double)n_lookups / decide_any / 1e6);
	printf("| normalise + decide | %.0f ns/lookup (%.1f M/s) |\n",
	       full / (double)n_lookups * 1e9, (double)n_lookups / full / 1e6);
	/* Printed so the loops cannot be optimised away; half match by design. */
	printf("| share blocked (sanity: about 50%%) | %.1f%% |\n",
	       100.0 * (double)blocked / (double)decided);
	free(names);
	free(queries);
	return 0;
}
