/* audit.h - one audit record, and its JSON-lines form.
 *
 * Every decision the gateway makes, every flow it closes and every gap in the
 * log itself becomes one struct audit_record, written as exactly one JSON
 * object on one line:
 *
 *   {"time":"2026-11-23T10:15:02.123Z","sandbox":"agent","client":"10.0.2.15:40312",
 *    "proto":"tls","event":"decision","name":"api.github.com","address":"140.82.112.6",
 *    "port":443,"verdict":"allow","rule":"*.github.com",
 *    "origin":"built-in standard.conf:17"}
 *
 * (shown wrapped; a real record is one line).  Keys always come in this order:
 * time sandbox client proto event name address port qtype verdict rule origin
 * bytes_up bytes_down duration_ms detail.  Only time and event are always
 * there; an empty string, port 0, a zero count or AUDIT_PROTO_NONE /
 * AUDIT_VERDICT_NONE is left out, except that a close event always carries
 * bytes_up, bytes_down and duration_ms (a flow that moved nothing says so).
 *
 * Escaping (audit_encode): the output is printable ASCII, except for
 * characters above U+FFFF, so a log can be read with cat and grep without a
 * control byte driving the terminal or a homoglyph fooling anyone.
 *   - `"` and `\` as \" and \\; \b \f \n \r \t as such; other bytes below 0x20
 *     and DEL as \u00XX (NUL is \u0000);
 *   - well-formed UTF-8 up to U+FFFF as \uXXXX (C1 controls, U+2028, bidi
 *     overrides included), so the text survives exactly;
 *   - characters above U+FFFF (emoji...) as their well-formed UTF-8 bytes,
 *     not as a surrogate pair: json-c 0.16 decodes the pairs of U+1D800..
 *     U+1DFFF (and the same range of every plane) to U+FFFD;
 *   - every byte that is not part of a well-formed UTF-8 sequence (stray
 *     continuation bytes, overlong forms, surrogates, past U+10FFFF, cut
 *     sequences) as \ufffd.  Such bytes are not text; we do not write \u00XX
 *     for them because that would claim the program sent the character U+00XX,
 *     which a reader could not tell apart from one it really sent.  The exact
 *     bytes of a refused name belong in `detail` (diag_escape's \xNN form).
 * So any bytes at all - a name the gateway refused, with NULs, quotes and
 * broken UTF-8 in it - still make one valid line of JSON.
 *
 * Decoding (audit_decode) uses json-c, ignores keys it does not know, and
 * gives one clear sentence for a malformed line.  Strings come back as
 * well-formed UTF-8: what does not decode to it (a lone surrogate, a NUL
 * outside `name`) becomes U+FFFD, and a string longer than its field is cut
 * at a character boundary.  decode(encode(r)) == r for any record whose
 * strings are well-formed UTF-8 and fit.
 *
 * Pure: no I/O, no globals; audit_now_ms() reads the clock.
 */
#ifndef AIRLOCK_LOG_AUDIT_H
#define AIRLOCK_LOG_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"
#include "util/diag.h"

/* Field sizes, terminating NUL included.  Longer text is cut to fit. */
#define AUDIT_SANDBOX_SIZE 128
#define AUDIT_ADDR_SIZE    64 /* "[2001:db8::1%eth0]:65535" fits */
#define AUDIT_NAME_SIZE    (NAME_INPUT_MAX + 1)
#define AUDIT_QTYPE_SIZE   16
#define AUDIT_RULE_SIZE    RULE_TEXT_SIZE
#define AUDIT_ORIGIN_SIZE  1024
#define AUDIT_DETAIL_SIZE  512

/* The longest line audit_encode() can produce, '\n' and NUL included (every
 * byte of every field escaped as \uXXXX fits; audit.c checks it at compile
 * time).  It is also the longest line audit_decode() accepts. */
#define AUDIT_LINE_MAX (32 * 1024)

/* "2026-11-23T10:15:02.123Z" and its NUL. */
#define AUDIT_TIME_SIZE 25

