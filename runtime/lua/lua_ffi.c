/* lua_ffi.c - the C functions Lua calls through ffi.C, and the emit buffer.
 *
 * lua/lib/event.lua, event_loop.lua, json.lua and time.lua declare these.
 * Those that allocate or update the batch's arena wrap the real function in
 * the interrupt guard (see lua_watchdog.c): the watchdog may abandon a
 * runaway script at any instruction of Lua code, but never half-way through
 * such C code. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "array.h"
#include "event_path.h"
#include "lua_host_impl.h"

/* ---- Events ------------------------------------------------------------- */

int sr_lua_ev_get(const sr_event *ev, const char *key, uint32_t klen, const char **val,
                  uint32_t *vlen) {
    sr_lua_guard_enter();
    int rc = sr_event_get(ev, key, klen, val, vlen);
    sr_lua_guard_leave();
    return rc;
}

int sr_lua_ev_get_path(const sr_event *ev, const char *const *path, const uint32_t *lens,
                       uint32_t n, const char **val, uint32_t *vlen) {
    sr_lua_guard_enter();
    int rc = sr_event_get_path(ev, path, lens, n, val, vlen);
    sr_lua_guard_leave();
    return rc;
}

/* The top-level edits take a name, never a path: a name with a dot or a
 * bracket that the event does not have is almost always a path written by
 * mistake (ev:set("labels.ns", v) would add a top-level "labels.ns"), so
 * those return -3 and event.lua points to set_path. */
static int unknown_dotted(const sr_event *ev, const char *key, uint32_t klen) {
    return (memchr(key, '.', klen) || memchr(key, '[', klen)) && !sr_event_has_field(ev, key, klen);
}

/* `val` comes from the Lua encoder in event.lua, which only produces valid
 * JSON. */
int sr_lua_ev_set(sr_event *ev, const char *key, uint32_t klen, const char *val, uint32_t vlen) {
    if (unknown_dotted(ev, key, klen))
        return -3;
    sr_lua_guard_enter();
    int rc = sr_event_set(ev, key, klen, val, vlen);
    sr_lua_guard_leave();
    return rc;
}

/* `val` comes from a script (ev:set_raw): it is validated here, because an
 * invalid value would corrupt every record written from the event. Returns
 * -2 (and fills err) when it is not exactly one JSON value. */
int sr_lua_ev_set_raw(sr_event *ev, const char *key, uint32_t klen, const char *val, uint32_t vlen,
                      sr_json_error *err) {
    int rc = -2;
    if (unknown_dotted(ev, key, klen))
        return -3;
    sr_lua_guard_enter();
    if (sr_json_validate(val, vlen, SR_JSON_DEFAULT_MAX_DEPTH, err) == 0)
        rc = sr_event_set(ev, key, klen, val, vlen);
    sr_lua_guard_leave();
    return rc;
}

int sr_lua_ev_set_string(sr_event *ev, const char *key, uint32_t klen, const char *s,
                         uint32_t slen) {
    if (unknown_dotted(ev, key, klen))
        return -3;
    sr_lua_guard_enter();
    int rc = sr_event_set_string(ev, key, klen, s, slen);
    sr_lua_guard_leave();
    return rc;
}

int sr_lua_ev_set_int(sr_event *ev, const char *key, uint32_t klen, int64_t v) {
    if (unknown_dotted(ev, key, klen))
        return -3;
    sr_lua_guard_enter();
    int rc = sr_event_set_int(ev, key, klen, v);
    sr_lua_guard_leave();
    return rc;
}

int sr_lua_ev_set_path(sr_event *ev, const char *const *keys, const uint32_t *lens, uint32_t n,
                       const char *val, uint32_t vlen, sr_json_error *err) {
    sr_lua_guard_enter();
    int rc = sr_event_set_path(ev, keys, lens, n, val, vlen, err);
    sr_lua_guard_leave();
    return rc;
}

int sr_lua_ev_set_path_string(sr_event *ev, const char *const *keys, const uint32_t *lens,
                              uint32_t n, const char *s, uint32_t slen, sr_json_error *err) {
    sr_lua_guard_enter();
    int rc = sr_event_set_path_string(ev, keys, lens, n, s, slen, err);
    sr_lua_guard_leave();
    return rc;
}

