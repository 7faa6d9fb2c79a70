/* input_tcp.c - NDJSON over TCP/TLS into the pipeline.
 *
 * A connection's bytes flow: socket (the stream's read buffer) -> `ready`
 * (complete lines, not yet submitted; copied there once, in runs) ->
 * submit(). Only a line a read ends inside waits in `line` until its
 * newline comes. `ready` goes at once while nothing is in flight; while
 * submits are, it grows into a chunk of up to the chunk target,
 * which goes when the next reply frees a slot (or when full, or at EOF):
 * fewer, larger submits, so fewer thread wake-ups per event under load,
 * and no added latency for a trickle. conn_pace() is the one place that
 * decides, after anything happened, whether to submit, read, pause or
 * close. A connection is freed once its handles are closed and every
 * submit has called back, so it may outlive its socket and even the input
 * (then it is an orphan: `in` is NULL). */
#include "input_tcp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "listener.h"
#include "log.h"
#include "log_budget.h"
#include "tls_stream.h"

#define COMPONENT         "input.tcp"
#define DEFAULT_BACKOFF_S 1
#define BUSY_POLL_MS      10 /* how often a connection paused by a full queue looks again */
#define HTTP_HEAD_MAX     8  /* "OPTIONS ", the longest method looked for */
#define HTTP_LOG_MAX      10 /* cross-protocol refusals logged per minute */
#define HTTP_LOG_WINDOW   60000

typedef struct tcp_conn tcp_conn;

/* A chunk the pipeline refused (503) and handed back: sent again, before
 * anything newer, once the pause is over. */
typedef struct refused {
    char *data;
    size_t len;
    uint32_t first_line, nlines;
} refused;

struct sr_input_tcp {
    uv_loop_t *loop;
    sr_listener *listener;
    sr_conn_guard *guard;
    int port;
    sr_tls_ctx *tls;
    sr_ingest ingest;
    size_t max_line;
    uint64_t idle_timeout_ms;
    uint64_t min_progress_bytes, progress_interval_ms;
    tcp_conn *conns;
    sr_input_tcp_stats stats;
    sr_log_budget http_log;
    void (*stop_cb)(void *ud);
    void *stop_ud;
};

struct tcp_conn {
    sr_input_tcp *in; /* NULL once the input stopped */
    tcp_conn *prev, *next;
    sr_tls_stream *stream;
    sr_conn_slot slot;       /* in the input's guard until closed */
    uv_timer_t timer;        /* idle timeout while reading, back-off after a 503 */
    uv_timer_t progress;     /* every progress_interval_ms: is the unfinished line moving? */
    uint64_t progress_bytes; /* counters.bytes at the last progress check */
    uint32_t progress_line;  /* the line unfinished at the last check; 0: none */
    sr_buf line;             /* the unfinished last line */
    sr_buf ready;            /* complete lines, not yet submitted */
    uint32_t ready_first;    /* number of the first line in `ready` (next_line if empty) */
    uint32_t next_line;      /* number of the line `line` accumulates */
    int discarding;          /* inside an oversize line: drop up to its newline */
    unsigned inflight;
    refused again[SR_INPUT_TCP_MAX_INFLIGHT]; /* refused chunks to send again, oldest first */
    unsigned nagain;
    int backoff;     /* paused after a 503 */
    int paused_busy; /* paused because ingest is busy (a queue is full) */
    int eof;         /* the peer is done: submit what is left, then close */
    int closing;
    int open_handles;
    sr_input_tcp_counters counters;
    char head[HTTP_HEAD_MAX]; /* the connection's first bytes, until judged */
    size_t head_len;
    int head_judged;
    char origin[80]; /* "tcp:<peer>" */
};

/* One submit, until the pipeline answers. */
typedef struct chunk {
    tcp_conn *conn;
    uint32_t first_line, nlines;
} chunk;

static void conn_close(tcp_conn *c);
static void conn_pace(tcp_conn *c, int answered);

static const char *conn_peer(const tcp_conn *c) { return c->origin + 4; }

/* ---- Lifetime ---------------------------------------------------------- */

