/* deadletter_replay.c - queue matching dead-lettered records again (stored,
 * or rebuilt from their event), then take them out of the files. */
#include "deadletter_replay.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "array.h"
#include "buf.h"
#include "event.h"
#include "falco.h"
#include "json.h"
#include "log.h"

#define NS_PER_SEC 1000000000LL

/* What becomes of one line. */
typedef enum { LINE_KEEP, LINE_RECORD, LINE_EVENT } line_kind;

typedef struct line {
    size_t file;
    const char *p;
    size_t n;
    line_kind kind;
    size_t cand; /* LINE_EVENT: its index among the events run again */
} dl_line;

/* One record to queue: for integration `integ`, its bytes in `recs`
 * [start, end), with the event it came from (the line's, or NULL). */
typedef struct item {
    size_t integ, start, end;
    const char *event;
    size_t event_len;
} item;

#define ALL_INTEGRATIONS SIZE_MAX

typedef struct replay {
    sr_deadletter *dl;
    sr_delivery *d;
    sr_lua_host *host;
    size_t integ; /* ALL_INTEGRATIONS: the pipeline's file, every integration */
    const sr_replay_filter *f;
    sr_replay_result *res;
    char *err;
    size_t errlen;
    sr_buf *texts; /* each file's bytes */
    dl_line *lines;
    size_t nlines, lines_cap;
    size_t ncand;
    item *items;
    size_t nitems, items_cap;
    sr_buf recs; /* the records to queue, back to back */
} replay;

/* ---- Times -------------------------------------------------------------- */

/* Seconds since the epoch, a fraction allowed: "1764972600", "1764972600.25". */
static int epoch_parse(const char *s, int64_t *ns) {
    int64_t secs = 0, frac = 0;
    int nd = 0, nf = 0;
    for (; isdigit((unsigned char)*s); s++, nd++) {
        if (secs > (INT64_MAX / NS_PER_SEC - 10) / 10)
            return -1;
        secs = secs * 10 + (*s - '0');
    }
    if (*s == '.') {
        for (s++; isdigit((unsigned char)*s); s++, nf++)
            if (nf < 9)
                frac = frac * 10 + (*s - '0');
        if (!nf)
            return -1;
    }
    if (!nd || *s)
        return -1;
    for (int k = nf < 9 ? nf : 9; k < 9; k++)
        frac *= 10;
    *ns = secs * NS_PER_SEC + frac;
    return 0;
}

int sr_replay_time_parse(const char *text, int64_t *ns) {
    if (!text || !*text)
        return -1;
    return sr_rfc3339_parse(text, ns) == 0 || epoch_parse(text, ns) == 0 ? 0 : -1;
}

/* ---- Lines -------------------------------------------------------------- */

static int string_member(const char *line, size_t n, const char *key, sr_buf *out) {
    sr_json_member m;
    sr_buf_reset(out);
    if (!sr_json_object_get(line, n, key, strlen(key), &m) || m.type != SR_JSON_STRING)
        return -1;
    return sr_json_unescape(line + m.val_off, m.val_len, 1, out) == 0 && sr_buf_putc(out, 0) == 0
               ? 0
               : -1;
}

/* Whether the line is one the filter picks. */
static int matches(const sr_replay_filter *f, const char *line, size_t n, sr_buf *tmp) {
    int64_t t;
    if (f->stage && (string_member(line, n, "stage", tmp) != 0 || strcmp(tmp->data, f->stage)))
        return 0;
    if (f->reason && (string_member(line, n, "reason", tmp) != 0 || !strstr(tmp->data, f->reason)))
        return 0;
    if (f->has_since || f->has_until) {
        if (string_member(line, n, "time", tmp) != 0 || sr_replay_time_parse(tmp->data, &t) != 0)
            return 0;
        if ((f->has_since && t < f->since_ns) || (f->has_until && t >= f->until_ns))
            return 0;
    }
    return 1;
}

