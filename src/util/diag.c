#include "util/diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int diag_fail(struct diag *d, int err, const char *fmt, ...)
{
	if (d) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
		va_end(ap);
	}
	return err;
}

void diag_prefix(struct diag *d, const char *fmt, ...)
{
	char old[DIAG_MSG_MAX];
	va_list ap;

	if (!d)
		return;
	memcpy(old, d->msg, sizeof(old));
	va_start(ap, fmt);
	int n = vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(d->msg))
		return;
	/* Append the old message after the prefix, truncating if need be. */
	size_t room = sizeof(d->msg) - (size_t)n;
	size_t len = strnlen(old, sizeof(old) - 1);
	if (len >= room)
		len = room - 1;
	memcpy(d->msg + n, old, len);
	d->msg[(size_t)n + len] = '\0';
}

char *diag_escape(const char *bytes, size_t len, char *out, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (size == 0)
		return out;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)bytes[i];
		size_t need = (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'' && c != '"') ? 1 : 4;
		/* Keep room for "..." and the terminator. */
		if (o + need + 4 > size) {
			if (o + 4 <= size) {
				memcpy(out + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (need == 1) {
			out[o++] = (char)c;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return out;
}