static void conn_unlink(tcp_conn *c) {
    sr_input_tcp *in = c->in;
    if (!in)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        in->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    in->stats.connections_open--;
    c->in = NULL;
}

static void conn_maybe_free(tcp_conn *c) {
    if (!c->closing || c->open_handles > 0 || c->inflight > 0)
        return;
    sr_debug(COMPONENT, "%s: done after %llu bytes, %llu events accepted, %llu rejected",
             conn_peer(c), (unsigned long long)c->counters.bytes,
             (unsigned long long)c->counters.accepted, (unsigned long long)c->counters.rejected);
    conn_unlink(c);
    sr_buf_free(&c->line);
    sr_buf_free(&c->ready);
    free(c);
}

static void on_conn_timer_closed(uv_handle_t *handle) {
    tcp_conn *c = handle->data;
    c->open_handles--;
    conn_maybe_free(c);
}

static void on_conn_stream_closed(void *ud) {
    tcp_conn *c = ud;
    c->open_handles--;
    conn_maybe_free(c);
}

static void conn_close(tcp_conn *c) {
    if (c->closing)
        return;
    c->closing = 1;
    for (unsigned i = 0; i < c->nagain; i++) {
        const refused *r = &c->again[i];
        sr_error(COMPONENT,
                 "%s: lines %u-%u lost: the connection closed before they could be "
                 "sent again",
                 conn_peer(c), r->first_line, r->first_line + r->nlines - 1);
        free(r->data);
    }
    c->nagain = 0;
    sr_buf_free(&c->line);
    sr_buf_free(&c->ready);
    if (c->in)
        sr_conn_guard_leave(c->in->guard, &c->slot);
    c->open_handles = 3;
    uv_close((uv_handle_t *)&c->timer, on_conn_timer_closed);
    uv_close((uv_handle_t *)&c->progress, on_conn_timer_closed);
    sr_tls_stream_close(c->stream, on_conn_stream_closed, c);
}

/* ---- Framing ----------------------------------------------------------- */

static void conn_oversize(tcp_conn *c) {
    c->counters.oversize_lines++;
    if (c->in)
        c->in->stats.totals.oversize_lines++;
    sr_warn(COMPONENT, "%s: line %u is longer than %zu bytes, discarded", conn_peer(c),
            c->next_line, c->in ? c->in->max_line : 0);
    sr_buf_free(&c->line);
    c->discarding = 1;
}

/* 1 if `n` more bytes keep the current line (`line` so far) within
 * max_line; else it is discarded up to its newline and this is 0. */
static int conn_line_fits(tcp_conn *c, size_t n) {
    if (!c->discarding && n > c->in->max_line - c->line.len)
        conn_oversize(c);
    return !c->discarding;
}

/* Keeps `n` bytes of an unfinished line in `line`. */
static int conn_take_partial(tcp_conn *c, const char *p, size_t n) {
    return conn_line_fits(c, n) ? sr_buf_append(&c->line, p, n) : 0;
}

size_t sr_input_tcp_chunk_target(const sr_input_tcp *in) {
    uint64_t open = in->stats.connections_open ? in->stats.connections_open : 1;
    uint64_t share = SR_INPUT_TCP_GATHER_BUDGET / open;
    return share > SR_INPUT_TCP_CHUNK_BYTES       ? SR_INPUT_TCP_CHUNK_BYTES
           : share < SR_INPUT_TCP_CHUNK_MIN_BYTES ? SR_INPUT_TCP_CHUNK_MIN_BYTES
                                                  : (size_t)share;
}

/* An orphan (its input stopped) only drains what it holds. */
static size_t conn_chunk_target(const tcp_conn *c) {
    return c->in ? sr_input_tcp_chunk_target(c->in) : SR_INPUT_TCP_CHUNK_MIN_BYTES;
}

/* Room in `ready` for everything one read can add, so the appends below
 * never move it. While submits are in flight `ready` is meant to grow to a
 * whole chunk: a fresh buffer is sized for one at once. */
static int conn_reserve(tcp_conn *c, size_t len) {
    size_t want = c->line.len + len;
    if (c->ready.cap == 0 && c->inflight > 0)
        want += conn_chunk_target(c);
    return sr_buf_reserve(&c->ready, want);
}

