/* ingest_batch.c - body framing, per-event parsing and the sender's summary. */
#include "ingest_batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"

#define SR_SUMMARY_MAX_ERRORS 100

sr_ingest_batch *sr_ingest_batch_new(char *data, size_t len, sr_body_format fmt,
                                     uint32_t first_line, const char *origin, sr_ingest_cb cb,
                                     void *ud) {
    sr_ingest_batch *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->data = data;
    b->len = len;
    b->fmt = fmt;
    b->first_line = first_line ? first_line : 1;
    snprintf(b->origin, sizeof b->origin, "%s", origin ? origin : "");
    b->cb = cb;
    b->ud = ud;
    /* Sized so a typical HTTP body or TCP chunk fits in one chunk. */
    sr_arena_init(&b->arena, 256 * 1024);
    sr_emit_init(&b->emit);
    return b;
}

void sr_ingest_batch_free(sr_ingest_batch *b) {
    if (!b)
        return;
    free(b->data);
    free(b->events);
    free(b->rejects);
    sr_emit_free(&b->emit);
    sr_arena_free(&b->arena);
    free(b);
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static sr_reject *add_reject(sr_ingest_batch *b) {
    sr_reject *v = sr_array_grow(b->rejects, &b->rejects_cap, b->nrejects + 1, sizeof *v, 8);
    if (!v)
        return NULL;
    b->rejects = v;
    sr_reject *r = &b->rejects[b->nrejects++];
    memset(r, 0, sizeof *r);
    r->index = -1;
    return r;
}

static sr_event *add_event(sr_ingest_batch *b) {
    sr_event *e = sr_array_grow(b->events, &b->events_cap, b->nevents + 1, sizeof *e, 64);
    if (!e)
        return NULL;
    b->events = e;
    return &b->events[b->nevents];
}

/* Parses one event; on success it becomes part of the batch, otherwise a
 * reject is recorded at (line, index, base + error offset). */
static void parse_one(sr_ingest_batch *b, const char *p, size_t n, const sr_event_limits *limits,
                      uint32_t line, int32_t index, size_t base) {
    sr_event *ev = add_event(b);
    sr_json_error err = {0};
    if (ev && sr_event_parse(ev, &b->arena, p, n, limits, &err) == 0) {
        ev->seq = index >= 0 ? (uint32_t)index : line; /* 0 for a single document */
        b->nevents++;
        return;
    }
    sr_reject *r = add_reject(b);
    if (!r)
        return;
    r->line = line;
    r->index = index;
    r->offset = base + err.offset;
    snprintf(r->msg, sizeof r->msg, "%s", ev ? err.msg : "out of memory");
}

static uint32_t line_of(const char *p, size_t off) {
    uint32_t line = 1;
    for (size_t i = 0; i < off; i++)
        line += p[i] == '\n';
    return line;
}

static void parse_ndjson(sr_ingest_batch *b, const sr_event_limits *limits) {
    const char *p = b->data, *end = b->data + b->len;
    uint32_t line = b->first_line;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        const char *s = p, *e = eol;
        while (s < e && is_ws(*s))
            s++;
        while (e > s && is_ws(e[-1]))
            e--;
        if (s < e)
            parse_one(b, s, (size_t)(e - s), limits, line, -1, (size_t)(s - p));
        line++;
        p = nl ? nl + 1 : end;
    }
}

static void parse_array(sr_ingest_batch *b, const char *p, size_t n,
                        const sr_event_limits *limits) {
    sr_json_error err = {0};
    int depth = limits && limits->max_depth ? limits->max_depth : SR_JSON_DEFAULT_MAX_DEPTH;
    /* The array adds a level of nesting the events themselves do not have. */
    if (sr_json_validate(p, n, depth + 1, &err) != 0) {
        sr_reject *r = add_reject(b);
        if (r) {
            size_t off = (size_t)(p - b->data) + err.offset;
            r->offset = off;
            r->line = line_of(b->data, off);
            snprintf(r->msg, sizeof r->msg, "%s", err.msg);
        }
        return;
    }
    size_t pos = 0;
    sr_json_member m;
    int32_t index = 0;
    while (sr_json_array_next(p, n, &pos, &m)) {
        parse_one(b, p + m.val_off, m.val_len, limits, 0, index++,
                  (size_t)(p - b->data) + m.val_off);
    }
}

/* A body is NDJSON when its first line is a complete JSON value and more
 * follows; otherwise it is one document (so a pretty-printed object with a
 * syntax error is reported at its real position, not as a broken line). */
static int looks_like_ndjson(const char *p, const char *end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl)
        return 0;
    sr_json_error err;
    if (sr_json_validate(p, (size_t)(nl - p), SR_JSON_DEFAULT_MAX_DEPTH, &err) != 0)
        return 0;
    for (const char *q = nl; q < end; q++)
        if (!is_ws(*q))
            return 1;
    return 0;
}

