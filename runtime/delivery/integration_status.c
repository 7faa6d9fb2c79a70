/* integration_status.c - Sysdig statuses, their history, and the state file. */
#include "integration_status.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "json.h"
#include "log.h"

static const char *const names[] = {"Not Connected", "Connected", "Warning", "Error"};

const char *sr_status_name(sr_status s) {
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "?";
}

static int parse_status(const char *p, size_t n, sr_status *out) {
    for (int i = 0; i < 4; i++)
        if (strlen(names[i]) == n && memcmp(names[i], p, n) == 0) {
            *out = (sr_status)i;
            return 0;
        }
    return -1;
}

const sr_status_change *sr_status_history_at(const sr_status_history *h, size_t i) {
    return &h->ring[(h->start + i) % SR_STATUS_HISTORY_MAX];
}

static void history_push(sr_status_history *h, const sr_status_change *c) {
    if (h->n < SR_STATUS_HISTORY_MAX) {
        h->ring[(h->start + h->n) % SR_STATUS_HISTORY_MAX] = *c;
        h->n++;
    } else {
        h->ring[h->start] = *c;
        h->start = (h->start + 1) % SR_STATUS_HISTORY_MAX;
    }
}

/* ---- persistence --------------------------------------------------------- */

static void render(const sr_status_state *s, sr_buf *b) {
    sr_buf_printf(b,
                  "{\"version\":1,\"status\":\"%s\",\"since_ms\":%lld,\"last_retry_ms\":%lld,"
                  "\"last_reject_ms\":%lld,\"history\":[",
                  sr_status_name(s->status), (long long)s->since_ms, (long long)s->last_retry_ms,
                  (long long)s->last_reject_ms);
    for (size_t i = 0; i < s->history.n; i++) {
        const sr_status_change *c = sr_status_history_at(&s->history, i);
        sr_buf_printf(b,
                      "%s{\"time_ms\":%lld,\"from\":\"%s\",\"to\":\"%s\",\"reason\":", i ? "," : "",
                      (long long)c->time_ms, sr_status_name(c->from), sr_status_name(c->to));
        sr_buf_json_string(b, c->reason, strlen(c->reason));
        sr_buf_putc(b, '}');
    }
    sr_buf_puts(b, "]}\n");
}

static void save(const sr_status_state *s, const char *name) {
    if (!s->path)
        return;
    sr_buf b = SR_BUF_INIT;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", s->path);
    render(s, &b);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    int ok = fd >= 0 && b.data && write(fd, b.data, b.len) == (ssize_t)b.len && fsync(fd) == 0;
    if (fd >= 0 && close(fd) != 0)
        ok = 0;
    if (ok && rename(tmp, s->path) != 0)
        ok = 0;
    if (!ok) {
        sr_warn("status", "integration '%s': cannot save its status to %s: %s", name, s->path,
                strerror(errno));
        unlink(tmp);
    }
    sr_buf_free(&b);
}

static int member_int(const char *obj, size_t n, const char *key, int64_t *out) {
    sr_json_member m;
    if (!sr_json_object_get(obj, n, key, strlen(key), &m) || m.type != SR_JSON_NUMBER)
        return -1;
    return sr_json_to_int64(obj + m.val_off, m.val_len, out);
}

static int member_status(const char *obj, size_t n, const char *key, sr_status *out) {
    sr_json_member m;
    if (!sr_json_object_get(obj, n, key, strlen(key), &m) || m.type != SR_JSON_STRING ||
        m.val_len < 2)
        return -1;
    return parse_status(obj + m.val_off + 1, m.val_len - 2, out);
}

static int parse_change(const char *obj, size_t n, sr_status_change *c) {
    sr_json_member m;
    memset(c, 0, sizeof *c);
    if (member_int(obj, n, "time_ms", &c->time_ms) != 0 ||
        member_status(obj, n, "from", &c->from) != 0 || member_status(obj, n, "to", &c->to) != 0)
        return -1;
    if (sr_json_object_get(obj, n, "reason", 6, &m) && m.type == SR_JSON_STRING) {
        sr_buf r = SR_BUF_INIT;
        if (sr_json_unescape(obj + m.val_off, m.val_len, 1, &r) == 0 && r.data)
            snprintf(c->reason, sizeof c->reason, "%.*s", (int)r.len, r.data);
        sr_buf_free(&r);
    }
    return 0;
}

static int load(sr_status_state *s, const char *text, size_t n) {
    sr_json_member m;
    if (sr_json_validate(text, n, 16, NULL) != 0)
        return -1;
    size_t at = 0;
    while (at < n && text[at] != '{')
        at++;
    const char *obj = text + at;
    n -= at;
    if (member_status(obj, n, "status", &s->status) != 0 ||
        member_int(obj, n, "since_ms", &s->since_ms) != 0)
        return -1;
    member_int(obj, n, "last_retry_ms", &s->last_retry_ms);
    member_int(obj, n, "last_reject_ms", &s->last_reject_ms);
    if (sr_json_object_get(obj, n, "history", 7, &m) && m.type == SR_JSON_ARRAY) {
        const char *arr = obj + m.val_off;
        size_t pos = 0;
        sr_json_member el;
        while (sr_json_array_next(arr, m.val_len, &pos, &el)) {
            sr_status_change c;
            if (el.type == SR_JSON_OBJECT && parse_change(arr + el.val_off, el.val_len, &c) == 0)
                history_push(&s->history, &c);
        }
    }
    return 0;
}