/* Cuts received bytes into lines. Complete lines are copied once, straight
 * into `ready`, in runs as long as the read allows; only the unfinished tail
 * waits in `line`. A discarded line stays as an empty one (the pipeline
 * skips blank lines), so ready_first + offset keeps naming the stream's
 * lines. */
static int conn_take(tcp_conn *c, const char *p, size_t len) {
    const char *end = p + len, *nl = memchr(p, '\n', len);
    if (!nl)
        return conn_take_partial(c, p, len);
    if (conn_reserve(c, len) != 0)
        return -1;
    if (c->line.len > 0 || c->discarding) {
        /* The first line began in an earlier read: `line` and its end. */
        size_t n = (size_t)(nl - p);
        if (conn_line_fits(c, n) && (sr_buf_append(&c->ready, c->line.data, c->line.len) != 0 ||
                                     sr_buf_append(&c->ready, p, n) != 0))
            return -1;
        if (sr_buf_putc(&c->ready, '\n') != 0)
            return -1;
        sr_buf_reset(&c->line);
        c->discarding = 0;
        c->next_line++;
        p = nl + 1;
        nl = memchr(p, '\n', (size_t)(end - p));
    }
    const char *run = p; /* start of the whole lines not yet copied */
    for (; nl; nl = memchr(p, '\n', (size_t)(end - p))) {
        if (!conn_line_fits(c, (size_t)(nl - p))) {
            if (sr_buf_append(&c->ready, run, (size_t)(p - run)) != 0 ||
                sr_buf_putc(&c->ready, '\n') != 0)
                return -1;
            c->discarding = 0;
            run = nl + 1;
        }
        c->next_line++;
        p = nl + 1;
    }
    if (sr_buf_append(&c->ready, run, (size_t)(p - run)) != 0)
        return -1;
    return conn_take_partial(c, p, (size_t)(end - p));
}

/* At EOF the last line may lack its newline; it is complete all the same. */
static int conn_take_tail(tcp_conn *c) {
    if (c->discarding || c->line.len == 0)
        return 0;
    if (sr_buf_append(&c->ready, c->line.data, c->line.len) != 0)
        return -1;
    sr_buf_reset(&c->line);
    c->next_line++;
    return 0;
}

/* ---- Submitting -------------------------------------------------------- */

static void count_reply(tcp_conn *c, const sr_ingest_reply *r) {
    sr_input_tcp_counters *totals = c->in ? &c->in->stats.totals : NULL;
    c->counters.accepted += r->accepted;
    c->counters.rejected += r->rejected;
    if (totals) {
        totals->accepted += r->accepted;
        totals->rejected += r->rejected;
    }
    if (r->status == 503) {
        c->counters.refused_chunks++;
        if (totals)
            totals->refused_chunks++;
    }
}

static void on_conn_timer(uv_timer_t *timer);

/* Keeps a refused chunk (in line order: replies to chunks sent again may
 * come after newer refusals). */
static void conn_keep_refused(tcp_conn *c, const chunk *ch, char *data, size_t len) {
    unsigned i = c->nagain;
    if (i == SR_INPUT_TCP_MAX_INFLIGHT) { /* cannot happen: one slot per submit */
        free(data);
        return;
    }
    while (i > 0 && c->again[i - 1].first_line > ch->first_line) {
        c->again[i] = c->again[i - 1];
        i--;
    }
    c->again[i] = (refused){data, len, ch->first_line, ch->nlines};
    c->nagain++;
}

static void conn_start_backoff(tcp_conn *c, const chunk *ch, const sr_ingest_reply *r) {
    long s = r->retry_after_s > 0 ? r->retry_after_s : DEFAULT_BACKOFF_S;
    if (r->data && !c->closing) {
        sr_warn(COMPONENT,
                "%s: gateway busy, lines %u-%u refused; pausing reads for %ld s, "
                "then sending them again",
                conn_peer(c), ch->first_line, ch->first_line + ch->nlines - 1, s);
        conn_keep_refused(c, ch, r->data, r->data_len);
    } else {
        sr_error(COMPONENT,
                 "%s: gateway busy, lines %u-%u refused and lost; pausing reads for %ld s",
                 conn_peer(c), ch->first_line, ch->first_line + ch->nlines - 1, s);
        free(r->data);
    }
    c->backoff = 1;
    if (!c->closing) {
        sr_tls_stream_read_stop(c->stream);
        uv_timer_start(&c->timer, on_conn_timer, (uint64_t)s * 1000, 0);
    }
}