/* `val` comes from a script (ev:set_path_raw): validated as ev:set_raw's. */
int sr_lua_ev_set_path_raw(sr_event *ev, const char *const *keys, const uint32_t *lens, uint32_t n,
                           const char *val, uint32_t vlen, sr_json_error *err) {
    int rc = -2;
    sr_lua_guard_enter();
    if (sr_json_validate(val, vlen, SR_JSON_DEFAULT_MAX_DEPTH, err) == 0)
        rc = sr_event_set_path(ev, keys, lens, n, val, vlen, err);
    sr_lua_guard_leave();
    return rc;
}

int sr_lua_ev_delete_path(sr_event *ev, const char *const *keys, const uint32_t *lens, uint32_t n,
                          sr_json_error *err) {
    sr_lua_guard_enter();
    int rc = sr_event_delete_path(ev, keys, lens, n, err);
    sr_lua_guard_leave();
    return rc;
}

int sr_lua_ev_rename_path(sr_event *ev, const char *const *fkeys, const uint32_t *flens,
                          uint32_t fn, const char *const *tkeys, const uint32_t *tlens, uint32_t tn,
                          sr_json_error *err) {
    sr_lua_guard_enter();
    int rc = sr_event_rename_path(ev, fkeys, flens, fn, tkeys, tlens, tn, err);
    sr_lua_guard_leave();
    return rc;
}

int sr_lua_ev_delete(sr_event *ev, const char *key, uint32_t klen) {
    if (unknown_dotted(ev, key, klen))
        return -3;
    sr_lua_guard_enter();
    int rc = sr_event_delete(ev, key, klen);
    sr_lua_guard_leave();
    return rc;
}

void sr_lua_ev_drop(sr_event *ev) {
    sr_lua_guard_enter();
    sr_event_drop(ev);
    sr_lua_guard_leave();
}

/* Forks into the source's own arena: the copy lives as long as the batch. */
int sr_lua_ev_fork(sr_event *dst, const sr_event *src) {
    sr_lua_guard_enter();
    int rc = sr_event_fork(dst, src, src->arena);
    sr_lua_guard_leave();
    return rc;
}

/* Replaces the contents of `out` with the event as JSON. */
int sr_lua_ev_write(const sr_event *ev, sr_buf *out) {
    sr_lua_guard_enter();
    sr_buf_reset(out);
    int rc = sr_event_write(ev, out);
    sr_lua_guard_leave();
    return rc;
}

/* Replaces the contents of `out` with the decoded JSON string token. */
int sr_lua_json_unescape(const char *p, size_t n, sr_buf *out) {
    sr_lua_guard_enter();
    sr_buf_reset(out);
    int rc = sr_json_unescape(p, n, 1, out);
    sr_lua_guard_leave();
    return rc;
}

/* event.lua owns its scratch buffers through ffi.gc. */
void sr_lua_buf_free(sr_buf *b) {
    sr_lua_guard_enter();
    sr_buf_free(b);
    sr_lua_guard_leave();
}

/* ---- Small helpers for hot Lua paths -------------------------------------
 *
 * Loops and string patterns in per-event Lua code end LuaJIT traces (a
 * short loop becomes a trace of its own that the per-event loop cannot
 * inline; patterns are not compiled at all). These do the byte work in C
 * instead; they neither allocate nor touch the arena, so they need no
 * interrupt guard. */

/* "<seconds>.<9 digits>" of nanosecond integer text, the common case of
 * time.seconds_decimal (SPLUNK's "time"). Only plain text: 10 to 20
 * digits, no sign, no leading zero; anything else returns 0 and time.lua
 * takes its general path. `out` holds n + 1 bytes. */
