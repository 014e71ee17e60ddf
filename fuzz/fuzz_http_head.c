/* HTTP request-head parser: never crashes; the answer does not depend on how
 * the bytes are split; DONE's head lies within the input, with its spans
 * inside the head; a host name is canonical (a name_normalize fixed point). */
#include <string.h>

#include "fuzz.h"
#include "proxy/http_head.h"

static struct http_head whole, split, bytes;

static int feed(struct http_head *h, const uint8_t *data, size_t size, size_t cut, size_t *used)
{
	size_t a = 0, b = 0;
	int r;

	http_head_init(h, 0);
	r = http_head_feed(h, data, cut, &a, NULL);
	FUZZ_ASSERT(a <= cut);
	if (r == HTTP_HEAD_NEED_MORE) {
		FUZZ_ASSERT(a == cut);
		r = http_head_feed(h, data + cut, size - cut, &b, NULL);
		FUZZ_ASSERT(b <= size - cut);
	}
	*used = a + b;
	return r;
}

static int feed_bytes(struct http_head *h, const uint8_t *data, size_t size, size_t *used)
{
	int r = HTTP_HEAD_NEED_MORE;
	size_t i = 0, n;

	http_head_init(h, 0);
	while (i < size && r == HTTP_HEAD_NEED_MORE) {
		r = http_head_feed(h, data + i, 1, &n, NULL);
		FUZZ_ASSERT(n == 1);
		i++;
	}
	*used = i;
	return r;
}

static void same(const struct http_head *a, const struct http_head *b)
{
	FUZZ_ASSERT(a->head_len == b->head_len);
	FUZZ_ASSERT(a->method == b->method && a->form == b->form);
	FUZZ_ASSERT(a->version_minor == b->version_minor);
	FUZZ_ASSERT(a->method_off == b->method_off && a->method_len == b->method_len);
	FUZZ_ASSERT(a->target_off == b->target_off && a->target_len == b->target_len);
	FUZZ_ASSERT(a->path_off == b->path_off && a->path_len == b->path_len);
	FUZZ_ASSERT(memcmp(&a->host, &b->host, sizeof(a->host)) == 0);
	FUZZ_ASSERT(a->has_content_length == b->has_content_length);
	FUZZ_ASSERT(a->content_length == b->content_length && a->chunked == b->chunked);
	FUZZ_ASSERT(a->seen == b->seen && a->n_headers == b->n_headers);
	FUZZ_ASSERT(memcmp(a->headers, b->headers, a->n_headers * sizeof(a->headers[0])) == 0);
}

static void check_done(const struct http_head *h, size_t size, size_t used)
{
	char canon[NAME_BUF_SIZE];
	size_t len;

	FUZZ_ASSERT(h->head_len <= size && used == h->head_len);
	FUZZ_ASSERT((size_t)h->method_off + h->method_len <= h->head_len);
	FUZZ_ASSERT((size_t)h->target_off + h->target_len <= h->head_len);
	FUZZ_ASSERT(h->path_off >= h->target_off);
	FUZZ_ASSERT((size_t)h->path_off + h->path_len <= (size_t)h->target_off + h->target_len);
	FUZZ_ASSERT(h->n_headers <= HTTP_HEAD_MAX_HEADERS);
	for (unsigned i = 0; i < h->n_headers; i++) {
		const struct http_header *hd = &h->headers[i];
		FUZZ_ASSERT((size_t)hd->line_off + hd->line_len <= h->head_len);
		FUZZ_ASSERT(hd->name_len > 0 && hd->name_len < hd->line_len);
		FUZZ_ASSERT(hd->value_off >= hd->line_off + hd->name_len + 1);
		FUZZ_ASSERT(hd->value_off + hd->value_len + 2 <= hd->line_off + hd->line_len);
	}
	FUZZ_ASSERT(!(h->has_content_length && h->chunked));
	FUZZ_ASSERT(h->host.port != 0);
	if (h->host.is_addr) {
		FUZZ_ASSERT(h->host.family == 4 || h->host.family == 6);
		return;
	}
	FUZZ_ASSERT(h->host.name_len > 0 && h->host.name_len == strlen(h->host.name));
	FUZZ_ASSERT(name_normalize(h->host.name, h->host.name_len, canon, &len, NULL) == 0);
	FUZZ_ASSERT(len == h->host.name_len && memcmp(canon, h->host.name, len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t used_whole, used_split, used_bytes;
	size_t cut = size ? ((size_t)data[0] * 251 + data[size - 1]) % (size + 1) : 0;

	int r = feed(&whole, data, size, size, &used_whole);
	int rs = feed(&split, data, size, cut, &used_split);
	int rb = feed_bytes(&bytes, data, size, &used_bytes);

	FUZZ_ASSERT(r == rs && r == rb);
	FUZZ_ASSERT(used_whole == used_split && used_whole == used_bytes);
	FUZZ_ASSERT(used_whole <= size);
	if (r == HTTP_HEAD_NEED_MORE)
		FUZZ_ASSERT(used_whole == size && size <= HTTP_HEAD_DEFAULT_SIZE);
	if (r == HTTP_HEAD_E_TOO_LARGE)
		FUZZ_ASSERT(used_whole == HTTP_HEAD_DEFAULT_SIZE + 1);
	if (r != HTTP_HEAD_DONE)
		return 0;
	same(&whole, &split);
	same(&whole, &bytes);
	check_done(&whole, size, used_whole);
	return 0;
}