static void on_reply(void *ud, const sr_ingest_reply *r) {
    chunk *ch = ud;
    tcp_conn *c = ch->conn;
    c->inflight--;
    count_reply(c, r);
    if (r->status == 503) {
        conn_start_backoff(c, ch, r);
    } else if (r->rejected) {
        sr_warn(COMPONENT, "%s: %u of the events in lines %u-%u rejected: %.*s", conn_peer(c),
                r->rejected, ch->first_line, ch->first_line + ch->nlines - 1,
                (int)(r->body_len > 512 ? 512 : r->body_len), r->body ? r->body : "");
    }
    free(ch);
    if (c->closing)
        conn_maybe_free(c);
    else
        conn_pace(c, 1);
}

/* Whether `ready` should go now. At once when nothing is in flight, so a
 * trickle is not held back; while submits are in flight it grows into a
 * chunk, which goes when full, at EOF, or when a reply frees a slot (so
 * nothing waits in `ready` for longer than one submit takes); after a busy
 * pause the lines held back go first. */
static int conn_due(const tcp_conn *c, int answered) {
    return c->inflight == 0 || answered || c->eof || c->paused_busy ||
           c->ready.len >= conn_chunk_target(c);
}

/* True (and reading paused, looking again shortly) while a queue behind
 * the pipeline is full: the lines stay here, TCP flow control slows the
 * sender. */
static int conn_wait_busy(tcp_conn *c) {
    const sr_ingest *ing = &c->in->ingest;
    if (ing->busy && ing->busy(ing->ctx) > 0) {
        if (!c->paused_busy)
            sr_info(COMPONENT, "%s: a queue is full; pausing reads", conn_peer(c));
        c->paused_busy = 1;
        c->backoff = 1;
        sr_tls_stream_read_stop(c->stream);
        uv_timer_start(&c->timer, on_conn_timer, BUSY_POLL_MS, 0);
        return 1;
    }
    if (c->paused_busy)
        sr_info(COMPONENT, "%s: reading again", conn_peer(c));
    c->paused_busy = 0;
    return 0;
}

/* Hands one chunk (taking `data`) to the pipeline: 0, or -1 if the
 * connection must close (out of memory, pipeline shutting down). */
static int conn_submit(tcp_conn *c, char *data, size_t len, uint32_t first_line, uint32_t nlines) {
    chunk *ch = malloc(sizeof *ch);
    if (!ch) {
        free(data);
        return -1;
    }
    ch->conn = c;
    ch->first_line = first_line;
    ch->nlines = nlines;
    const sr_ingest *ingest = &c->in->ingest;
    c->inflight++;
    if (ingest->submit(ingest->ctx, data, len, SR_BODY_NDJSON, first_line, c->origin, on_reply,
                       ch) != 0) {
        c->inflight--;
        free(ch);
        return -1;
    }
    return 0;
}

/* Submits one chunk when the window allows: a refused one first (nothing
 * newer goes before it), else `ready` when it is due. 0, or -1 if the
 * connection must close. */
static int conn_flush(tcp_conn *c, int answered) {
    if (c->backoff || c->inflight >= SR_INPUT_TCP_MAX_INFLIGHT || !c->in)
        return 0;
    if (c->nagain == 0 && (c->ready.len == 0 || !conn_due(c, answered)))
        return 0;
    if (conn_wait_busy(c))
        return 0;
    if (c->nagain > 0) {
        refused r = c->again[0];
        memmove(c->again, c->again + 1, --c->nagain * sizeof *c->again);
        sr_info(COMPONENT, "%s: sending lines %u-%u again", conn_peer(c), r.first_line,
                r.first_line + r.nlines - 1);
        return conn_submit(c, r.data, r.len, r.first_line, r.nlines);
    }
    uint32_t first = c->ready_first, nlines = c->next_line - c->ready_first;
    size_t len;
    char *data = sr_buf_steal(&c->ready, &len);
    if (!data)
        return -1;
    c->ready_first = c->next_line;
    return conn_submit(c, data, len, first, nlines);
}

