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

typedef struct replay {
    sr_delivery *d;
    sr_lua_host *host;
    size_t integ;
    const sr_replay_filter *f;
    sr_replay_result *res;
    char *err;
    size_t errlen;
    sr_buf *texts; /* each file's bytes */
    dl_line *lines;
    size_t nlines, lines_cap;
    size_t ncand;
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
    if (r->nlines == r->lines_cap) {
        size_t cap = r->lines_cap ? r->lines_cap * 2 : 256;
        dl_line *v = realloc(r->lines, cap * sizeof *v);
        if (!v)
            return -1;
        r->lines = v;
        r->lines_cap = cap;
    }
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
    if (r->f->reencode) {
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

/* Notes why candidate `c` gave no record, the first time. */
static void note_no_record(replay *r, const sr_emit *emit, size_t c, int parsed) {
    if (r->res->error[0])
        return;
    const char *why = parsed ? "no record: a site script dropped the event, or routing or "
                               "encode skipped it for this integration"
                             : "the stored event is not a valid event";
    for (size_t k = 0; parsed && k < emit->nfails; k++) {
        const sr_emit_fail *fl = &emit->fails[k];
        if (fl->ev == c && (fl->integ < 0 || (size_t)fl->integ == r->integ)) {
            snprintf(r->res->error, sizeof r->res->error, "%.11s: %.200s", fl->stage, fl->msg);
            sr_lua_host_redact(r->host, r->integ, r->res->error, strlen(r->res->error));
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

/* Marks the end of the record just appended to `recs`. */
static int end_record(const sr_buf *recs, size_t **ends, size_t *nrec, size_t *cap) {
    if (*nrec == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        size_t *e = realloc(*ends, c * sizeof *e);
        if (!e)
            return -1;
        *ends = e;
        *cap = c;
    }
    (*ends)[(*nrec)++] = recs->len;
    return 0;
}

/* Assembles what to queue, in line order, and what each file keeps. */
static int assemble(replay *r, const sr_emit *emit, const char *ok, sr_buf *recs, size_t **ends,
                    size_t *nrec, sr_buf *kept, char *changed) {
    size_t cap = 0;
    for (size_t i = 0; i < r->nlines; i++) {
        const dl_line *ln = &r->lines[i];
        size_t before = *nrec;
        if (ln->kind == LINE_RECORD || ln->kind == LINE_EVENT) {
            for (size_t k = 0; ln->kind == LINE_EVENT && k < emit->nrecs; k++) {
                const sr_emit_rec *er = &emit->recs[k];
                if (er->ev != ln->cand || er->integ != r->integ)
                    continue;
                if (sr_buf_append(recs, emit->data.data + er->off, er->len) != 0 ||
                    end_record(recs, ends, nrec, &cap) != 0)
                    return -1;
            }
            if (ln->kind == LINE_RECORD &&
                (put_record(ln, recs) != 0 || end_record(recs, ends, nrec, &cap) != 0))
                return -1;
        }
        if (*nrec > before) {
            changed[ln->file] = 1;
            r->res->reencoded += ln->kind == LINE_EVENT;
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

static int replay_files(void *ud, const char *const *paths, size_t nfiles) {
    replay *r = ud;
    sr_buf *kept = calloc(nfiles, sizeof *kept), recs = SR_BUF_INIT;
    char *changed = calloc(nfiles, 1), *ok = NULL;
    size_t *ends = NULL, nrec = 0;
    const char **ptrs = NULL;
    uint32_t *lens = NULL;
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
    if (!(ok = calloc(r->ncand ? r->ncand : 1, 1)))
        goto oom;
    if (r->ncand && run_events(r, &arena, &emit, ok) != 0)
        goto done;
    if (assemble(r, &emit, ok, &recs, &ends, &nrec, kept, changed) != 0)
        goto oom;
    if (nrec == 0) {
        rc = 0;
        goto done;
    }
    ptrs = malloc(nrec * sizeof *ptrs);
    lens = malloc(nrec * sizeof *lens);
    if (!ptrs || !lens)
        goto oom;
    for (size_t i = 0, start = 0; i < nrec; start = ends[i], i++) {
        ptrs[i] = recs.data + start;
        lens[i] = (uint32_t)(ends[i] - start);
    }
    /* Queued first: only then may the lines leave the files. */
    if (sr_delivery_enqueue_many(r->d, r->integ, ptrs, lens, NULL, NULL, nrec, r->err, r->errlen) !=
        0)
        goto done;
    r->res->replayed = nrec;
    for (size_t i = 0; i < nfiles; i++) {
        if (!changed[i] || write_kept(paths[i], &kept[i], i == nfiles - 1, r->err, r->errlen) == 0)
            continue;
        sr_error("deadletter",
                 "integration '%s': %zu record(s) replayed, but %s; its lines will be replayed "
                 "again by the next replay",
                 sr_delivery_name(r->d, r->integ), nrec, r->err);
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
    free(ends);
    free(ptrs);
    free(lens);
    free(r->lines);
    r->lines = NULL;
    sr_buf_free(&recs);
    sr_emit_free(&emit);
    sr_arena_free(&arena);
    return rc;
}

int sr_deadletter_replay(sr_deadletter *dl, sr_delivery *d, sr_lua_host *host, size_t integ,
                         const sr_replay_filter *f, sr_replay_result *out, char *err,
                         size_t errlen) {
    replay r = {
        .d = d, .host = host, .integ = integ, .f = f, .res = out, .err = err, .errlen = errlen};
    memset(out, 0, sizeof *out);
    if (integ >= sr_delivery_count(d)) {
        snprintf(err, errlen, "no such integration");
        return -1;
    }
    if (f->reencode && !host) {
        snprintf(err, errlen, "events cannot be re-encoded here");
        return -1;
    }
    if (sr_deadletter_rewrite(dl, sr_delivery_name(d, integ), replay_files, &r) != 0)
        return -1;
    if (out->replayed) {
        sr_info("deadletter",
                "integration '%s': %llu dead-lettered record(s) replayed (%llu re-encoded) from "
                "%llu file(s)",
                sr_delivery_name(d, integ), (unsigned long long)out->replayed,
                (unsigned long long)out->reencoded, (unsigned long long)out->files);
        sr_delivery_kick(d);
    }
    return 0;
}
