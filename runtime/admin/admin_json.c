/* admin_json.c - integration objects for the admin API. */
#include "admin_json.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>
#include <time.h>

int sr_admin_json_time(sr_buf *out, int64_t ms) {
    if (ms <= 0)
        return sr_buf_puts(out, "null");
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    char stamp[64];
    if (!gmtime_r(&secs, &tm) || strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        return sr_buf_puts(out, "null");
    return sr_buf_printf(out, "\"%s.%03dZ\"", stamp, (int)(ms % 1000));
}

int sr_admin_json_text(sr_buf *out, const char *s) {
    if (!s)
        return sr_buf_puts(out, "null");
    sr_buf clean = SR_BUF_INIT;
    int rc = sr_admin_put_utf8(&clean, s, strlen(s));
    if (rc == 0)
        rc = sr_buf_json_string(out, clean.data ? clean.data : "", clean.len);
    sr_buf_free(&clean);
    return rc;
}

static int put_history(sr_buf *out, const sr_status_history *h) {
    int rc = sr_buf_puts(out, ",\"history\":[");
    for (size_t i = 0; h && i < h->n; i++) {
        const sr_status_change *c = sr_status_history_at(h, i);
        rc |= sr_buf_puts(out, i ? ",{\"time\":" : "{\"time\":");
        rc |= sr_admin_json_time(out, c->time_ms);
        rc |= sr_buf_printf(out,
                            ",\"from\":\"%s\",\"to\":\"%s\",\"reason\":", sr_status_name(c->from),
                            sr_status_name(c->to));
        /* The ring stores a fixed-size reason; never read past it. */
        char reason[sizeof c->reason + 1];
        memcpy(reason, c->reason, sizeof c->reason);
        reason[sizeof c->reason] = '\0';
        rc |= sr_admin_json_text(out, reason);
        rc |= sr_buf_putc(out, '}');
    }
    rc |= sr_buf_putc(out, ']');
    return rc ? -1 : 0;
}

int sr_admin_json_integration(sr_buf *out, const sr_admin_integration *ai, int with_history) {
    const sr_integration_stats *s = &ai->stats;
    int rc = sr_buf_puts(out, "{\"name\":");
    rc |= sr_admin_json_text(out, ai->name);
    rc |= sr_buf_puts(out, ",\"type\":");
    rc |= sr_admin_json_text(out, ai->type);
    rc |= sr_buf_printf(out, ",\"status\":\"%s\",\"since\":", sr_status_name(s->status));
    rc |= sr_admin_json_time(out, s->status_since_ms);
    rc |= sr_buf_printf(out,
                        ",\"inhibited\":%s,\"inhibited_until\":", s->inhibited ? "true" : "false");
    rc |= sr_admin_json_time(out, s->inhibited ? s->inhibited_until_ms : 0);
    rc |= sr_buf_puts(out, ",\"queue\":{\"type\":");
    rc |= sr_admin_json_text(out, s->queue_type ? s->queue_type : "memory");
    rc |= sr_buf_printf(
        out,
        ",\"events\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"limit_bytes\":%" PRIu64
        "},\"counters\":{\"received\":%" PRIu64 ",\"delivered\":%" PRIu64 ",\"retried\":%" PRIu64
        ",\"rejected\":%" PRIu64 ",\"dead_lettered\":%" PRIu64 ",\"dropped\":%" PRIu64
        ",\"attempts\":%" PRIu64 ",\"failed_attempts\":%" PRIu64 "},\"last_error\":",
        s->queued_events, s->queued_bytes, s->queue_limit_bytes, s->received, s->delivered,
        s->retried, s->rejected, s->dead_lettered, s->dropped, s->attempts, s->failed_attempts);
    /* last_error is a fixed array; an empty one means "none". */
    char err[sizeof s->last_error + 1];
    memcpy(err, s->last_error, sizeof s->last_error);
    err[sizeof s->last_error] = '\0';
    rc |= sr_admin_json_text(out, err[0] ? err : NULL);
    rc |= sr_buf_puts(out, ",\"last_latency_ms\":");
    if (s->attempts > 0)
        rc |= sr_buf_printf(
            out, "%.3f",
            isfinite(s->last_latency_ms) && s->last_latency_ms > 0 ? s->last_latency_ms : 0.0);
    else
        rc |= sr_buf_puts(out, "null");
    if (ai->extra_len)
        rc |= sr_buf_append(out, ai->extra, ai->extra_len);
    if (with_history)
        rc |= put_history(out, ai->history);
    rc |= sr_buf_putc(out, '}');
    return rc ? -1 : 0;
}

int sr_admin_json_integrations(sr_buf *out, const sr_admin_view *v) {
    int rc = sr_buf_putc(out, '[');
    for (size_t i = 0; i < v->nintegrations; i++) {
        if (i)
            rc |= sr_buf_putc(out, ',');
        rc |= sr_admin_json_integration(out, &v->integrations[i], 0);
    }
    rc |= sr_buf_putc(out, ']');
    return rc ? -1 : 0;
}

int sr_admin_json_scripts(sr_buf *out, const sr_admin_view *v) {
    int rc = sr_buf_puts(out, "{\"scripts\":[");
    for (size_t i = 0; i < v->nscripts; i++) {
        const sr_script_stat *s = &v->scripts[i];
        rc |= sr_buf_puts(out, i ? ",{\"script\":" : "{\"script\":");
        rc |= sr_admin_json_text(out, s->path);
        rc |= sr_buf_puts(out, ",\"integration\":");
        rc |= sr_admin_json_text(out, *s->integration ? s->integration : NULL);
        rc |= sr_buf_printf(out,
                            ",\"events\":%" PRIu64 ",\"dropped\":%" PRIu64 ",\"failed\":%" PRIu64
                            ",\"timed_out\":%" PRIu64 ",\"memory\":%" PRIu64
                            ",\"seconds\":%.6f,\"runaways\":%" PRIu64
                            ",\"disabled\":%s,\"disablings\":%" PRIu64 "}",
                            s->c[SR_SCRIPT_EVENTS], s->c[SR_SCRIPT_DROPPED], s->c[SR_SCRIPT_FAILED],
                            s->c[SR_SCRIPT_TIMED_OUT], s->c[SR_SCRIPT_MEMORY],
                            (double)s->c[SR_SCRIPT_TIME_NS] / 1e9, s->runaways,
                            s->disabled ? "true" : "false", s->disablings);
    }
    rc |= sr_buf_printf(out,
                        "],\"unknown_routes\":%" PRIu64 ",\"abandoned_states\":%" PRIu64
                        ",\"abandoned_bytes\":%" PRIu64 "}",
                        v->unknown_routes, v->abandoned_states, v->abandoned_bytes);
    return rc ? -1 : 0;
}

int sr_admin_json_kafka(sr_buf *out, const sr_admin_view *v) {
    const sr_input_kafka_stats *k = &v->kafka;
    int rc = sr_buf_printf(out,
                           "{\"paused\":%s,\"partitions_assigned\":%zu,\"messages\":%" PRIu64
                           ",\"bytes\":%" PRIu64 ",\"empty\":%" PRIu64 ",\"accepted\":%" PRIu64
                           ",\"rejected\":%" PRIu64 ",\"refused\":%" PRIu64 ",\"commits\":%" PRIu64
                           ",\"commit_failures\":%" PRIu64 ",\"rebalances\":%" PRIu64
                           ",\"pauses\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"partitions\":[",
                           k->paused ? "true" : "false", k->partitions, k->messages, k->bytes,
                           k->empty, k->accepted, k->rejected, k->refused, k->commits,
                           k->commit_failures, k->rebalances, k->pauses, k->errors);
    for (size_t i = 0; i < v->nkafka_parts; i++) {
        const sr_input_kafka_partition *p = &v->kafka_parts[i];
        rc |= sr_buf_puts(out, i ? ",{\"topic\":" : "{\"topic\":");
        rc |= sr_admin_json_text(out, p->topic);
        rc |= sr_buf_printf(out,
                            ",\"partition\":%d,\"position\":%" PRId64 ",\"safe\":%" PRId64
                            ",\"committed\":%" PRId64 ",\"high\":%" PRId64 ",\"lag\":%" PRId64 "}",
                            (int)p->partition, p->position, p->safe, p->committed, p->high, p->lag);
    }
    rc |= sr_buf_puts(out, "]}");
    return rc ? -1 : 0;
}