/* ---- Pacing ------------------------------------------------------------ */

/* Idle for the guard: nothing of the sender's is in progress here. */
static void conn_update_idle(tcp_conn *c) {
    int idle = c->line.len == 0 && !c->discarding && c->ready.len == 0 && c->inflight == 0 &&
               c->nagain == 0;
    if (idle != c->slot.idle)
        sr_conn_guard_set_idle(c->in->guard, &c->slot, idle);
}

/* `answered`: a reply has just freed a slot in the window. */
static void conn_pace(tcp_conn *c, int answered) {
    if (c->closing)
        return;
    if (c->in)
        conn_update_idle(c);
    if (conn_flush(c, answered) != 0) {
        conn_close(c);
        return;
    }
    if (c->closing) /* the pipeline may answer inside submit() */
        return;
    if (c->eof) {
        if (c->ready.len == 0 && c->nagain == 0)
            conn_close(c); /* submits in flight keep the connection alive */
        return;
    }
    /* Lines held back (busy) or a full window with a whole chunk waiting:
     * stop reading, and let TCP flow control slow the sender down. */
    if (c->backoff || c->paused_busy ||
        (c->inflight >= SR_INPUT_TCP_MAX_INFLIGHT && c->ready.len >= conn_chunk_target(c))) {
        sr_tls_stream_read_stop(c->stream);
        if (!c->backoff)
            uv_timer_stop(&c->timer); /* not idle: we are the ones waiting */
        return;
    }
    if (sr_tls_stream_read_start(c->stream) < 0) {
        conn_close(c);
        return;
    }
    if (c->in->idle_timeout_ms)
        uv_timer_start(&c->timer, on_conn_timer, c->in->idle_timeout_ms, 0);
}

static void on_conn_timer(uv_timer_t *timer) {
    tcp_conn *c = timer->data;
    if (c->backoff) {
        c->backoff = 0;
        conn_pace(c, 0);
        return;
    }
    sr_debug(COMPONENT, "%s: idle for %llu ms, closing", conn_peer(c),
             (unsigned long long)c->in->idle_timeout_ms);
    conn_close(c);
}

/* 1: `head` begins with an HTTP method and a space; 0: it cannot; -1:
 * too few bytes to tell. */
static int http_method_start(const char *head, size_t n) {
    static const char *const methods[] = {"GET ",   "POST ",    "PUT ",     "HEAD ", "DELETE ",
                                          "PATCH ", "OPTIONS ", "CONNECT ", "TRACE "};
    int maybe = 0;
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        size_t m = strlen(methods[i]);
        if (memcmp(head, methods[i], n < m ? n : m) != 0)
            continue;
        if (n >= m)
            return 1;
        maybe = 1;
    }
    return maybe ? -1 : 0;
}

/* Judges the connection on its first bytes; 1 when it was closed as an
 * HTTP request (see input_tcp.h). */
static int conn_refuse_http(tcp_conn *c, const char *data, size_t len) {
    if (c->head_judged)
        return 0;
    size_t n = len < HTTP_HEAD_MAX - c->head_len ? len : HTTP_HEAD_MAX - c->head_len;
    memcpy(c->head + c->head_len, data, n);
    c->head_len += n;
    int verdict = http_method_start(c->head, c->head_len);
    if (verdict < 0)
        return 0;
    c->head_judged = 1;
    if (verdict == 0)
        return 0;
    c->in->stats.http_refused++;
    int log =
        sr_log_budget_take(&c->in->http_log, uv_now(c->in->loop), HTTP_LOG_MAX, HTTP_LOG_WINDOW);
    if (log != SR_LOG_BUDGET_SPENT)
        sr_warn(COMPONENT, "%s: an HTTP request on the NDJSON port (a browser's post?): closed%s",
                conn_peer(c),
                log == SR_LOG_BUDGET_LAST ? "; further ones this minute are only counted" : "");
    conn_close(c);
    return 1;
}

