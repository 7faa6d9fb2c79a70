/* event.h - one security event: its original bytes, an index of its
 * top-level fields, the edits scripts made, and its classification.
 *
 * An event is parsed once, in C, by sr_event_parse(). Untouched values are
 * never decoded: sr_event_write() copies them out byte for byte (compacted
 * when the input was pretty-printed), so 64-bit integers, empty arrays,
 * escapes and UTF-8 leave exactly as they came. Scripts change an event only
 * through edits (set or delete a top-level field, value given as JSON text),
 * which are applied when the event is written.
 *
 * Memory: the raw bytes, the member index and the edits all live in the
 * arena of the batch the event belongs to; an event is never freed alone.
 *
 * These functions are also the API the Lua side reaches through LuaJIT's FFI
 * (lua/lib/event.lua declares them); keep their signatures FFI-friendly:
 * plain pointers and integers, no structs by value. */
#ifndef SR_EVENT_H
#define SR_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "buf.h"
#include "json.h"

/* What kind of data an event is (from its "type"). */
typedef enum {
    SR_DT_UNKNOWN = 0,
    SR_DT_POLICY,         /* "policy" (and normalised Falco output) */
    SR_DT_ACTIVITY_AUDIT, /* "command", "connection", "fileaccess", "kubernetes" */
    SR_DT_PLATFORM_AUDIT, /* "audittrail" */
    SR_DT_MONITOR,        /* "monitor" */
} sr_data_type;

/* Sysdig channels, as a bit set so an integration's channel list is a mask. */
enum {
    SR_CH_SECURE_EVENTS_POLICIES = 1u << 0,
    SR_CH_ACTIVITY_AUDIT = 1u << 1,
    SR_CH_PLATFORM_AUDIT = 1u << 2,
    SR_CH_MONITOR_EVENTS = 1u << 3,
};

/* Sysdig message types (local_forwarder.transmit_message_types). Platform
 * audit has none: transmit_message_types does not apply to it. */
enum {
    SR_MT_NONE = 0,
    SR_MT_POLICY_EVENTS = 1u << 0,
    SR_MT_SECURE_AUDIT = 1u << 1,
    SR_MT_MONITOR_EVENTS = 1u << 2,
};

enum {
    SR_EV_DROPPED = 1u << 0, /* a script dropped it */
    SR_EV_FALCO = 1u << 1,   /* it arrived as Falco output and was normalised */
};

/* Severity as Sysdig defines it: 0-3 High, 4-5 Medium, 6 Low, 7 Info. */
#define SR_SEVERITY_NONE (-1)

typedef struct sr_event_edit {
    const char *key; /* unescaped UTF-8 key, arena-owned */
    uint32_t key_len;
    const char *val; /* JSON text of the new value; NULL = field deleted */
    uint32_t val_len;
} sr_event_edit;

typedef struct sr_event {
    const char *raw; /* the event's JSON object, arena-owned */
    uint32_t raw_len;
    uint32_t nmembers;
    sr_json_member *members; /* top-level fields, offsets into raw */
    sr_event_edit *edits;    /* in the order they were first made */
    uint32_t nedits, edits_cap;
    sr_arena *arena;
    int32_t severity;  /* SR_SEVERITY_NONE when absent or not an integer */
    uint8_t data_type; /* sr_data_type */
    uint8_t flags;     /* SR_EV_* */
    uint16_t channel;  /* one SR_CH_* bit */
    uint16_t msg_type; /* one SR_MT_* bit, or SR_MT_NONE */
    uint32_t seq;      /* position in its input: NDJSON line number (1-based)
                          or array index (0-based), for error reports */
} sr_event;

typedef struct sr_event_limits {
    int max_depth;       /* nesting limit; default SR_JSON_DEFAULT_MAX_DEPTH */
    uint32_t max_fields; /* top-level members; default 1024 */
} sr_event_limits;

/* Parses one event from [p, p+n): validates it, copies it into `arena`,
 * indexes its top-level fields, normalises Falco output into the policy-event
 * shape and classifies it. Errors (into `err`, offset relative to p): invalid
 * JSON, not an object, missing or non-string "type", unknown "type". Returns
 * 0 or -1. `limits` may be NULL for defaults. */