int sr_lua_ns_seconds9(const char *p, size_t n, char *out) {
    if (n < 10 || n > 20 || p[0] < '1' || p[0] > '9')
        return 0;
    for (size_t i = 1; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return 0;
    memcpy(out, p, n - 9);
    out[n - 9] = '.';
    memcpy(out + n - 8, p + n - 9, 9);
    return (int)n + 1;
}

/* 1 when the JSON string token p[0..n) (quotes included) holds an escape. */
int sr_lua_json_token_escaped(const char *p, size_t n) {
    return n > 2 && memchr(p + 1, '\\', n - 2) != NULL;
}

/* 1 when s needs no escaping inside a JSON string: no control character,
 * DEL, '"' or '\\'; 0 when it does; 2 when it also holds bytes that are not
 * UTF-8 (a string cut mid-character), which sr_lua_utf8_clean repairs. */
int sr_lua_json_plain(const char *s, size_t n) {
    int plain = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == '"' || c == '\\' || c == 0x7f) {
            plain = 0;
        } else if (c >= 0x80) {
            size_t len = sr_utf8_seq_len((const unsigned char *)s + i, n - i);
            if (len == 0)
                return 2;
            i += len - 1;
        }
    }
    return plain;
}

/* Copies s into out (room for 3 * n bytes) with every byte that is not part
 * of well-formed UTF-8 replaced by U+FFFD, as sr_buf_json_string writes it
 * for C's edits; returns the length written. */
size_t sr_lua_utf8_clean(const char *s, size_t n, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t len = c < 0x80 ? 1 : sr_utf8_seq_len((const unsigned char *)s + i, n - i);
        if (len == 0) {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        } else {
            memcpy(out + o, s + i, len);
            o += len;
            i += len;
        }
    }
    return o;
}

/* ---- The emit buffer ---------------------------------------------------- */

void sr_emit_init(sr_emit *e) { memset(e, 0, sizeof *e); }

void sr_emit_reset(sr_emit *e) {
    sr_buf_reset(&e->data);
    e->nrecs = 0;
    e->nfails = 0;
    e->ndropped = 0;
    sr_buf_reset(&e->traces);
    e->nnotes = 0;
    memset(e->unrouted, 0, sizeof e->unrouted);
    e->unrouted_channels = 0;
}

const char *sr_unrouted_reason_name(int reason) {
    static const char *const names[SR_UNROUTED_REASONS] = {
        "forwarder_disabled", "no_integration", "message_type", "min_severity", "script_route"};
    return reason >= 0 && reason < SR_UNROUTED_REASONS ? names[reason] : "?";
}

void sr_emit_free(sr_emit *e) {
    sr_buf_free(&e->data);
    free(e->recs);
    free(e->fails);
    sr_buf_free(&e->traces);
    free(e->notes);
    sr_emit_init(e);
}

/* Room for one more record; returns where its bytes start. */
static int emit_open(sr_emit *e, size_t *off) {
    *off = e->data.len;
    sr_emit_rec *v = sr_array_grow(e->recs, &e->recs_cap, e->nrecs + 1, sizeof *v, 64);
    if (!v)
        return -1;
    e->recs = v;
    return 0;
}

/* Makes what was appended since `off` one record, or takes it back when
 * appending failed (rc) or offsets would pass 32 bits (a batch is far
 * smaller in practice). */
static int emit_close(sr_emit *e, uint32_t integ, uint32_t ev, size_t off, int rc) {
    if (rc != 0 || e->data.len > UINT32_MAX) {
        e->data.len = off;
        return -1;
    }
    e->recs[e->nrecs++] = (sr_emit_rec){integ, ev, (uint32_t)off, (uint32_t)(e->data.len - off)};
    return 0;
}

static int emit_record(sr_emit *e, uint32_t integ, uint32_t ev, const char *p, size_t n) {
    size_t off;
    if (emit_open(e, &off) != 0)
        return -1;
    return emit_close(e, integ, ev, off, sr_buf_append(&e->data, p, n));
}

int sr_emit_record(sr_emit *e, uint32_t integ, uint32_t ev, const char *p, size_t n) {
    sr_lua_guard_enter();
    int rc = emit_record(e, integ, ev, p, n);
    sr_lua_guard_leave();
    return rc;
}

/* prefix + the event's JSON + suffix as one record, written straight into
 * the batch: the event never becomes a Lua string (no allocation, no
 * interning, no copies through concatenation). */
static int emit_event(sr_emit *e, uint32_t integ, uint32_t ev_index, const sr_event *ev,
                      const char *pre, size_t plen, const char *suf, size_t slen) {
    size_t off;
    if (emit_open(e, &off) != 0)
        return -1;
    int rc = sr_buf_append(&e->data, pre, plen) || sr_event_write(ev, &e->data) ||
             sr_buf_append(&e->data, suf, slen);
    return emit_close(e, integ, ev_index, off, rc);
}