static void conn_on_data(void *ud, const char *data, size_t len) {
    tcp_conn *c = ud;
    c->counters.bytes += len;
    c->in->stats.totals.bytes += len;
    if (conn_refuse_http(c, data, len))
        return;
    if (conn_take(c, data, len) != 0) {
        sr_error(COMPONENT, "%s: out of memory, closing", conn_peer(c));
        conn_close(c);
        return;
    }
    conn_pace(c, 0);
}

static void conn_on_end(void *ud, int status, const char *why) {
    tcp_conn *c = ud;
    if (status == UV_EPROTO)
        sr_warn(COMPONENT, "%s: %s", conn_peer(c), why);
    else if (status < 0)
        sr_debug(COMPONENT, "%s: %s", conn_peer(c), why);
    /* After an error the tail may be cut anywhere: only keep whole lines. */
    if (status == 0 && conn_take_tail(c) != 0) {
        conn_close(c);
        return;
    }
    c->eof = 1;
    uv_timer_stop(&c->timer); /* reads stop during a pause: no EOF arrives in one */
    conn_pace(c, 0);
}

/* ---- Listener ---------------------------------------------------------- */

static const sr_tls_stream_cbs conn_cbs = {conn_on_data, conn_on_end};

/* A line unfinished over a whole interval must have brought
 * min_progress_bytes in it; while reading is paused on our side the
 * sender cannot move, so nothing is judged then. */
static void on_progress_timer(uv_timer_t *timer) {
    tcp_conn *c = timer->data;
    if (c->closing || !c->in)
        return;
    int unfinished = c->line.len > 0 || c->discarding;
    int paused = c->backoff || c->paused_busy || c->eof;
    if (unfinished && !paused && c->progress_line == c->next_line &&
        c->counters.bytes - c->progress_bytes < c->in->min_progress_bytes) {
        c->in->stats.slow_closed++;
        sr_debug(COMPONENT, "%s: line %u made too little progress (%llu bytes in %llu ms), closing",
                 conn_peer(c), c->next_line,
                 (unsigned long long)(c->counters.bytes - c->progress_bytes),
                 (unsigned long long)c->in->progress_interval_ms);
        conn_close(c);
        return;
    }
    c->progress_bytes = c->counters.bytes;
    c->progress_line = unfinished && !paused ? c->next_line : 0;
}

static void input_sync_guard(sr_input_tcp *in) {
    sr_conn_guard_stats gs;
    sr_conn_guard_stats_get(in->guard, &gs);
    memcpy(in->stats.shed, gs.shed, sizeof in->stats.shed);
    in->stats.shed[SR_CONN_SHED_FD_DROPPED] = sr_listener_get_stats(in->listener)->fd_dropped;
    in->stats.peers = gs.peers;
}

static void conn_evict(sr_conn_slot *slot) {
    tcp_conn *c = (tcp_conn *)((char *)slot - offsetof(tcp_conn, slot));
    sr_debug(COMPONENT, "%s: idle, closed to make room", conn_peer(c));
    conn_close(c);
}

static void input_accept(void *ud, int fd, const char *peer_ip) {
    sr_input_tcp *in = ud;
    char err[128];
    tcp_conn *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return;
    }
    c->slot.evict = conn_evict;
    int admitted = sr_conn_guard_admit(in->guard, &c->slot, peer_ip) == 0;
    input_sync_guard(in);
    if (!admitted) {
        in->stats.connections_refused++;
        close(fd);
        free(c);
        return;
    }
    c->stream = sr_tls_stream_open(in->loop, fd, in->tls, &conn_cbs, c, err, sizeof err);
    if (!c->stream) {
        sr_warn(COMPONENT, "%s", err);
        sr_conn_guard_leave(in->guard, &c->slot);
        free(c);
        return;
    }
    c->in = in;
    c->ready_first = c->next_line = 1;
    snprintf(c->origin, sizeof c->origin, "tcp:%s", sr_tls_stream_peer(c->stream));
    uv_timer_init(in->loop, &c->timer);
    c->timer.data = c;
    uv_timer_init(in->loop, &c->progress);
    c->progress.data = c;
    if (in->min_progress_bytes && in->progress_interval_ms)
        uv_timer_start(&c->progress, on_progress_timer, in->progress_interval_ms,
                       in->progress_interval_ms);
    c->next = in->conns;
    if (c->next)
        c->next->prev = c;
    in->conns = c;
    in->stats.connections_total++;
    in->stats.connections_open++;
    sr_debug(COMPONENT, "%s: connected%s", conn_peer(c),
             sr_tls_stream_is_tls(c->stream) ? " (TLS)" : "");
    conn_pace(c, 0);
}

