/* kafka_msg.c - what one record becomes as a Kafka message, beyond its value
 * (the record's bytes, unchanged): the key and the static headers.
 *
 * The key is a top-level member of the record, which the Lua module encoded
 * as compact JSON (ev:json()); by default the event's `id`, so every event
 * of a kind lands on the same partition as its retries would. Strings are
 * unescaped (a key is bytes, and consumers compare it with the id they
 * read from the JSON), numbers, booleans and nested values keep their JSON
 * text exactly, so a 64-bit integer key keeps every digit. */
#include <string.h>

#include "json.h"
#include "kafka.h"

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

int sr_kafka_record_key(const char *rec, size_t len, const char *field, sr_buf *out) {
    sr_buf_reset(out);
    while (len && is_space(rec[len - 1]))
        len--;
    size_t i = 0;
    while (i < len && is_space(rec[i]))
        i++;
    /* A site's own module may encode anything; only a valid object is
     * walked (object_get trusts its input). */
    sr_json_error jerr;
    if (i == len || rec[i] != '{' ||
        sr_json_validate(rec + i, len - i, SR_JSON_DEFAULT_MAX_DEPTH, &jerr) != 0)
        return -1;
    sr_json_member m;
    if (!sr_json_object_get(rec + i, len - i, field, strlen(field), &m))
        return 0;
    const char *v = rec + i + m.val_off;
    switch (m.type) {
    case SR_JSON_NULL: return 0;
    case SR_JSON_STRING: return sr_json_unescape(v, m.val_len, 1, out) == 0 ? 1 : -1;
    default: return sr_buf_append(out, v, m.val_len) == 0 ? 1 : -1;
    }
}

int sr_kafka_header_add(rd_kafka_headers_t **hdrs, const char *name, const char *value) {
    if (!name || !*name)
        return -1;
    if (!*hdrs && !(*hdrs = rd_kafka_headers_new(4)))
        return -1;
    return rd_kafka_header_add(*hdrs, name, -1, value ? value : "", -1) ==
                   RD_KAFKA_RESP_ERR_NO_ERROR
               ? 0
               : -1;
}