int sr_emit_event(sr_emit *e, uint32_t integ, uint32_t ev_index, const sr_event *ev,
                  const char *pre, size_t plen, const char *suf, size_t slen) {
    sr_lua_guard_enter();
    int rc = emit_event(e, integ, ev_index, ev, pre, plen, suf, slen);
    sr_lua_guard_leave();
    return rc;
}

/* Cuts at a UTF-8 character boundary so the message stays valid text. */
static size_t utf8_prefix(const char *s, size_t n, size_t max) {
    if (n <= max)
        return n;
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    return max;
}

static int emit_failure(sr_emit *e, uint32_t ev, int32_t integ, const char *stage, const char *msg,
                        size_t msglen, const char *where, size_t wlen, const char *trace,
                        size_t tlen) {
    sr_emit_fail *fails = sr_array_grow(e->fails, &e->fails_cap, e->nfails + 1, sizeof *fails, 64);
    if (!fails)
        return -1;
    e->fails = fails;
    sr_emit_fail *f = &e->fails[e->nfails++];
    memset(f, 0, sizeof *f);
    f->ev = ev;
    f->integ = integ;
    snprintf(f->stage, sizeof f->stage, "%s", stage);
    size_t len = utf8_prefix(msg, msglen, sizeof f->msg - 1);
    memcpy(f->msg, msg, len);
    len = utf8_prefix(where, wlen, sizeof f->where - 1);
    memcpy(f->where, where, len);
    /* A traceback that does not fit is left out, never the failure. */
    f->trace_off = (uint32_t)e->traces.len;
    if (tlen && e->traces.len + tlen < UINT32_MAX && sr_buf_append(&e->traces, trace, tlen) == 0)
        f->trace_len = (uint32_t)tlen;
    return 0;
}

int sr_emit_failure(sr_emit *e, uint32_t ev, int32_t integ, const char *stage, const char *msg,
                    size_t msglen) {
    return sr_emit_failure_at(e, ev, integ, stage, msg, msglen, "", 0, "", 0);
}

int sr_emit_failure_at(sr_emit *e, uint32_t ev, int32_t integ, const char *stage, const char *msg,
                       size_t msglen, const char *where, size_t wlen, const char *trace,
                       size_t tlen) {
    sr_lua_guard_enter();
    int rc = emit_failure(e, ev, integ, stage, msg, msglen, where, wlen, trace, tlen);
    sr_lua_guard_leave();
    return rc;
}

double sr_lua_clock_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

void sr_lua_log(sr_script_stats *stats, int level, const char *where, size_t wlen, const char *msg,
                size_t mlen, const char *fields, size_t flen) {
    sr_lua_guard_enter();
    sr_script_log(stats, level, where, wlen, msg, mlen, fields, flen);
    sr_lua_guard_leave();
}

void sr_lua_unknown_route(sr_script_stats *stats, const char *name, size_t len) {
    if (!stats)
        return;
    sr_lua_guard_enter();
    sr_script_stats_unknown_route(stats, name, len);
    sr_lua_guard_leave();
}

static int emit_note(sr_emit *e, uint32_t ev, int32_t integ, const char *kind, const char *detail,
                     size_t len) {
    sr_emit_note *notes = sr_array_grow(e->notes, &e->notes_cap, e->nnotes + 1, sizeof *notes, 64);
    if (!notes)
        return -1;
    e->notes = notes;
    sr_emit_note *nt = &e->notes[e->nnotes++];
    memset(nt, 0, sizeof *nt);
    nt->ev = ev;
    nt->integ = integ;
    snprintf(nt->kind, sizeof nt->kind, "%s", kind);
    memcpy(nt->detail, detail, utf8_prefix(detail, len, sizeof nt->detail - 1));
    return 0;
}

int sr_emit_note_add(sr_emit *e, uint32_t ev, int32_t integ, const char *kind, const char *detail,
                     size_t len) {
    sr_lua_guard_enter();
    int rc = emit_note(e, ev, integ, kind, detail, len);
    sr_lua_guard_leave();
    return rc;
}