int sr_status_init(sr_status_state *s, const char *path, const char *name, int64_t window_ms) {
    memset(s, 0, sizeof *s);
    s->status = SR_STATUS_NOT_CONNECTED;
    s->window_ms = window_ms;
    struct timespec now; /* configured now, unless the state file knows better */
    clock_gettime(CLOCK_REALTIME, &now);
    s->since_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    if (!path)
        return 0;
    if (!(s->path = strdup(path)))
        return -1;
    FILE *f = fopen(path, "re");
    if (!f)
        return 0; /* first start */
    sr_buf b = SR_BUF_INIT;
    char chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        sr_buf_append(&b, chunk, got);
    fclose(f);
    sr_status_state loaded;
    memset(&loaded, 0, sizeof loaded);
    if (b.data && load(&loaded, b.data, b.len) == 0) {
        loaded.path = s->path;
        loaded.window_ms = s->window_ms;
        *s = loaded;
    } else {
        sr_warn("status", "integration '%s': %s is damaged; starting as Not Connected", name, path);
    }
    sr_buf_free(&b);
    return 0;
}

void sr_status_free(sr_status_state *s) {
    free(s->path);
    s->path = NULL;
}

int sr_status_set(sr_status_state *s, const char *name, sr_status to, const char *reason,
                  int64_t now_ms) {
    if (s->status == to)
        return 0;
    sr_status_change c = {.time_ms = now_ms, .from = s->status, .to = to};
    snprintf(c.reason, sizeof c.reason, "%s", reason ? reason : "");
    history_push(&s->history, &c);
    sr_log(to == SR_STATUS_ERROR ? SR_LOG_ERROR : SR_LOG_INFO, "delivery",
           "integration '%s': status %s -> %s%s%s", name, sr_status_name(s->status),
           sr_status_name(to), c.reason[0] ? ": " : "", c.reason);
    s->status = to;
    s->since_ms = now_ms;
    save(s, name);
    return 1;
}

void sr_status_note_retry(sr_status_state *s, int64_t now_ms) { s->last_retry_ms = now_ms; }

/* The newest failed attempt or rejection, if it is within the window. */
static int64_t recent_issue(const sr_status_state *s, int64_t now_ms) {
    int64_t last = s->last_retry_ms > s->last_reject_ms ? s->last_retry_ms : s->last_reject_ms;
    return last && now_ms - last < s->window_ms ? last : 0;
}

void sr_status_window_text(int64_t ms, char *out, size_t outlen) {
    if (ms % 3600000 == 0)
        snprintf(out, outlen, "%lldh", (long long)(ms / 3600000));
    else if (ms % 60000 == 0)
        snprintf(out, outlen, "%lldm", (long long)(ms / 60000));
    else if (ms % 1000 == 0)
        snprintf(out, outlen, "%llds", (long long)(ms / 1000));
    else
        snprintf(out, outlen, "%lldms", (long long)ms);
}

void sr_status_delivered(sr_status_state *s, const char *name, int needed_retry, int64_t now_ms) {
    char win[32], why[200];
    sr_status_window_text(s->window_ms, win, sizeof win);
    if (s->status == SR_STATUS_ERROR) {
        snprintf(why, sizeof why,
                 "delivering again after the Error; Connected after %s with no failed attempt "
                 "or rejection",
                 win);
        sr_status_set(s, name, SR_STATUS_WARNING, why, now_ms);
    } else if (needed_retry) {
        sr_status_set(s, name, SR_STATUS_WARNING, "delivered after a retry", now_ms);
    } else if (recent_issue(s, now_ms)) {
        snprintf(why, sizeof why, "delivered, with a failed attempt or rejection in the last %s",
                 win);
        sr_status_set(s, name, SR_STATUS_WARNING, why, now_ms);
    } else {
        sr_status_set(s, name, SR_STATUS_CONNECTED, "delivered", now_ms);
    }
}

int sr_status_rejected(sr_status_state *s, const char *name, sr_status to, const char *reason,
                       int64_t now_ms) {
    s->last_reject_ms = now_ms;
    if (s->status == SR_STATUS_ERROR && to != SR_STATUS_ERROR)
        to = SR_STATUS_ERROR; /* only a delivery leaves Error */
    if (sr_status_set(s, name, to, reason, now_ms)) {
        s->last_note_ms = now_ms;
        return 1;
    }
    if (s->last_note_ms && now_ms - s->last_note_ms < SR_STATUS_NOTE_MS)
        return 0;
    /* The status stays, but the history still says why it is what it is. */
    sr_status_change c = {.time_ms = now_ms, .from = s->status, .to = s->status};
    snprintf(c.reason, sizeof c.reason, "%s", reason ? reason : "");
    history_push(&s->history, &c);
    s->last_note_ms = now_ms;
    save(s, name);
    return 1;
}

void sr_status_settle(sr_status_state *s, const char *name, int64_t now_ms) {
    char win[32], why[160];
    if (s->status != SR_STATUS_WARNING || recent_issue(s, now_ms))
        return; /* Not Connected and Error move only on a delivery */
    sr_status_window_text(s->window_ms, win, sizeof win);
    snprintf(why, sizeof why, "no failed attempt or rejection in the last %s", win);
    sr_status_set(s, name, SR_STATUS_CONNECTED, why, now_ms);
}