int sr_event_parse(sr_event *ev, sr_arena *arena, const char *p, size_t n,
                   const sr_event_limits *limits, sr_json_error *err);

/* Classification from the "type" string; returns SR_DT_UNKNOWN for anything
 * else and sets channel/message type through the out pointers. */
sr_data_type sr_event_classify(const char *type, size_t len, uint16_t *channel, uint16_t *msg_type);
const char *sr_data_type_name(sr_data_type dt);    /* "policy", "activity_audit", ... */
const char *sr_channel_name(unsigned channel_bit); /* "SECURE_EVENTS_POLICIES", ... */
/* Parses a channel name (case-insensitive; "POLICY_EVENTS" and
 * "SECURE_EVENTS_AUDIT_TRAIL" are accepted as aliases). 0 if unknown. */
unsigned sr_channel_parse(const char *s);
/* Parses a message type name ("POLICY_EVENTS", "SECURE_AUDIT", "MONITOR_EVENTS"). 0 if unknown. */
unsigned sr_msg_type_parse(const char *s);
const char *sr_severity_label(int severity); /* "High", "Medium", "Low", "Info", or NULL */

/* --- Field access: the current value, edits applied. ---------------------
 * Returns the JSON text of top-level field `key` (len `klen`) through
 * `*val`, `*vlen`, and its sr_json_type; -1 if the field is absent or deleted. */
int sr_event_get(const sr_event *ev, const char *key, uint32_t klen, const char **val,
                 uint32_t *vlen);
/* Same, and `*spaced` says whether the text may hold whitespace outside
 * strings (only values of a pretty-printed input do; edits never). */
int sr_event_get_text(const sr_event *ev, const char *key, uint32_t klen, const char **val,
                      uint32_t *vlen, int *spaced);
/* 1 when the event has top-level field `key`, as sent or added by an edit
 * (a deleted one counts: the name is known), else 0. */
int sr_event_has_field(const sr_event *ev, const char *key, uint32_t klen);

/* --- Edits. --------------------------------------------------------------
 * Sets top-level field `key` to the JSON text `val` (which the caller
 * guarantees is valid JSON; the Lua side produces it). Setting "severity" or
 * "type" re-derives the classification. Returns 0 or -1 (allocation). */
int sr_event_set(sr_event *ev, const char *key, uint32_t klen, const char *val, uint32_t vlen);
/* Sets a string field; `s` is raw UTF-8 and is escaped here. */
int sr_event_set_string(sr_event *ev, const char *key, uint32_t klen, const char *s, uint32_t slen);
int sr_event_set_int(sr_event *ev, const char *key, uint32_t klen, int64_t v);
int sr_event_delete(sr_event *ev, const char *key, uint32_t klen);
/* Sets `key` to `val`, which is compact JSON text the caller already put in
 * the event's arena (event_path.c builds nested edits that way). */
int sr_event_set_owned(sr_event *ev, const char *key, uint32_t klen, const char *val,
                       uint32_t vlen);
/* The JSON string of raw UTF-8 `s` (escaped as needed), in `arena`. */
int sr_event_string_value(sr_arena *arena, const char *s, uint32_t slen, const char **out,
                          uint32_t *olen);
/* Copies the JSON text `val` into `arena`, without surrounding whitespace
 * and compacted when it holds any, as every edit is stored. -1 when it is
 * empty or on allocation failure. */
int sr_event_value_copy(sr_arena *arena, const char *val, uint32_t vlen, const char **out,
                        uint32_t *olen);
void sr_event_drop(sr_event *ev);

/* Copies `src` into `dst` so that edits made to `dst` do not affect `src`
 * (raw bytes and index are shared; the edit list is copied into `arena`). */
int sr_event_fork(sr_event *dst, const sr_event *src, sr_arena *arena);

/* Appends the event, edits applied, as compact single-line JSON: original
 * members in their order (edited values replaced, deleted ones skipped), then
 * new fields in the order they were set. Returns 0 or -1. */
int sr_event_write(const sr_event *ev, sr_buf *out);

#endif
