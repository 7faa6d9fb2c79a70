/* deadletter_replay.c - queue matching dead-lettered records again, then
 * take them out of the file. */
#include "deadletter_replay.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "json.h"
#include "log.h"

typedef struct replay {
    sr_delivery *d;
    size_t integ;
    const sr_replay_filter *f;
    sr_replay_result *res;
    char *err;
    size_t errlen;
} replay;

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
    if (f->stage && (string_member(line, n, "stage", tmp) != 0 || strcmp(tmp->data, f->stage)))
        return 0;
    if (f->reason && (string_member(line, n, "reason", tmp) != 0 || !strstr(tmp->data, f->reason)))
        return 0;
    if (f->since || f->until) {
        if (string_member(line, n, "time", tmp) != 0)
            return 0;
        if ((f->since && strcmp(tmp->data, f->since) < 0) ||
            (f->until && strcmp(tmp->data, f->until) >= 0))
            return 0;
    }
    return 1;
}

/* Appends the line's record as it was queued: JSON as is, a string
 * unescaped. Returns 0, 1 when the line holds no record, -1 when out of
 * memory. */
static int take_record(const char *line, size_t n, sr_buf *recs) {
    sr_json_member m;
    if (!sr_json_object_get(line, n, "record", 6, &m) || m.type == SR_JSON_NULL)
        return 1;
    if (m.type == SR_JSON_STRING)
        return sr_json_unescape(line + m.val_off, m.val_len, 1, recs) == 0 ? 0 : -1;
    return sr_buf_append(recs, line + m.val_off, m.val_len);
}

static int write_kept(const char *path, const sr_buf *kept, char *err, size_t errlen) {
    char tmp[4200];
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

static int replay_file(void *ud, const char *path) {
    replay *r = ud;
    sr_buf text = SR_BUF_INIT, kept = SR_BUF_INIT, recs = SR_BUF_INIT, tmp = SR_BUF_INIT;
    size_t *ends = NULL, nrec = 0, cap = 0;
    const char **ptrs = NULL;
    uint32_t *lens = NULL;
    int rc = -1;
    FILE *fp = fopen(path, "re");
    if (!fp) {
        if (errno == ENOENT)
            return 0; /* nothing dead-lettered */
        snprintf(r->err, r->errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, fp)) > 0)
        if (sr_buf_append(&text, chunk, got) != 0)
            goto oom;
    fclose(fp);
    fp = NULL;

    for (size_t at = 0; at < text.len;) {
        const char *line = text.data + at;
        const char *nl = memchr(line, '\n', text.len - at);
        size_t n = nl ? (size_t)(nl - line) : text.len - at;
        at += n + 1;
        int pick = n && sr_json_validate(line, n, 128, NULL) == 0 && matches(r->f, line, n, &tmp);
        if (pick) {
            int t = take_record(line, n, &recs);
            if (t < 0)
                goto oom;
            if (t == 0) {
                if (nrec == cap) {
                    cap = cap ? cap * 2 : 64;
                    size_t *e = realloc(ends, cap * sizeof *e);
                    if (!e)
                        goto oom;
                    ends = e;
                }
                ends[nrec++] = recs.len;
                continue;
            }
            r->res->events++;
        } else if (n) {
            r->res->kept++;
        }
        if (n && (sr_buf_append(&kept, line, n) != 0 || sr_buf_putc(&kept, '\n') != 0))
            goto oom;
    }
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
    /* Queued first: only then may the lines leave the file. */
    if (sr_delivery_enqueue_many(r->d, r->integ, ptrs, lens, nrec, r->err, r->errlen) != 0)
        goto done;
    r->res->replayed = nrec;
    if (write_kept(path, &kept, r->err, r->errlen) != 0) {
        sr_error("deadletter",
                 "integration '%s': %zu record(s) replayed, but %s; they will be "
                 "replayed again by the next replay",
                 sr_delivery_name(r->d, r->integ), nrec, r->err);
        rc = 0;
        goto done;
    }
    rc = 0;
    goto done;
oom:
    snprintf(r->err, r->errlen, "out of memory");
done:
    if (fp)
        fclose(fp);
    free(ends);
    free(ptrs);
    free(lens);
    sr_buf_free(&text);
    sr_buf_free(&kept);
    sr_buf_free(&recs);
    sr_buf_free(&tmp);
    return rc;
}

int sr_deadletter_replay(sr_deadletter *dl, sr_delivery *d, size_t integ, const sr_replay_filter *f,
                         sr_replay_result *out, char *err, size_t errlen) {
    replay r = {.d = d, .integ = integ, .f = f, .res = out, .err = err, .errlen = errlen};
    memset(out, 0, sizeof *out);
    if (integ >= sr_delivery_count(d)) {
        snprintf(err, errlen, "no such integration");
        return -1;
    }
    if (sr_deadletter_rewrite(dl, sr_delivery_name(d, integ), replay_file, &r) != 0)
        return -1;
    if (out->replayed) {
        sr_info("deadletter", "integration '%s': %llu dead-lettered record(s) replayed",
                sr_delivery_name(d, integ), (unsigned long long)out->replayed);
        sr_delivery_kick(d);
    }
    return 0;
}
