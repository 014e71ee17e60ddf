/* TLS ClientHello parser: never crash or read past the input; every proper
 * prefix of an accepted hello is NEED_MORE; a refusal never turns into
 * anything else with more bytes; bytes after the hello's records change
 * nothing; a returned server name is canonical. */
#include <string.h>

#include "fuzz.h"
#include "proxy/tls_hello.h"

static void check_one(const struct tls_hello *h, enum tls_hello_status st, size_t len)
{
	if (st == TLS_HELLO_NEED_MORE) {
		FUZZ_ASSERT(h->need > len);
		FUZZ_ASSERT(h->need <= TLS_HELLO_PEEK_MAX); /* so len < the peek cap */
		FUZZ_ASSERT(h->error == TLS_HELLO_OK);
		return;
	}
	if (st < 0)
		FUZZ_ASSERT(tls_hello_error_status(h->error) == st);
	else
		FUZZ_ASSERT(h->error == TLS_HELLO_OK);
	if (st == TLS_HELLO_CLIENT_HELLO || st == TLS_HELLO_SNI_INVALID) {
		FUZZ_ASSERT(h->record_bytes <= len);
		FUZZ_ASSERT(h->record_bytes <= TLS_HELLO_PEEK_MAX);
		FUZZ_ASSERT(h->message_len <= TLS_HELLO_MAX_MESSAGE);
		FUZZ_ASSERT(h->n_records >= 1 && h->n_records <= TLS_HELLO_MAX_RECORDS);
		FUZZ_ASSERT(h->record_bytes ==
		            h->message_len + h->n_records * (size_t)TLS_RECORD_HEADER_SIZE);
	}
	if (h->has_sni) {
		char again[NAME_BUF_SIZE];
		size_t again_len;
		FUZZ_ASSERT(st == TLS_HELLO_CLIENT_HELLO);
		FUZZ_ASSERT(h->sni_len > 0 && strlen(h->sni) == h->sni_len);
		FUZZ_ASSERT(name_normalize(h->sni, h->sni_len, again, &again_len, NULL) == 0);
		FUZZ_ASSERT(again_len == h->sni_len && memcmp(again, h->sni, again_len) == 0);
	} else {
		FUZZ_ASSERT(h->sni_len == 0);
	}
	if (st == TLS_HELLO_SNI_INVALID)
		FUZZ_ASSERT(h->has_server_name_ext);
}

/* The parse of a prefix of `len` bytes, checked against the whole input's. */
static void check_prefix(const uint8_t *data, size_t len, const struct tls_hello *whole,
                         enum tls_hello_status whole_st)
{
	struct tls_hello h;
	enum tls_hello_status st;

	/* A copy of exactly `len` bytes: a read past it is an ASan report. */
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy)
		return;
	memcpy(copy, data, len);
	st = tls_hello_parse(copy, len, &h, NULL);
	free(copy);
	check_one(&h, st, len);

	if (st < 0) {
		/* Refused from a prefix: more bytes never change the verdict. */
		FUZZ_ASSERT(whole_st == st);
		FUZZ_ASSERT(whole->error == h.error);
	}
	if (whole_st == TLS_HELLO_CLIENT_HELLO || whole_st == TLS_HELLO_SNI_INVALID) {
		if (len < whole->record_bytes) {
			FUZZ_ASSERT(st == TLS_HELLO_NEED_MORE);
			FUZZ_ASSERT(h.need <= whole->record_bytes);
		} else {
			/* Bytes after the hello's records are not looked at. */
			FUZZ_ASSERT(st == whole_st);
			FUZZ_ASSERT(h.record_bytes == whole->record_bytes);
			FUZZ_ASSERT(h.has_sni == whole->has_sni && h.sni_len == whole->sni_len);
			FUZZ_ASSERT(memcmp(h.sni, whole->sni, sizeof(h.sni)) == 0);
			FUZZ_ASSERT(h.has_ech == whole->has_ech);
			FUZZ_ASSERT(h.tls13_offered == whole->tls13_offered);
			FUZZ_ASSERT(h.alpn_first_len == whole->alpn_first_len);
			FUZZ_ASSERT(h.n_extensions == whole->n_extensions);
		}
	}
	if (st == TLS_HELLO_NEED_MORE && whole_st == TLS_HELLO_NEED_MORE)
		FUZZ_ASSERT(h.need <= whole->need);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tls_hello whole;
	enum tls_hello_status st;

	if (size > TLS_HELLO_PEEK_MAX + 4096)
		return 0;
	st = tls_hello_parse(data, size, &whole, NULL);
	check_one(&whole, st, size);

	if (size == 0)
		return 0;
	size_t lens[6] = {size - 1, size / 2, 0, 0, 0, 0};
	unsigned n = 2;
	if (st == TLS_HELLO_CLIENT_HELLO || st == TLS_HELLO_SNI_INVALID) {
		lens[n++] = whole.record_bytes - 1;
		lens[n++] = whole.record_bytes;
	}
	if (size >= 2) {
		lens[n++] = ((size_t)data[0] << 8 | data[size - 1]) % size;
		lens[n++] = ((size_t)data[size / 2] * 131 + data[1]) % size;
	}
	for (unsigned i = 0; i < n; i++)
		check_prefix(data, lens[i], &whole, st);
	return 0;
}
