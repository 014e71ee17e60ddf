/* tls_hello.h - the TLS ClientHello a client sends through the gateway, read
 * without terminating TLS, for its server name (SNI).
 *
 * The gateway peeks (MSG_PEEK) at the first bytes of an intercepted TCP
 * connection and calls tls_hello_parse() on everything peeked so far, again
 * with more bytes each time more arrive.  The parser keeps no state between
 * calls: every call reads the input from its first byte, reads nothing at or
 * past buf[len], and gives NEED_MORE for every proper prefix of a ClientHello
 * it would accept, so a caller may call it on any prefix.
 *
 * Accepted:
 *   records     one or more TLS records of type handshake (0x16), one right
 *               after the other from buf[0], each 1..2^14 bytes long.  Record
 *               versions 0x0301..0x0303; the first record may also say 0x0300,
 *               as some clients write.  The records carry exactly one
 *               handshake message, ClientHello (type 1), split across them
 *               at any byte (its 4-byte header too); the last record ends
 *               where the ClientHello ends.  Whatever follows the last record
 *               (change_cipher_spec, early data, anything) is not looked at.
 *   ClientHello legacy_version 0x03xx; 32 random bytes; a session id of at
 *               most 32 bytes; cipher suites: an even, non-zero number of
 *               bytes; compression methods: 1..255 bytes including null (0);
 *               then either nothing (no extensions, as pre-TLS 1.2 clients
 *               may send) or an extension block whose length fills the rest
 *               of the message exactly.  Every extension's length must fit in
 *               the block, no type may appear twice (RFC 8446 4.2), and
 *               pre_shared_key (41), if present, must be last (RFC 8446
 *               4.2.11).
 *   extensions  parsed: server_name (0), ALPN (16) and supported_versions
 *               (43), whose inner lists must fill their extension exactly.
 *               Noted but not parsed: encrypted_client_hello (0xfe0d) and the
 *               retired ESNI draft's encrypted_server_name (0xffce).  Others
 *               are skipped by their length.
 *
 * The server name (RFC 6066 3):
 *   - "no SNI": no server_name extension, or one that is empty (no bytes, an
 *     empty list, or a host_name of length 0).  CLIENT_HELLO, has_sni false:
 *     the gateway then decides by destination address.
 *   - a host_name entry (name_type 0) is put through name_normalize(), and
 *     sni holds the canonical name (lower case, no trailing dot).  Entries
 *     of other name types are skipped by their 16-bit length; two host_name
 *     entries are MALFORMED (RFC 6066 forbids two of one type).
 *   - "invalid SNI": a host_name that is not a plain ASCII host name without
 *     a trailing dot, or that name_normalize() refuses (an IP literal, a NUL,
 *     bytes >= 0x80, characters outside letters, digits, '-' and '_', empty
 *     labels, over-long names...).  The result
 *     is SNI_INVALID, a distinct status, so the gateway refuses the
 *     connection rather than falling back to "no SNI".  All other fields are
 *     filled in as for CLIENT_HELLO; has_sni is false.
 *   - with has_ech, the server_name is ECH's public name (the "outer" name),
 *     not necessarily the server the client means to reach: the gateway
 *     decides what that means for policy.
 *
 * Not TLS: a first byte other than 0x16 (an SSLv2-style hello, plain HTTP,
 * SSH...) or a first record version outside 0x0300..0x0303 is NOT_TLS, decided
 * from the first three bytes.  Anything wrong after that is MALFORMED (with
 * ret->error saying what), including a later record of another type or
 * version: the stream is TLS, but not a ClientHello the gateway accepts.
 *
 * Caps: the ClientHello message (4-byte header included) is at most
 * TLS_HELLO_MAX_MESSAGE bytes, carried in at most TLS_HELLO_MAX_RECORDS
 * records; past either the result is TOO_LARGE, decided as soon as the
 * handshake header or the record count shows it.  So with TLS_HELLO_PEEK_MAX
 * bytes the answer is never NEED_MORE: a caller never peeks more than that.
 *
 * Pure: no I/O, no global state, no allocation (about 10 KiB of stack).
 * Outputs hold copies, never pointers into buf.
 */
#ifndef AIRLOCK_PROXY_TLS_HELLO_H
#define AIRLOCK_PROXY_TLS_HELLO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/name.h"
#include "util/diag.h"

#define TLS_RECORD_HEADER_SIZE 5
#define TLS_RECORD_MAX         16384 /* 2^14: the largest plaintext record payload */
#define TLS_HELLO_MAX_MESSAGE  16384 /* ClientHello bytes, handshake header included */
#define TLS_HELLO_MAX_RECORDS  64
#define TLS_HELLO_PEEK_MAX     (TLS_HELLO_MAX_MESSAGE + TLS_HELLO_MAX_RECORDS * TLS_RECORD_HEADER_SIZE)
#define TLS_HELLO_ALPN_MAX     255 /* a ProtocolName is 1..255 bytes */

#define TLS_EXT_SERVER_NAME        0
#define TLS_EXT_ALPN               16
#define TLS_EXT_PRE_SHARED_KEY     41
#define TLS_EXT_SUPPORTED_VERSIONS 43
#define TLS_EXT_ECH                0xfe0d
#define TLS_EXT_ESNI_DRAFT         0xffce

enum tls_hello_status {
	TLS_HELLO_NEED_MORE = 0,    /* a valid prefix so far; `need` says how much */
	TLS_HELLO_CLIENT_HELLO = 1, /* parsed; the fields below are set */