/* The line's member `key` when it is an object (or, for a record, any JSON
 * but null): 1 with *m, else 0. */
static int member(const char *line, size_t n, const char *key, sr_json_member *m, int object) {
    if (!sr_json_object_get(line, n, key, strlen(key), m) || m->type == SR_JSON_NULL)
        return 0;
    return !object || m->type == SR_JSON_OBJECT;
}

/* Appends the line's record as it was queued: JSON as is, a string
 * unescaped. */
static int put_record(const dl_line *ln, sr_buf *recs) {
    sr_json_member m;
    if (!member(ln->p, ln->n, "record", &m, 0))
        return -1;
    if (m.type == SR_JSON_STRING)
        return sr_json_unescape(ln->p + m.val_off, m.val_len, 1, recs);
    return sr_buf_append(recs, ln->p + m.val_off, m.val_len);
}

static int add_line(replay *r, size_t file, const char *p, size_t n, line_kind kind) {
    dl_line *v = sr_array_grow(r->lines, &r->lines_cap, r->nlines + 1, sizeof *v, 256);
    if (!v)
        return -1;
    r->lines = v;
    r->lines[r->nlines++] = (dl_line){.file = file, .p = p, .n = n, .kind = kind, .cand = r->ncand};
    if (kind == LINE_EVENT)
        r->ncand++;
    return 0;
}

/* What the filter and the mode make of one (non-empty) line. */
static line_kind classify(replay *r, const char *p, size_t n, sr_buf *tmp) {
    sr_json_member m;
    if (sr_json_validate(p, n, 128, NULL) != 0 || !matches(r->f, p, n, tmp)) {
        r->res->kept++;
        return LINE_KEEP;
    }
    /* The pipeline's events always run again; so does an integration's
     * event with reencode. */
    if (r->f->reencode || r->integ == ALL_INTEGRATIONS) {
        if (member(p, n, "event", &m, 1))
            return LINE_EVENT;
        r->res->records++;
        return LINE_KEEP;
    }
    if (member(p, n, "record", &m, 0))
        return LINE_RECORD;
    r->res->events++;
    return LINE_KEEP;
}

static int read_file(const char *path, sr_buf *text, char *err, size_t errlen) {
    FILE *fp = fopen(path, "re");
    if (!fp) {
        if (errno == ENOENT)
            return 1;
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    char chunk[65536];
    size_t got;
    int rc = 0;
    while (rc == 0 && (got = fread(chunk, 1, sizeof chunk, fp)) > 0)
        rc = sr_buf_append(text, chunk, got);
    if (rc == 0 && ferror(fp)) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        rc = -1;
    } else if (rc != 0) {
        snprintf(err, errlen, "out of memory");
    }
    fclose(fp);
    return rc;
}

static int split_lines(replay *r, size_t file) {
    const sr_buf *text = &r->texts[file];
    sr_buf tmp = SR_BUF_INIT;
    int rc = 0;
    for (size_t at = 0; rc == 0 && at < text->len;) {
        const char *p = text->data + at;
        const char *nl = memchr(p, '\n', text->len - at);
        size_t n = nl ? (size_t)(nl - p) : text->len - at;
        at += n + 1;
        if (n)
            rc = add_line(r, file, p, n, classify(r, p, n, &tmp));
    }
    sr_buf_free(&tmp);
    return rc;
}

/* ---- Re-encoding -------------------------------------------------------- */

/* Runs the events of the LINE_EVENT lines through the host; `emit` holds
 * what came out, `ok[c]` whether event c parsed. */