static int input_shed(void *ud) {
    sr_input_tcp *in = ud;
    int shed = sr_conn_guard_shed(in->guard);
    input_sync_guard(in);
    return shed;
}

static void input_free(sr_input_tcp *in) {
    sr_conn_guard_free(in->guard);
    sr_tls_ctx_free(in->tls);
    free(in);
}

static void on_listener_closed(void *ud) {
    sr_input_tcp *in = ud;
    if (in->stop_cb)
        in->stop_cb(in->stop_ud);
    input_free(in);
}

sr_input_tcp *sr_input_tcp_start(uv_loop_t *loop, const sr_input_conf *conf,
                                 const sr_ingest *ingest, char *err, size_t errlen) {
    static const sr_listener_cbs lcbs = {input_accept, input_shed};
    const char *host = conf->host ? conf->host : "127.0.0.1";
    sr_input_tcp *in = calloc(1, sizeof *in);
    if (!in || !(in->guard = sr_conn_guard_new(loop, COMPONENT, &conf->limits))) {
        snprintf(err, errlen, "out of memory");
        free(in);
        return NULL;
    }
    in->loop = loop;
    in->ingest = *ingest;
    in->max_line = conf->max_line_bytes ? (size_t)conf->max_line_bytes : SIZE_MAX;
    in->idle_timeout_ms = conf->idle_timeout_ms;
    in->min_progress_bytes = conf->min_progress_bytes;
    in->progress_interval_ms = conf->progress_interval_ms;
    if (conf->tls.cert_file && !(in->tls = sr_tls_ctx_new_server(&conf->tls, err, errlen)))
        goto fail;
    in->listener = sr_listener_new(loop, COMPONENT, host, conf->port, &lcbs, in, err, errlen);
    if (!in->listener)
        goto fail;
    in->port = sr_listener_port(in->listener);
    sr_info(COMPONENT, "listening on %s:%d%s", host, in->port, in->tls ? " (TLS)" : "");
    return in;
fail:
    input_free(in);
    return NULL;
}

sr_tls_ctx *sr_input_tcp_tls(const sr_input_tcp *in) { return in->tls; }

int sr_input_tcp_port(const sr_input_tcp *in) { return in->port; }

const sr_input_tcp_stats *sr_input_tcp_get_stats(const sr_input_tcp *in) { return &in->stats; }

void sr_input_tcp_foreach_conn(const sr_input_tcp *in,
                               void (*visit)(void *ud, const char *peer,
                                             const sr_input_tcp_counters *counters),
                               void *ud) {
    for (const tcp_conn *c = in->conns; c; c = c->next)
        if (!c->closing)
            visit(ud, conn_peer(c), &c->counters);
}

void sr_input_tcp_stop(sr_input_tcp *in, void (*cb)(void *ud), void *ud) {
    in->stop_cb = cb;
    in->stop_ud = ud;
    tcp_conn *next;
    for (tcp_conn *c = in->conns; c; c = next) {
        next = c->next;
        conn_close(c);
        conn_unlink(c); /* an orphan from now on */
    }
    input_sync_guard(in);
    sr_listener_close(in->listener, on_listener_closed, in);
}

void sr_input_tcp_close(sr_input_tcp *in) {
    if (in)
        sr_input_tcp_stop(in, NULL, NULL);
}