enum audit_proto {
	AUDIT_PROTO_NONE = 0, /* not about one flow (a note on the log itself) */
	AUDIT_PROTO_DNS,
	AUDIT_PROTO_HTTP,    /* absolute-form proxy request */
	AUDIT_PROTO_CONNECT, /* proxy CONNECT */
	AUDIT_PROTO_TLS,     /* transparent, name from SNI */
	AUDIT_PROTO_TCP,     /* transparent, name from the map or none */
	AUDIT_PROTO_UDP,
	AUDIT_PROTO_ICMP,
	AUDIT_PROTO_CONTROL, /* a rule changed at run time */
};

enum audit_event {
	AUDIT_EVENT_DECISION = 0,
	AUDIT_EVENT_CLOSE,
	AUDIT_EVENT_NOTE,
};

enum audit_verdict {
	AUDIT_VERDICT_NONE = 0,
	AUDIT_VERDICT_ALLOW,
	AUDIT_VERDICT_BLOCK,
};

struct audit_record {
	int64_t time_ms; /* CLOCK_REALTIME, milliseconds since the epoch */
	enum audit_event event;
	enum audit_proto proto;
	enum audit_verdict verdict;
	uint16_t port; /* 0: none */
	uint64_t bytes_up, bytes_down;
	uint64_t duration_ms; /* close events */
	char sandbox[AUDIT_SANDBOX_SIZE];
	char client[AUDIT_ADDR_SIZE]; /* the sandboxed peer, "10.0.2.15:40312" */
	/* Canonical name, or the bytes of one the gateway refused: any bytes,
	 * NUL included, name_len of them (name[name_len] is NUL too). */
	size_t name_len;
	char name[AUDIT_NAME_SIZE];
	char address[AUDIT_ADDR_SIZE]; /* destination address, no port */
	char qtype[AUDIT_QTYPE_SIZE];  /* DNS: "AAAA", "TYPE65" */
	char rule[AUDIT_RULE_SIZE];    /* the rule that decided, rule_format() text */
	/* Where that rule came from ("built-in standard.conf:17", "command line"),
	 * or why there was none: "default", "no network", "rebinding: 10.0.0.5". */
	char origin[AUDIT_ORIGIN_SIZE];
	char detail[AUDIT_DETAIL_SIZE]; /* errors, caps: "head larger than 16384 bytes" */
};

/* The realtime clock in milliseconds. */
int64_t audit_now_ms(void);

/* Empty every field and stamp the time with audit_now_ms(). */
void audit_record_init(struct audit_record *r, enum audit_event event, enum audit_proto proto);

/* Copy `len` bytes (anything) into r->name, cut to fit. */
void audit_set_name(struct audit_record *r, const char *bytes, size_t len);

/* snprintf into a text field: AUDIT_SET(r, detail, "head larger than %u bytes", cap). */
void audit_set_text(char *field, size_t size, const char *fmt, ...) _printf_(3, 4);
#define AUDIT_SET(r, field, ...) audit_set_text((r)->field, sizeof((r)->field), __VA_ARGS__)

/* Fill verdict, rule and origin from a policy decision: the rule's text and
 * "origin:line", or origin "default" / "no network". */
void audit_set_decision(struct audit_record *r, const struct policy *p, const struct decision *dec);

/* Names as they appear in the JSON; NULL for a value out of range. */
const char *audit_proto_name(enum audit_proto p);
const char *audit_event_name(enum audit_event e);
const char *audit_verdict_name(enum audit_verdict v);

/* RFC 3339 UTC with milliseconds.  Times outside years 0000..9999 are
 * clamped to them. */
void audit_format_time(int64_t ms, char buf[static AUDIT_TIME_SIZE]);

/* Parse "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm)"; the fraction is
 * cut to milliseconds.  -EINVAL when it is not that. */
int audit_parse_time(const char *text, size_t len, int64_t *ret_ms);

/* Write `r` as one JSON line, '\n' included, NUL-terminated.  Returns the
 * length without the NUL, or -ENOBUFS when `size` is too small (never with
 * AUDIT_LINE_MAX). */
int audit_encode(const struct audit_record *r, char *buf, size_t size);

/* Read one line (with or without its '\n') into *ret.  Unknown keys are
 * ignored.  -EINVAL for a malformed line, with `d` saying "line N: " and what
 * is wrong; `lineno` is the caller's count.  *ret is undefined on failure. */
int audit_decode(const char *line, size_t len, unsigned long lineno, struct audit_record *ret,
                 struct diag *d);

#endif