	TLS_HELLO_NOT_TLS = -1,     /* not a TLS handshake record: not TLS at all */
	TLS_HELLO_MALFORMED = -2,   /* TLS, but not a ClientHello we accept; see `error` */
	TLS_HELLO_TOO_LARGE = -3,   /* past TLS_HELLO_MAX_MESSAGE or TLS_HELLO_MAX_RECORDS */
	TLS_HELLO_SNI_INVALID = -4, /* well-formed, but the server name is not a host name */
};

/* Why a parse failed: each maps to one status; tls_hello_strerror() gives the
 * sentence, the diag the details (offsets, values). */
enum tls_hello_error {
	TLS_HELLO_OK = 0,
	/* TLS_HELLO_NOT_TLS */
	TLS_HELLO_E_NOT_HANDSHAKE,   /* first byte is not 0x16 */
	TLS_HELLO_E_SSLV2,           /* an SSLv2-style hello (first byte has bit 7 set) */
	TLS_HELLO_E_NOT_TLS_VERSION, /* first record's version is not 0x0300..0x0303 */
	/* TLS_HELLO_MALFORMED */
	TLS_HELLO_E_RECORD_TYPE,      /* a later record is not handshake */
	TLS_HELLO_E_RECORD_VERSION,   /* a later record's version is not 0x0301..0x0303 */
	TLS_HELLO_E_RECORD_EMPTY,     /* a record of length 0 */
	TLS_HELLO_E_RECORD_OVERFLOW,  /* a record longer than 2^14 */
	TLS_HELLO_E_NOT_CLIENT_HELLO, /* handshake message type is not 1 */
	TLS_HELLO_E_TRAILING,         /* handshake bytes after the ClientHello in its last record */
	TLS_HELLO_E_TRUNCATED,        /* a fixed field runs past the end of the message */
	TLS_HELLO_E_LEGACY_VERSION,   /* client_version major is not 3 */
	TLS_HELLO_E_SESSION_ID,       /* session id longer than 32 */
	TLS_HELLO_E_CIPHER_SUITES,    /* cipher suites empty or of odd length */
	TLS_HELLO_E_COMPRESSION,      /* compression methods empty or without null */
	TLS_HELLO_E_EXTENSIONS_LENGTH,  /* extension block does not fill the message */
	TLS_HELLO_E_EXTENSION_LENGTH,   /* an extension overruns the block */
	TLS_HELLO_E_DUP_EXTENSION,      /* an extension type appears twice */
	TLS_HELLO_E_PSK_NOT_LAST,       /* pre_shared_key is not the last extension */
	TLS_HELLO_E_SERVER_NAME,        /* server_name extension inconsistent */
	TLS_HELLO_E_DUP_HOST_NAME,      /* two host_name entries */
	TLS_HELLO_E_ALPN,               /* ALPN extension inconsistent */
	TLS_HELLO_E_SUPPORTED_VERSIONS, /* supported_versions inconsistent */
	/* TLS_HELLO_TOO_LARGE */
	TLS_HELLO_E_MESSAGE_TOO_LARGE, /* ClientHello longer than TLS_HELLO_MAX_MESSAGE */
	TLS_HELLO_E_TOO_MANY_RECORDS,  /* more than TLS_HELLO_MAX_RECORDS records */
	/* TLS_HELLO_SNI_INVALID */
	TLS_HELLO_E_SNI_INVALID,
	TLS_HELLO_E_COUNT
};

struct tls_hello {
	enum tls_hello_error error; /* TLS_HELLO_OK unless the status is negative */

	/* NEED_MORE: the whole input must be at least this many bytes before the
	 * answer can change; a lower bound, always > len and <= TLS_HELLO_PEEK_MAX. */
	size_t need;

	/* CLIENT_HELLO and SNI_INVALID: */
	size_t record_bytes; /* buf[0, record_bytes) are the ClientHello's records */
	unsigned n_records;
	size_t message_len;      /* the handshake message, its 4-byte header included */
	uint16_t record_version; /* of the first record */
	uint16_t legacy_version; /* ClientHello.legacy_version */
	unsigned n_extensions;

	bool has_sni; /* a valid host_name: sni[0, sni_len) canonical, NUL-terminated */
	size_t sni_len;
	char sni[NAME_BUF_SIZE];
	bool has_server_name_ext; /* the extension was there (maybe empty or invalid) */

	bool has_ech;       /* encrypted_client_hello or the ESNI draft extension */
	bool tls13_offered; /* supported_versions lists 0x0304 */

	/* ALPN: the client's first protocol as sent (raw bytes, NUL-terminated
	 * for convenience though it may hold NULs), and whether h2 or http/1.1
	 * appear anywhere in the list. */
	bool has_alpn;
	size_t alpn_first_len;
	char alpn_first[TLS_HELLO_ALPN_MAX + 1];
	bool alpn_h2, alpn_http11;
};

/* Parse the first `len` bytes of a TCP stream (buf may be NULL when len is
 * 0).  Fills *ret (always, whatever the result) and returns the status; on a
 * negative status ret->error says which check failed and `d` (may be NULL)
 * holds one sentence with the details. */
enum tls_hello_status tls_hello_parse(const uint8_t *buf, size_t len, struct tls_hello *ret,
                                      struct diag *d);

/* One short sentence for an error code ("the ClientHello's server name is not
 * a valid host name"), never NULL; "unknown error" for codes out of range. */
const char *tls_hello_strerror(enum tls_hello_error e);

/* The status an error code leads to. */
enum tls_hello_status tls_hello_error_status(enum tls_hello_error e);

/* "need-more", "client-hello", "not-tls", "malformed", "too-large",
 * "sni-invalid": a stable word for logs. */
const char *tls_hello_status_name(enum tls_hello_status s);

#endif