void sr_ingest_batch_parse(sr_ingest_batch *b, const sr_event_limits *limits) {
    if (b->fmt == SR_BODY_NDJSON) {
        b->framing = SR_FRAME_NDJSON;
        parse_ndjson(b, limits);
        return;
    }
    const char *p = b->data, *end = b->data + b->len;
    while (p < end && is_ws(*p))
        p++;
    const char *e = end;
    while (e > p && is_ws(e[-1]))
        e--;
    if (p == e) {
        sr_reject *r = add_reject(b);
        if (r)
            snprintf(r->msg, sizeof r->msg, "empty body");
        return;
    }
    if (*p == '[') {
        b->framing = SR_FRAME_ARRAY;
        parse_array(b, p, (size_t)(e - p), limits);
    } else if (looks_like_ndjson(p, e)) {
        b->framing = SR_FRAME_NDJSON;
        parse_ndjson(b, limits);
    } else {
        b->framing = SR_FRAME_SINGLE;
        size_t before = b->nrejects;
        parse_one(b, p, (size_t)(e - p), limits, 0, -1, (size_t)(p - b->data));
        if (b->nrejects > before) {
            sr_reject *r = &b->rejects[before];
            r->line = line_of(b->data, r->offset);
        }
    }
}

static void summary_position(sr_buf *out, uint32_t line, int32_t index) {
    if (index >= 0)
        sr_buf_printf(out, "\"index\":%d,", index);
    else if (line)
        sr_buf_printf(out, "\"line\":%u,", line);
}

/* Events that went on past the global scripts: not dropped by one and not
 * failed in one. (Per-integration drops and failures are counted in
 * `dropped` and `failed`, but the event was still taken for the others.) */
static size_t count_accepted(const sr_ingest_batch *b) {
    const sr_emit *em = &b->emit;
    size_t n = 0;
    for (size_t i = 0; i < b->nevents; i++) {
        if (b->events[i].flags & SR_EV_DROPPED)
            continue;
        int failed = 0;
        for (size_t f = 0; f < em->nfails && !failed; f++)
            failed = em->fails[f].integ < 0 && em->fails[f].ev == i;
        n += !failed;
    }
    return n;
}

uint32_t sr_ingest_batch_unrouted(const sr_ingest_batch *b) {
    uint32_t n = 0;
    for (int r = 0; r < SR_UNROUTED_REASONS; r++)
        n += b->emit.unrouted[r];
    return n;
}

int sr_ingest_batch_summary(const sr_ingest_batch *b, sr_buf *out) {
    const sr_emit *em = &b->emit;
    size_t accepted = b->failed ? 0 : count_accepted(b);
    sr_buf_printf(out,
                  "{\"accepted\":%zu,\"rejected\":%zu,\"dropped\":%u,\"failed\":%zu,"
                  "\"unrouted\":%u,\"errors\":[",
                  accepted, b->nrejects + (b->failed ? b->nevents : 0), em->ndropped, em->nfails,
                  b->failed ? 0 : sr_ingest_batch_unrouted(b));
    size_t shown = 0;
    for (size_t i = 0; i < b->nrejects && shown < SR_SUMMARY_MAX_ERRORS; i++, shown++) {
        const sr_reject *r = &b->rejects[i];
        sr_buf_puts(out, shown ? ",{" : "{");
        summary_position(out, r->line, r->index);
        sr_buf_printf(out, "\"offset\":%zu,\"error\":", r->offset);
        sr_buf_json_string(out, r->msg, strlen(r->msg));
        sr_buf_putc(out, '}');
    }
    for (size_t i = 0; i < em->nfails && shown < SR_SUMMARY_MAX_ERRORS; i++, shown++) {
        const sr_emit_fail *f = &em->fails[i];
        const sr_event *ev = &b->events[f->ev];
        sr_buf_puts(out, shown ? ",{" : "{");
        if (b->framing == SR_FRAME_ARRAY)
            summary_position(out, 0, (int32_t)ev->seq);
        else if (b->framing == SR_FRAME_NDJSON)
            summary_position(out, ev->seq, -1);
        sr_buf_puts(out, "\"stage\":");
        sr_buf_json_string(out, f->stage, strlen(f->stage));
        sr_buf_puts(out, ",\"error\":");
        sr_buf_json_string(out, f->msg, strlen(f->msg));
        sr_buf_putc(out, '}');
    }
    sr_buf_puts(out, "]");
    if (b->nrejects + em->nfails > shown)
        sr_buf_puts(out, ",\"errors_truncated\":true");
    sr_buf_puts(out, "}");
    if (b->failed)
        return 503;
    return (accepted == 0 && b->nrejects > 0) ? 400 : 200;
}