static int run_events(replay *r, sr_arena *arena, sr_emit *emit, char *ok) {
    sr_event *evs = calloc(r->ncand ? r->ncand : 1, sizeof *evs);
    size_t *slot = calloc(r->ncand ? r->ncand : 1, sizeof *slot);
    size_t n = 0;
    int rc = -1;
    if (!evs || !slot) {
        snprintf(r->err, r->errlen, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < r->nlines; i++) {
        const dl_line *ln = &r->lines[i];
        sr_json_member m;
        sr_json_error jerr;
        if (ln->kind != LINE_EVENT)
            continue;
        member(ln->p, ln->n, "event", &m, 1);
        ok[ln->cand] =
            sr_event_parse(&evs[n], arena, ln->p + m.val_off, m.val_len, NULL, &jerr) == 0;
        if (ok[ln->cand])
            slot[n++] = ln->cand;
    }
    if (n && sr_lua_host_process(r->host, evs, n, emit) != 0) {
        snprintf(r->err, r->errlen, "the Lua state could not run the events");
        goto done;
    }
    /* Emitted indexes are positions among the parsed events: back to
     * candidates. */
    for (size_t k = 0; k < emit->nrecs; k++)
        emit->recs[k].ev = (uint32_t)slot[emit->recs[k].ev];
    for (size_t k = 0; k < emit->nfails; k++)
        emit->fails[k].ev = (uint32_t)slot[emit->fails[k].ev];
    rc = 0;
done:
    free(evs);
    free(slot);
    return rc;
}

/* Secrets of any integration the text may quote are masked. */
static void redact(replay *r, char *text) {
    size_t n = sr_delivery_count(r->d);
    for (size_t i = 0; i < n; i++)
        if (r->integ == ALL_INTEGRATIONS || i == r->integ)
            sr_lua_host_redact(r->host, i, text, strlen(text));
}

/* Whether failure `fl` is the event's own (it stops the event for this
 * replay): a global script's, or with one integration, that integration's. */
static int own_failure(const replay *r, const sr_emit_fail *fl) {
    return fl->integ < 0 || (r->integ != ALL_INTEGRATIONS && (size_t)fl->integ == r->integ);
}

/* Notes why candidate `c` gave no record, the first time. */
static void note_no_record(replay *r, const sr_emit *emit, size_t c, int parsed) {
    if (r->res->error[0])
        return;
    const char *why = !parsed ? "the stored event is not a valid event"
                      : r->integ == ALL_INTEGRATIONS
                          ? "no record: a global site script dropped the event, or it is routed "
                            "to no integration"
                          : "no record: a site script dropped the event, or routing or encode "
                            "skipped it for this integration";
    for (size_t k = 0; parsed && k < emit->nfails; k++) {
        const sr_emit_fail *fl = &emit->fails[k];
        if (fl->ev == c && own_failure(r, fl)) {
            snprintf(r->res->error, sizeof r->res->error, "%.11s: %.200s", fl->stage, fl->msg);
            redact(r, r->res->error);
            return;
        }
    }
    snprintf(r->res->error, sizeof r->res->error, "%s", why);
}

/* ---- Writing back ------------------------------------------------------- */

/* The file without the lines taken: replaced atomically, or removed when a
 * rotated file is left empty. */
static int write_kept(const char *path, const sr_buf *kept, int current, char *err, size_t errlen) {
    char tmp[4300];
    if (!current && kept->len == 0) {
        if (unlink(path) == 0 || errno == ENOENT)
            return 0;
        snprintf(err, errlen, "cannot remove %s: %s", path, strerror(errno));
        return -1;
    }
    snprintf(tmp, sizeof tmp, "%s.replay", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    int ok = fd >= 0 &&
             (kept->len == 0 || write(fd, kept->data, kept->len) == (ssize_t)kept->len) &&
             fsync(fd) == 0;
    if (fd >= 0 && close(fd) != 0)
        ok = 0;
    if (ok && rename(tmp, path) != 0)
        ok = 0;
    if (!ok) {
        snprintf(err, errlen, "cannot rewrite %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int keep_line(sr_buf *kept, const dl_line *ln) {
    return sr_buf_append(&kept[ln->file], ln->p, ln->n) || sr_buf_putc(&kept[ln->file], '\n');
}

/* ---- The replay --------------------------------------------------------- */

/* Queues (later) the record just appended to r->recs from `start` on, with
 * the event `ev` (NULL: none). */
static int add_item(replay *r, size_t integ, size_t start, const char *ev, size_t ev_len) {
    item *v = sr_array_grow(r->items, &r->items_cap, r->nitems + 1, sizeof *v, 64);
    if (!v)
        return -1;
    r->items = v;
    r->items[r->nitems++] = (item){integ, start, r->recs.len, ev, ev_len};
    return 0;
}

/* The line's event (its text, compacted JSON), or NULL. */
static const char *line_event(const dl_line *ln, size_t *len) {
    sr_json_member m;
    if (!member(ln->p, ln->n, "event", &m, 1))
        return NULL;
    *len = m.val_len;
    return ln->p + m.val_off;
}

/* A stored record, sent again with the event beside it (if any), so a
 * second rejection keeps it rebuildable. */
static int take_record(replay *r, const dl_line *ln) {
    size_t start = r->recs.len, ev_len = 0;
    const char *ev = line_event(ln, &ev_len);
    if (put_record(ln, &r->recs) != 0)
        return -1;
    return add_item(r, r->integ, start, ev, ev_len);
}

/* What the event of line `ln` gave: its records for the integration (every
 * integration for the pipeline's file). Returns how many, or -1. With the
 * pipeline's file, *moves counts the failures of integrations' own scripts
 * or encoders (dead-lettered there, as ingest does). */
static long take_event(replay *r, const dl_line *ln, const sr_emit *emit, size_t *moves) {
    size_t ev_len = 0, before = r->nitems;
    const char *ev = line_event(ln, &ev_len);
    *moves = 0;
    for (size_t k = 0; k < emit->nfails; k++) {
        const sr_emit_fail *fl = &emit->fails[k];
        if (fl->ev != ln->cand)
            continue;
        if (own_failure(r, fl)) {
            *moves = 0;
            return 0; /* the event failed again: it stays in its line */
        }
        *moves += r->integ == ALL_INTEGRATIONS;
    }
    for (size_t k = 0; k < emit->nrecs; k++) {
        const sr_emit_rec *er = &emit->recs[k];
        if (er->ev != ln->cand || (r->integ != ALL_INTEGRATIONS && er->integ != r->integ))
            continue;
        size_t start = r->recs.len;
        if (sr_buf_append(&r->recs, emit->data.data + er->off, er->len) != 0 ||
            add_item(r, er->integ, start, ev, ev_len) != 0)
            return -1;
    }
    return (long)(r->nitems - before);
}

/* Assembles what to queue, in line order, and what each file keeps; `gone`
 * marks the lines that leave. */
static int assemble(replay *r, const sr_emit *emit, const char *ok, sr_buf *kept, char *changed,
                    char *gone) {
    for (size_t i = 0; i < r->nlines; i++) {
        const dl_line *ln = &r->lines[i];
        long got = 0;
        size_t moves = 0;
        if (ln->kind == LINE_RECORD)
            got = take_record(r, ln) == 0 ? 1 : -1;
        else if (ln->kind == LINE_EVENT && ok[ln->cand])
            got = take_event(r, ln, emit, &moves);
        if (got < 0)
            return -1;
        if (got > 0 || moves > 0) {
            gone[i] = 1;
            changed[ln->file] = 1;
            r->res->reencoded += ln->kind == LINE_EVENT;
            r->res->moved += moves;
            continue;
        }
        if (ln->kind == LINE_EVENT) {
            r->res->events++;
            note_no_record(r, emit, ln->cand, ok[ln->cand]);
        }
        if (keep_line(kept, ln) != 0)
            return -1;
    }
    return 0;
}

/* Queues the items, each integration's as one unit, in line order. -1 with
 * r->err when one could not take them: then the files stay as they are. */
static int queue_items(replay *r) {
    const char **ptrs = malloc(r->nitems * sizeof *ptrs), **evs = malloc(r->nitems * sizeof *evs);
    uint32_t *lens = malloc(r->nitems * sizeof *lens), *elens = malloc(r->nitems * sizeof *elens);
    size_t ninteg = sr_delivery_count(r->d), done = 0;
    int rc = -1;
    if (!ptrs || !evs || !lens || !elens) {
        snprintf(r->err, r->errlen, "out of memory");
        goto out;
    }
    for (size_t integ = 0; integ < ninteg; integ++) {
        size_t k = 0;
        for (size_t i = 0; i < r->nitems; i++) {
            const item *it = &r->items[i];
            if (it->integ != integ)
                continue;
            ptrs[k] = r->recs.data + it->start;
            lens[k] = (uint32_t)(it->end - it->start);
            evs[k] = it->event;
            elens[k++] = (uint32_t)it->event_len;
        }
        if (!k)
            continue;
        if (sr_delivery_enqueue_many(r->d, integ, ptrs, lens, evs, elens, k, r->err, r->errlen) !=
            0) {
            if (done) {
                /* The lines stay: the integrations that took theirs will get
                 * them again from the next replay (at least once). */
                size_t used = strlen(r->err);
                snprintf(r->err + used, r->errlen - used,
                         " (integration '%s'; %zu record(s) already queued for others will be "
                         "sent again by the next replay)",
                         sr_delivery_name(r->d, integ), done);
            }
            goto out;
        }
        done += k;
    }
    rc = 0;
out:
    free(ptrs);
    free(evs);
    free(lens);
    free(elens);
    return rc;
}

/* Pipeline's file: the failures of integrations' own scripts or encoders
 * go to those integrations' dead letters, as at ingest (deadletter.h: the
 * file being rewritten is not theirs). Written before the line leaves its
 * file: a crash in between writes them twice, never loses them. */
static void write_moves(replay *r, const sr_emit *emit, const char *gone) {
    for (size_t i = 0; i < r->nlines; i++) {
        const dl_line *ln = &r->lines[i];
        size_t ev_len = 0;
        if (!gone[i] || ln->kind != LINE_EVENT)
            continue;
        const char *ev = line_event(ln, &ev_len);
        for (size_t k = 0; k < emit->nfails; k++) {
            const sr_emit_fail *fl = &emit->fails[k];
            if (fl->ev == ln->cand && fl->integ >= 0)
                sr_deadletter_write_failure(r->dl, sr_delivery_name(r->d, (size_t)fl->integ), emit,
                                            fl, ev, ev_len);
        }
    }
}

static int replay_files(void *ud, const char *const *paths, size_t nfiles) {
    replay *r = ud;
    sr_buf *kept = calloc(nfiles, sizeof *kept);
    char *changed = calloc(nfiles, 1), *ok = NULL, *gone = NULL;
    sr_arena arena;
    sr_emit emit;
    int rc = -1;
    sr_arena_init(&arena, 65536);
    sr_emit_init(&emit);
    r->texts = calloc(nfiles, sizeof *r->texts);
    if (!kept || !changed || !r->texts)
        goto oom;
    for (size_t i = 0; i < nfiles; i++) {
        int got = read_file(paths[i], &r->texts[i], r->err, r->errlen);
        if (got < 0)
            goto done;
        r->res->files += got == 0;
        if (got == 0 && split_lines(r, i) != 0)
            goto oom;
    }
    if (!(ok = calloc(r->ncand ? r->ncand : 1, 1)) || !(gone = calloc(r->nlines + 1, 1)))
        goto oom;
    if (r->ncand && run_events(r, &arena, &emit, ok) != 0)
        goto done;
    if (assemble(r, &emit, ok, kept, changed, gone) != 0)
        goto oom;
    /* Queued first: only then may the lines leave the files. */
    if (r->nitems && queue_items(r) != 0)
        goto done;
    r->res->replayed = r->nitems;
    write_moves(r, &emit, gone);
    if (r->integ == ALL_INTEGRATIONS)
        sr_delivery_encode_failures(r->d, &emit); /* they move statuses, as at ingest */
    for (size_t i = 0; i < nfiles; i++) {
        if (!changed[i] || write_kept(paths[i], &kept[i], i == nfiles - 1, r->err, r->errlen) == 0)
            continue;
        sr_error("deadletter",
                 "%s: %zu record(s) replayed, but %s; its lines will be replayed again by the next "
                 "replay",
                 paths[i], r->nitems, r->err);
    }
    rc = 0;
    goto done;
oom:
    snprintf(r->err, r->errlen, "out of memory");
done:
    for (size_t i = 0; r->texts && i < nfiles; i++)
        sr_buf_free(&r->texts[i]);
    for (size_t i = 0; kept && i < nfiles; i++)
        sr_buf_free(&kept[i]);
    free(r->texts);
    r->texts = NULL;
    free(kept);
    free(changed);
    free(ok);
    free(gone);
    free(r->lines);
    r->lines = NULL;
    free(r->items);
    r->items = NULL;
    sr_buf_free(&r->recs);
    sr_emit_free(&emit);
    sr_arena_free(&arena);
    return rc;
}

/* Both replays: integration `integ`'s files, or (ALL_INTEGRATIONS) the
 * pipeline's. */
static int run_replay(sr_deadletter *dl, sr_delivery *d, sr_lua_host *host, size_t integ,
                      const sr_replay_filter *f, sr_replay_result *out, char *err, size_t errlen) {
    replay r = {.dl = dl,
                .d = d,
                .host = host,
                .integ = integ,
                .f = f,
                .res = out,
                .err = err,
                .errlen = errlen,
                .recs = SR_BUF_INIT};
    memset(out, 0, sizeof *out);
    if (integ != ALL_INTEGRATIONS && integ >= sr_delivery_count(d)) {
        snprintf(err, errlen, "no such integration");
        return -1;
    }
    if ((f->reencode || integ == ALL_INTEGRATIONS) && !host) {
        snprintf(err, errlen, "events cannot be re-encoded here");
        return -1;
    }
    const char *name = integ == ALL_INTEGRATIONS ? NULL : sr_delivery_name(d, integ);
    if (sr_deadletter_rewrite(dl, name, replay_files, &r) != 0)
        return -1;
    if (out->replayed || out->moved) {
        if (name)
            sr_info("deadletter",
                    "integration '%s': %llu dead-lettered record(s) replayed (%llu re-encoded) "
                    "from %llu file(s)",
                    name, (unsigned long long)out->replayed, (unsigned long long)out->reencoded,
                    (unsigned long long)out->files);
        else
            sr_info("deadletter",
                    "pipeline: %llu dead-lettered event(s) replayed through the pipeline from "
                    "%llu file(s): %llu record(s) queued, %llu failure(s) of integrations' own "
                    "scripts or encoders dead-lettered there",
                    (unsigned long long)out->reencoded, (unsigned long long)out->files,
                    (unsigned long long)out->replayed, (unsigned long long)out->moved);
        sr_delivery_kick(d);
    }
    return 0;
}

int sr_deadletter_replay(sr_deadletter *dl, sr_delivery *d, sr_lua_host *host, size_t integ,
                         const sr_replay_filter *f, sr_replay_result *out, char *err,
                         size_t errlen) {
    if (integ == ALL_INTEGRATIONS) {
        memset(out, 0, sizeof *out);
        snprintf(err, errlen, "no such integration");
        return -1;
    }
    return run_replay(dl, d, host, integ, f, out, err, errlen);
}

int sr_deadletter_replay_pipeline(sr_deadletter *dl, sr_delivery *d, sr_lua_host *host,
                                  const sr_replay_filter *f, sr_replay_result *out, char *err,
                                  size_t errlen) {
    return run_replay(dl, d, host, ALL_INTEGRATIONS, f, out, err, errlen);
}
