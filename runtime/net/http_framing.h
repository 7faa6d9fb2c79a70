/* http_framing.h - strict RFC 9112 request framing, read beside http-parser.
 *
 * The system http-parser is built lenient: it takes "Transfer-Encoding :
 * chunked" (whitespace before the colon), "identity, chunked", obs-fold, a
 * bare CR as a line end and any bytes as chunk extensions. A proxy in front
 * of the gateway may read such a request differently, which is how requests
 * are smuggled. This lexer reads the same bytes first, by the strict rules,
 * and decides where each request ends; the server (http_server.c) refuses a
 * request the lexer refuses, and one whose end the two readers disagree on.
 *
 * What it refuses (the kind, http_refusal.h):
 *   bad_line            a line not ended by CRLF, a control byte in the
 *                       request line, whitespace before the first field;
 *   bad_field_name      a field name that is not a token (whitespace before
 *                       the colon, control bytes);
 *   bad_field_value     a control character other than HTAB in a value;
 *   obs_fold            a field line starting with SP or HTAB;
 *   cl_and_te           both Content-Length and Transfer-Encoding;
 *   bad_content_length  Content-Length not 1*DIGIT, or given twice;
 *   te_http10           Transfer-Encoding in an HTTP/1.0 request;
 *   te_unsupported      Transfer-Encoding other than one "chunked" (any case);
 *   bad_chunk           a chunk size line that is not 1*HEXDIG followed by
 *                       well-formed extensions (token [= token / quoted-string]),
 *                       longer than 4 KiB, or chunk data not ended by CRLF.
 * Leading empty lines before a request are skipped (RFC 9112 2.2). Field
 * syntax is checked in trailers too.
 *
 * A value type without allocation: embed it, sr_http_framing_init() it once;
 * after a request ends the next feed starts the next request. */
#ifndef SR_HTTP_FRAMING_H
#define SR_HTTP_FRAMING_H

#include <stddef.h>
#include <stdint.h>

#include "http_refusal.h"

typedef struct sr_http_framing {
    int state;
    int in_trailers;
    int http10;
    char version[8]; /* the request line's last 8 bytes */
    char name[20];   /* lowercased field name, when short enough to matter */
    size_t name_len;
    char value[32]; /* start of a Transfer-Encoding or Content-Length value */
    size_t value_len;
    int have_cl, have_te, te_chunked;
    uint64_t remaining; /* body or chunk bytes still to skip */
    unsigned digits;    /* of the chunk size being read */
    size_t line_len;    /* bytes of the chunk size line */
    sr_http_refusal refusal;
} sr_http_framing;

void sr_http_framing_init(sr_http_framing *f);

/* Reads bytes of the current request. Returns how many of data[0..len)
 * belong to it (all of them unless the request ends inside) and sets *done
 * to 1 when it ended there, 0 otherwise; returns -1 when the request is
 * refused (sr_http_framing_refusal() tells why). */
long sr_http_framing_feed(sr_http_framing *f, const char *data, size_t len, int *done);

sr_http_refusal sr_http_framing_refusal(const sr_http_framing *f);

#endif
