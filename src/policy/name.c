#include "policy/name.h"

#include <errno.h>
#include <idn2.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static bool is_name_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static unsigned char ascii_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* Turn non-ASCII input into its ASCII (punycode) form with libidn2.  `in` is
 * `len` bytes without NUL.  Writes a NUL-terminated result into `out`. */
static int idn_to_ascii(const char *in, size_t len, char *out, size_t out_size, struct diag *d)
{
	char esc[DIAG_ESCAPE_SIZE];
	char input[NAME_INPUT_MAX + 1];
	uint8_t *ascii = NULL;
	int rc;

	memcpy(input, in, len);
	input[len] = '\0';
	rc = idn2_lookup_u8((const uint8_t *)input, &ascii, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
	if (rc != IDN2_OK)
		return diag_fail(d, -EINVAL,
		                 "'%s' is not a valid internationalised name (%s); write it in "
		                 "punycode (xn--...) if it is one",
		                 diag_escape(in, len, esc, sizeof(esc)), idn2_strerror(rc));
	size_t n = strlen((char *)ascii);
	if (n >= out_size) {
		idn2_free(ascii);
		return diag_fail(d, -EINVAL,
		                 "'%s' is longer than %d bytes once converted to punycode",
		                 diag_escape(in, len, esc, sizeof(esc)), NAME_MAX_LEN);
	}
	memcpy(out, ascii, n + 1);
	idn2_free(ascii);
	return 0;
}

/* A label written as punycode must decode to a valid IDN and encode back to
 * exactly itself, or two spellings could name "the same" host for one
 * component and different hosts for another. */
static int check_punycode_label(const char *label, size_t len, struct diag *d)
{
	char buf[NAME_LABEL_MAX + 1];
	char *unicode = NULL;
	uint8_t *back = NULL;

	memcpy(buf, label, len);
	buf[len] = '\0';
	int rc = idn2_to_unicode_8z8z(buf, &unicode, 0);
	if (rc == IDN2_OK)
		rc = idn2_lookup_u8((const uint8_t *)unicode, &back,
		                    IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
	bool same = rc == IDN2_OK && strcmp((const char *)back, buf) == 0;
	idn2_free(unicode);
	idn2_free(back);
	if (rc != IDN2_OK)
		return diag_fail(d, -EINVAL, "label '%s' is not valid punycode (%s)", buf,
		                 idn2_strerror(rc));
	if (!same)
		return diag_fail(d, -EINVAL,
		                 "label '%s' is not valid punycode (not the canonical encoding)",
		                 buf);
	return 0;
}

/* inet_aton() reads "a.b.c.d", "a.b.c", "a.b" and "a", each part decimal,
 * octal or 0x-hex, so a name is an address to it exactly when its last label
 * is numeric: all digits, or 0x and hex digits. */
static bool numeric_label(const char *s, size_t len)
{
	size_t i = 0;
	bool hex = len >= 2 && s[0] == '0' && s[1] == 'x';
	if (hex)
		i = 2;
	for (; i < len; i++) {
		char c = s[i];
		bool ok = (c >= '0' && c <= '9') || (hex && c >= 'a' && c <= 'f');
		if (!ok)
			return false;
	}
	return true;
}

int name_normalize(const char *in, size_t len, char out[static NAME_BUF_SIZE], size_t *ret_len,
                   struct diag *d)
{
	char esc[DIAG_ESCAPE_SIZE];
	char converted[NAME_BUF_SIZE + 1];
	bool non_ascii = false;

	if (len == 0)
		return diag_fail(d, -EINVAL, "empty name");
	if (len > NAME_INPUT_MAX)
		return diag_fail(d, -EINVAL, "name of %zu bytes is longer than %d bytes", len,
		                 NAME_MAX_LEN);
	for (size_t i = 0; i < len; i++) {
		if (in[i] == '\0')
			return diag_fail(d, -EINVAL, "NUL byte at offset %zu in '%s'", i,
			                 diag_escape(in, len, esc, sizeof(esc)));
		if ((unsigned char)in[i] >= 0x80)
			non_ascii = true;
	}

	/* One trailing dot is the fully-qualified spelling of the same name. */
	if (in[len - 1] == '.')
		len--;
	if (len == 0)
		return diag_fail(d, -EINVAL, "'.' (the root) is not a host name");

	if (non_ascii) {
		int r = idn_to_ascii(in, len, converted, sizeof(converted), d);
		if (r < 0)
			return r;
		in = converted;
		len = strlen(converted);
	}
	if (len > NAME_MAX_LEN)
		return diag_fail(d, -EINVAL, "name of %zu bytes is longer than %d bytes", len,
		                 NAME_MAX_LEN);

	size_t label_start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || in[i] == '.') {
			size_t label_len = i - label_start;
			if (label_len == 0)
				return diag_fail(d, -EINVAL, "empty label at offset %zu in '%s'", i,
				                 diag_escape(in, len, esc, sizeof(esc)));
			if (label_len > NAME_LABEL_MAX)
				return diag_fail(d, -EINVAL,
				                 "label at offset %zu is %zu bytes long; a label "
				                 "holds at most %d",
				                 label_start, label_len, NAME_LABEL_MAX);
			if (label_len >= 4 && memcmp(out + label_start, "xn--", 4) == 0) {
				int r = check_punycode_label(out + label_start, label_len, d);
				if (r < 0)
					return r;
			}
			if (i < len)
				out[i] = '.';
			label_start = i + 1;
			continue;
		}
		unsigned char c = ascii_lower((unsigned char)in[i]);
		if (!is_name_byte(c))
			return diag_fail(
			        d, -EINVAL,
			        "character '%s' at offset %zu is not allowed in a host name "
			        "(letters, digits, '-' and '_' only)",
			        diag_escape(in + i, 1, esc, sizeof(esc)), i);
		out[i] = (char)c;
	}
	out[len] = '\0';

	/* Refuse anything an address parser would take for an IPv4 literal. */
	const char *last = memrchr(out, '.', len);
	last = last ? last + 1 : out;
	if (numeric_label(last, len - (size_t)(last - out)))
		return diag_fail(d, -EINVAL,
		                 "'%s' reads as a numeric IPv4 address, not a host name; write "
		                 "addresses as dotted quads (192.0.2.1) or CIDRs",
		                 out);

	if (ret_len)
		*ret_len = len;
	return 0;
}

unsigned name_label_count(const char *name, size_t len)
{
	unsigned n = len ? 1 : 0;
	for (size_t i = 0; i < len; i++)
		n += name[i] == '.';
	return n;
}
