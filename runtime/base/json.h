/* json.h - validating JSON scanner that records byte ranges instead of
 * building a tree.
 *
 * siemrelay never decodes an event into a DOM. The scanner checks a document
 * strictly (RFC 8259 grammar, UTF-8 validity, depth limit) and records, for
 * the members of the top-level object, where each key and value lie in the
 * input. Values nobody touches are later copied out byte for byte, which is
 * what keeps 64-bit integers, empty arrays and escapes exactly as sent.
 *
 * All offsets are relative to the start of the buffer handed to the scanner.
 * Functions that walk an already validated value (object_next, object_get,
 * array_next) do not validate again and must only be given validated input. */
#ifndef SR_JSON_H
#define SR_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

typedef enum {
    SR_JSON_NULL,
    SR_JSON_FALSE,
    SR_JSON_TRUE,
    SR_JSON_NUMBER,
    SR_JSON_STRING,
    SR_JSON_ARRAY,
    SR_JSON_OBJECT,
} sr_json_type;

/* The type of the valid JSON value whose first byte is `c`. */
static inline sr_json_type sr_json_type_of(unsigned char c) {
    switch (c) {
    case '{': return SR_JSON_OBJECT;
    case '[': return SR_JSON_ARRAY;
    case '"': return SR_JSON_STRING;
    case 't': return SR_JSON_TRUE;
    case 'f': return SR_JSON_FALSE;
    case 'n': return SR_JSON_NULL;
    default: return SR_JSON_NUMBER;
    }
}

/* Where and why a document was rejected. `offset` is the byte offset of the
 * offending byte in the buffer given to the scanner; `msg` is a complete
 * sentence fragment such as "expected ',' or '}' after object member". */
typedef struct sr_json_error {
    size_t offset;
    char msg[120];
} sr_json_error;

typedef struct sr_json_member {
    uint32_t key_off, key_len; /* key bytes between the quotes, still escaped */
    uint32_t val_off, val_len; /* the value's bytes (strings include quotes) */
    uint8_t type;              /* sr_json_type of the value */
    uint8_t key_escaped;       /* key contains a backslash escape */
    uint8_t val_has_ws;        /* value contains whitespace outside strings */
} sr_json_member;

#define SR_JSON_DEFAULT_MAX_DEPTH 64

/* Length of the well-formed multi-byte UTF-8 sequence at p (RFC 3629: no
 * overlongs, no surrogates, nothing above U+10FFFF), or 0 (also for ASCII,
 * which callers handle themselves). */
size_t sr_utf8_seq_len(const unsigned char *p, size_t avail);

/* Validates that [p, p+n) is exactly one JSON value, optionally surrounded by
 * whitespace. Returns 0, or -1 with `err` filled. */
int sr_json_validate(const char *p, size_t n, int max_depth, sr_json_error *err);

/* Validates [p, p+n) as one JSON object and records its top-level members in
 * `members` (capacity `cap`). More than `cap` members is an error ("too many
 * top-level fields"). A value that is not an object is an error ("expected a
 * JSON object"). Returns the member count, or -1 with `err` filled. */
int sr_json_index_object(const char *p, size_t n, int max_depth, sr_json_member *members,
                         size_t cap, sr_json_error *err);

/* Iterates the members of a validated object value [p, p+n) (p points at
 * '{'). `*pos` starts at 0. Offsets in `m` are relative to `p`. Returns 1 and
 * fills `m` while there is a member, 0 at the end. */
int sr_json_object_next(const char *p, size_t n, size_t *pos, sr_json_member *m);

/* Iterates the elements of a validated array value [p, p+n) (p points at '[').
 * Offsets in `m` are relative to `p`; key fields are zero. */
int sr_json_array_next(const char *p, size_t n, size_t *pos, sr_json_member *m);

/* Finds the member whose unescaped key equals [key, key+klen) in a validated
 * object value (the last one when a key repeats, as downstream decoders
 * read it). Returns 1 and fills `m` (offsets relative to `obj`), or 0. */
int sr_json_object_get(const char *obj, size_t n, const char *key, size_t klen, sr_json_member *m);

/* True when the escaped key bytes [esc, esc+elen) (a member's key, without
 * quotes) decode to exactly [key, key+klen). Does not allocate. */
int sr_json_key_equals(const char *esc, size_t elen, const char *key, size_t klen);

/* Decodes a validated JSON string token (with its quotes) or a key's escaped
 * bytes (without quotes, pass quoted = 0) into UTF-8, appending to `out`.
 * \uXXXX surrogate pairs are combined. Returns 0 or -1. */
int sr_json_unescape(const char *p, size_t n, int quoted, sr_buf *out);

/* Converts a validated number token. int64: exact, fails (-1) on fractions,
 * exponents or overflow. uint64 likewise for non-negative values. */
int sr_json_to_int64(const char *p, size_t n, int64_t *out);
int sr_json_to_uint64(const char *p, size_t n, uint64_t *out);
int sr_json_to_double(const char *p, size_t n, double *out);

/* Appends the value [p, p+n) to `out` with all whitespace outside strings
 * removed. The input must be validated. */
int sr_json_compact(const char *p, size_t n, sr_buf *out);

#endif
