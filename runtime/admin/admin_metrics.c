/* admin_metrics.c - the Prometheus text exposition of an admin view. */
#include "admin_metrics.h"

#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* A metric read straight from a uint64_t field of a stats struct, so the
 * families below are tables rather than a page of near-identical calls. */
typedef struct field_metric {
    const char *name;
    const char *type; /* "counter" | "gauge" */
    const char *help;
    size_t offset;
} field_metric;

#define INTEG(f) offsetof(sr_integration_stats, f)

static const field_metric integration_metrics[] = {
    {"siemrelay_integration_events_received_total", "counter",
     "Records queued for the integration.", INTEG(received)},
    {"siemrelay_integration_events_delivered_total", "counter", "Records the destination accepted.",
     INTEG(delivered)},
    {"siemrelay_integration_events_retried_total", "counter",
     "Records sent again after a failed attempt.", INTEG(retried)},
    {"siemrelay_integration_events_rejected_total", "counter",
     "Records the destination refused for good.", INTEG(rejected)},
    {"siemrelay_integration_events_dead_lettered_total", "counter",
     "Records written to the integration's dead-letter file.", INTEG(dead_lettered)},
    {"siemrelay_integration_events_dropped_total", "counter",
     "Records dropped to make room (queue overflow drop_oldest).", INTEG(dropped)},
    {"siemrelay_integration_attempts_total", "counter", "Requests sent to the destination.",
     INTEG(attempts)},
    {"siemrelay_integration_failed_attempts_total", "counter",
     "Requests that failed (transport error or retryable answer).", INTEG(failed_attempts)},
    {"siemrelay_integration_queue_events", "gauge", "Records waiting in the integration's queue.",
     INTEG(queued_events)},
    {"siemrelay_integration_queue_bytes", "gauge", "Bytes waiting in the integration's queue.",
     INTEG(queued_bytes)},
    {"siemrelay_integration_queue_limit_bytes", "gauge", "The bound of the integration's queue.",
     INTEG(queue_limit_bytes)},
};

#define PIPE(f) offsetof(sr_pipeline_stats, f)

static const field_metric pipeline_metrics[] = {
    {"siemrelay_pipeline_batches_total", "counter", "Submissions (bodies, chunks) processed.",
     PIPE(batches)},
    {"siemrelay_pipeline_events_accepted_total", "counter",
     "Events parsed and taken past the global site scripts.", PIPE(accepted)},
    {"siemrelay_pipeline_events_rejected_total", "counter",
     "Events refused at parse time (malformed).", PIPE(rejected)},
    {"siemrelay_pipeline_events_dropped_total", "counter", "Events a site script dropped.",
     PIPE(dropped)},
    {"siemrelay_pipeline_events_failed_total", "counter",
     "Events whose script or encoder failed (dead-lettered).", PIPE(failed)},
    {"siemrelay_pipeline_records_queued_total", "counter",
     "Records queued, all integrations together.", PIPE(records)},
};

#define TCP(f)  offsetof(sr_input_tcp_stats, f)
#define TCPT(f) (offsetof(sr_input_tcp_stats, totals) + offsetof(sr_input_tcp_counters, f))

static const field_metric input_metrics[] = {
    {"siemrelay_input_connections_total", "counter", "Connections accepted.",
     TCP(connections_total)},
    {"siemrelay_input_connections_open", "gauge", "Connections open now.", TCP(connections_open)},
    {"siemrelay_input_connections_refused_total", "counter",
     "Connections closed at once by a connection limit.", TCP(connections_refused)},
    {"siemrelay_input_slow_closed_total", "counter",
     "Connections closed because a line made too little progress.", TCP(slow_closed)},
    {"siemrelay_input_http_refused_total", "counter",
     "Connections closed because they began with an HTTP request.", TCP(http_refused)},
    {"siemrelay_input_bytes_received_total", "counter", "Bytes received (after TLS).", TCPT(bytes)},
    {"siemrelay_input_events_accepted_total", "counter", "Events the pipeline accepted.",
     TCPT(accepted)},
    {"siemrelay_input_events_rejected_total", "counter", "Events the pipeline rejected.",
     TCPT(rejected)},
    {"siemrelay_input_oversize_lines_total", "counter", "Lines longer than max_line, discarded.",
     TCPT(oversize_lines)},
    {"siemrelay_input_refused_chunks_total", "counter",
     "Chunks the pipeline could not take (answered 503).", TCPT(refused_chunks)},
};

static uint64_t field_at(const void *base, size_t offset) {
    uint64_t v;
    memcpy(&v, (const char *)base + offset, sizeof v);
    return v;
}

static int family(sr_buf *out, const char *name, const char *type, const char *help) {
    /* Help texts are constants here, free of backslashes and newlines, so
     * they need no escaping. */
    return sr_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

int sr_admin_metrics_label_value(sr_buf *out, const char *s) {
    sr_buf clean = SR_BUF_INIT;
    int rc = sr_admin_put_utf8(&clean, s ? s : "", s ? strlen(s) : 0);
    for (size_t i = 0; rc == 0 && i < clean.len; i++) {
        char c = clean.data[i];
        if (c == '\\')
            rc = sr_buf_puts(out, "\\\\");
        else if (c == '"')
            rc = sr_buf_puts(out, "\\\"");
        else if (c == '\n')
            rc = sr_buf_puts(out, "\\n");
        else
            rc = sr_buf_putc(out, c);
    }
    sr_buf_free(&clean);
    return rc;
}

static int integration_labels(sr_buf *out, const sr_admin_integration *ai) {
    int rc = sr_buf_puts(out, "integration=\"");
    rc |= sr_admin_metrics_label_value(out, ai->name);
    rc |= sr_buf_puts(out, "\",type=\"");
    rc |= sr_admin_metrics_label_value(out, ai->type);
    rc |= sr_buf_putc(out, '"');
    return rc ? -1 : 0;
}

/* Prometheus parses values as Go floats: plain decimals are safest. */
static int integration_sample(sr_buf *out, const char *name, const sr_admin_integration *ai,
                              const char *value) {
    int rc = sr_buf_printf(out, "%s{", name);
    rc |= integration_labels(out, ai);
    rc |= sr_buf_printf(out, "} %s\n", value);
    return rc ? -1 : 0;
}

static int put_integrations(sr_buf *out, const sr_admin_view *v) {
    int rc = 0;
    char value[64];
    if (v->nintegrations == 0)
        return 0;
    for (size_t m = 0; m < sizeof integration_metrics / sizeof integration_metrics[0]; m++) {
        const field_metric *fm = &integration_metrics[m];
        rc |= family(out, fm->name, fm->type, fm->help);
        for (size_t i = 0; i < v->nintegrations; i++) {
            snprintf(value, sizeof value, "%" PRIu64,
                     field_at(&v->integrations[i].stats, fm->offset));
            rc |= integration_sample(out, fm->name, &v->integrations[i], value);
        }
    }

    rc |= family(out, "siemrelay_integration_status", "gauge",
                 "1 for the integration's current Sysdig status, 0 for the others.");
    for (size_t i = 0; i < v->nintegrations; i++) {
        const sr_admin_integration *ai = &v->integrations[i];
        for (int st = SR_STATUS_NOT_CONNECTED; st <= SR_STATUS_ERROR; st++) {
            rc |= sr_buf_puts(out, "siemrelay_integration_status{");
            rc |= integration_labels(out, ai);
            rc |= sr_buf_printf(out, ",status=\"%s\"} %d\n", sr_status_name((sr_status)st),
                                ai->stats.status == (sr_status)st);
        }
    }

    rc |= family(out, "siemrelay_integration_status_since_seconds", "gauge",
                 "When the current status began (seconds since the epoch).");
    for (size_t i = 0; i < v->nintegrations; i++) {
        int64_t since = v->integrations[i].stats.status_since_ms;
        snprintf(value, sizeof value, "%.3f", since > 0 ? (double)since / 1000.0 : 0.0);
        rc |= integration_sample(out, "siemrelay_integration_status_since_seconds",
                                 &v->integrations[i], value);
    }

    rc |= family(out, "siemrelay_integration_inhibited", "gauge",
                 "1 while the integration waits out an inhibition after failing.");
    for (size_t i = 0; i < v->nintegrations; i++)
        rc |= integration_sample(out, "siemrelay_integration_inhibited", &v->integrations[i],
                                 v->integrations[i].stats.inhibited ? "1" : "0");

    rc |= family(out, "siemrelay_integration_last_latency_seconds", "gauge",
                 "Duration of the integration's last completed request.");
    for (size_t i = 0; i < v->nintegrations; i++) {
        double ms = v->integrations[i].stats.last_latency_ms;
        snprintf(value, sizeof value, "%.6f", isfinite(ms) && ms > 0 ? ms / 1000.0 : 0.0);
        rc |= integration_sample(out, "siemrelay_integration_last_latency_seconds",
                                 &v->integrations[i], value);
    }
    return rc ? -1 : 0;
}

#define KAFKA(f) offsetof(sr_input_kafka_stats, f)

static const field_metric kafka_metrics[] = {
    {"siemrelay_kafka_input_messages_total", "counter", "Messages consumed.", KAFKA(messages)},
    {"siemrelay_kafka_input_bytes_total", "counter", "Message payload bytes consumed.",
     KAFKA(bytes)},
    {"siemrelay_kafka_input_empty_messages_total", "counter", "Empty messages skipped.",
     KAFKA(empty)},
    {"siemrelay_kafka_input_events_accepted_total", "counter", "Events the pipeline accepted.",
     KAFKA(accepted)},
    {"siemrelay_kafka_input_events_rejected_total", "counter",
     "Events the pipeline rejected (malformed).", KAFKA(rejected)},
    {"siemrelay_kafka_input_refused_total", "counter",
     "Submissions the pipeline handed back (sent again).", KAFKA(refused)},
    {"siemrelay_kafka_input_commits_total", "counter", "Partition offsets committed.",
     KAFKA(commits)},
    {"siemrelay_kafka_input_commit_failures_total", "counter",
     "Partition offset commits that failed (retried).", KAFKA(commit_failures)},
    {"siemrelay_kafka_input_rebalances_total", "counter", "Assignments and revocations.",
     KAFKA(rebalances)},
    {"siemrelay_kafka_input_pauses_total", "counter",
     "Times back-pressure paused the assigned partitions.", KAFKA(pauses)},
    {"siemrelay_kafka_input_errors_total", "counter", "Consumer errors librdkafka reported.",
     KAFKA(errors)},
};

/* Per assigned partition, labelled {topic,partition}. */
static int put_kafka_partitions(sr_buf *out, const sr_admin_view *v, const char *name,
                                const char *help, size_t offset) {
    int rc = family(out, name, "gauge", help);
    for (size_t i = 0; i < v->nkafka_parts; i++) {
        const sr_input_kafka_partition *p = &v->kafka_parts[i];
        int64_t value;
        memcpy(&value, (const char *)p + offset, sizeof value);
        rc |= sr_buf_printf(out, "%s{topic=\"", name);
        rc |= sr_admin_metrics_label_value(out, p->topic);
        rc |= sr_buf_printf(out, "\",partition=\"%d\"} %" PRId64 "\n", (int)p->partition, value);
    }
    return rc;
}

static int put_fields(sr_buf *out, const field_metric *fms, size_t n, const void *stats,
                      const char *labels) {
    int rc = 0;
    for (size_t m = 0; m < n; m++) {
        rc |= family(out, fms[m].name, fms[m].type, fms[m].help);
        rc |= sr_buf_printf(out, "%s%s %" PRIu64 "\n", fms[m].name, labels,
                            field_at(stats, fms[m].offset));
    }
    return rc ? -1 : 0;
}

/* One sample per listener (and per refusal kind) under each family. */
static int put_http_listeners(sr_buf *out, const sr_admin_view *v) {
    const sr_http_server_stats *st[2] = {v->have_http ? &v->http : NULL,
                                         v->have_admin_http ? &v->admin_http : NULL};
    static const char *const names[2] = {"input.http", "admin"};
    int rc = 0;
    if (!st[0] && !st[1])
        return 0;
    rc |= family(out, "siemrelay_http_connections_total", "counter",
                 "Connections an HTTP listener accepted.");
    for (int i = 0; i < 2; i++)
        if (st[i])
            rc |= sr_buf_printf(out,
                                "siemrelay_http_connections_total{listener=\"%s\"} %" PRIu64 "\n",
                                names[i], st[i]->connections);
    rc |= family(out, "siemrelay_http_connections_open", "gauge",
                 "Connections an HTTP listener has open now.");
    for (int i = 0; i < 2; i++)
        if (st[i])
            rc |=
                sr_buf_printf(out, "siemrelay_http_connections_open{listener=\"%s\"} %" PRIu64 "\n",
                              names[i], st[i]->connections_open);
    rc |= family(out, "siemrelay_http_refused_total", "counter",
                 "Requests or connections an HTTP listener refused by itself, by reason.");
    for (int i = 0; i < 2; i++)
        for (int k = 0; st[i] && k < SR_HTTP_REFUSED_KINDS; k++)
            rc |= sr_buf_printf(
                out, "siemrelay_http_refused_total{listener=\"%s\",reason=\"%s\"} %" PRIu64 "\n",
                names[i], sr_http_refusal_name((sr_http_refusal)k), st[i]->refused[k]);
    return rc ? -1 : 0;
}

/* Every listener's connection guard (conn_guard.h), one family. */
static int put_connection_shedding(sr_buf *out, const sr_admin_view *v) {
    const uint64_t *shed[3] = {v->have_http ? v->http.shed : NULL, v->have_tcp ? v->tcp.shed : NULL,
                               v->have_admin_http ? v->admin_http.shed : NULL};
    const uint64_t *peers[3] = {v->have_http ? &v->http.peers : NULL,
                                v->have_tcp ? &v->tcp.peers : NULL,
                                v->have_admin_http ? &v->admin_http.peers : NULL};
    static const char *const names[3] = {"input.http", "input.tcp", "admin"};
    int rc = family(out, "siemrelay_connections_shed_total", "counter",
                    "Connections a listener closed or refused to stay within its limits, by "
                    "reason.");
    for (int i = 0; i < 3; i++)
        for (int r = 0; shed[i] && r < SR_CONN_SHED_REASONS; r++)
            rc |= sr_buf_printf(
                out,
                "siemrelay_connections_shed_total{listener=\"%s\",reason=\"%s\"} %" PRIu64 "\n",
                names[i], sr_conn_shed_name((sr_conn_shed)r), shed[i][r]);
    rc |= family(out, "siemrelay_connection_peers", "gauge",
                 "Addresses a listener has connections open from.");
    for (int i = 0; i < 3; i++)
        if (peers[i])
            rc |= sr_buf_printf(out, "siemrelay_connection_peers{listener=\"%s\"} %" PRIu64 "\n",
                                names[i], *peers[i]);
    return rc ? -1 : 0;
}

static int script_sample(sr_buf *out, const char *name, const sr_script_stat *s,
                         const char *value) {
    int rc = sr_buf_printf(out, "%s{script=\"", name);
    rc |= sr_admin_metrics_label_value(out, s->path);
    rc |= sr_buf_puts(out, "\",integration=\"");
    rc |= sr_admin_metrics_label_value(out, s->integration);
    rc |= sr_buf_printf(out, "\"} %s\n", value);
    return rc;
}

static const struct {
    const char *name, *help;
    int counter;
} script_metrics[] = {
    {"siemrelay_script_events_total", "Events the site script was called with.", SR_SCRIPT_EVENTS},
    {"siemrelay_script_dropped_total", "Events the site script dropped.", SR_SCRIPT_DROPPED},
    {"siemrelay_script_failed_total", "Events the site script raised an error on.",
     SR_SCRIPT_FAILED},
    {"siemrelay_script_timed_out_total", "Events the site script ran out of time on.",
     SR_SCRIPT_TIMED_OUT},
    {"siemrelay_script_memory_exceeded_total",
     "Events on which the site script exceeded script_memory_limit.", SR_SCRIPT_MEMORY},
};

/* Per site script, labelled {script="<path>",integration="<name>"|""}. */
static int put_scripts(sr_buf *out, const sr_admin_view *v) {
    int rc = 0;
    char value[32];
    for (size_t m = 0; m < sizeof script_metrics / sizeof script_metrics[0]; m++) {
        rc |= family(out, script_metrics[m].name, "counter", script_metrics[m].help);
        for (size_t i = 0; i < v->nscripts; i++) {
            snprintf(value, sizeof value, "%" PRIu64, v->scripts[i].c[script_metrics[m].counter]);
            rc |= script_sample(out, script_metrics[m].name, &v->scripts[i], value);
        }
    }
    rc |= family(out, "siemrelay_script_seconds_total", "counter",
                 "Time spent in the site script on the worker threads.");
    for (size_t i = 0; i < v->nscripts; i++) {
        snprintf(value, sizeof value, "%.6f", (double)v->scripts[i].c[SR_SCRIPT_TIME_NS] / 1e9);
        rc |= script_sample(out, "siemrelay_script_seconds_total", &v->scripts[i], value);
    }
    rc |= family(out, "siemrelay_script_disabled", "gauge",
                 "1 while the site script is disabled after too many runaways (until a reload).");
    for (size_t i = 0; i < v->nscripts; i++)
        rc |= script_sample(out, "siemrelay_script_disabled", &v->scripts[i],
                            v->scripts[i].disabled ? "1" : "0");
    rc |= family(out, "siemrelay_lua_states_abandoned_total", "counter",
                 "Lua states abandoned after a runaway in compiled code, or a load that never "
                 "ended.");
    rc |= sr_buf_printf(out, "siemrelay_lua_states_abandoned_total %" PRIu64 "\n",
                        v->abandoned_states);
    rc |= family(out, "siemrelay_lua_abandoned_bytes_total", "counter",
                 "Lua heap bytes the abandoned states held, all released when abandoned.");
    rc |=
        sr_buf_printf(out, "siemrelay_lua_abandoned_bytes_total %" PRIu64 "\n", v->abandoned_bytes);
    rc |= family(out, "siemrelay_script_unknown_routes_total", "counter",
                 "Names given to ev:route/ev:unroute that match no integration.");
    rc |= sr_buf_printf(out, "siemrelay_script_unknown_routes_total %" PRIu64 "\n",
                        v->unknown_routes);
    return rc ? -1 : 0;
}

int sr_admin_metrics(sr_buf *out, const sr_admin_view *v) {
    int rc = put_integrations(out, v);
    if (v->have_scripts)
        rc |= put_scripts(out, v);
    if (v->have_pipeline) {
        rc |= put_fields(out, pipeline_metrics,
                         sizeof pipeline_metrics / sizeof pipeline_metrics[0], &v->pipeline, "");
        rc |= family(out, "siemrelay_pipeline_pending_batches", "gauge",
                     "Submissions being processed, not yet committed to the queues.");
        rc |= sr_buf_printf(out, "siemrelay_pipeline_pending_batches %" PRIu64 "\n",
                            v->pipeline_pending);
        rc |= family(out, "siemrelay_pipeline_events_unrouted_total", "counter",
                     "Events accepted that no integration took, by reason.");
        for (int r = 0; r < SR_UNROUTED_REASONS; r++)
            rc |= sr_buf_printf(
                out, "siemrelay_pipeline_events_unrouted_total{reason=\"%s\"} %" PRIu64 "\n",
                sr_unrouted_reason_name(r), v->pipeline.unrouted[r]);
    }
    if (v->have_tcp)
        rc |= put_fields(out, input_metrics, sizeof input_metrics / sizeof input_metrics[0],
                         &v->tcp, "{input=\"tcp\"}");
    rc |= put_http_listeners(out, v);
    if (v->have_http || v->have_tcp || v->have_admin_http)
        rc |= put_connection_shedding(out, v);
    if (v->have_kafka) {
        rc |= put_fields(out, kafka_metrics, sizeof kafka_metrics / sizeof kafka_metrics[0],
                         &v->kafka, "");
        rc |= family(out, "siemrelay_kafka_input_paused", "gauge",
                     "1 while back-pressure holds the assigned partitions paused.");
        rc |= sr_buf_printf(out, "siemrelay_kafka_input_paused %d\n", v->kafka.paused);
        rc |= family(out, "siemrelay_kafka_input_partitions", "gauge",
                     "Partitions assigned to this group member.");
        rc |= sr_buf_printf(out, "siemrelay_kafka_input_partitions %zu\n", v->kafka.partitions);
        rc |= put_kafka_partitions(
            out, v, "siemrelay_kafka_consumer_lag",
            "High watermark minus the group's committed offset (-1: not known yet).",
            offsetof(sr_input_kafka_partition, lag));
        rc |= put_kafka_partitions(out, v, "siemrelay_kafka_consumer_committed_offset",
                                   "The group's committed offset (-1: none).",
                                   offsetof(sr_input_kafka_partition, committed));
        rc |= put_kafka_partitions(out, v, "siemrelay_kafka_consumer_safe_offset",
                                   "Every message below it is safe (queued durably or delivered).",
                                   offsetof(sr_input_kafka_partition, safe));
    }
    if (v->have_deadletter) {
        rc |= family(out, "siemrelay_deadletter_records_total", "counter",
                     "Dead-letter lines written, all files together.");
        rc |= sr_buf_printf(out, "siemrelay_deadletter_records_total %" PRIu64 "\n",
                            v->deadletter_records);
    }
    rc |= family(out, "siemrelay_ready", "gauge",
                 "1 when the gateway takes events (as GET /readyz), else 0.");
    rc |= sr_buf_printf(out, "siemrelay_ready %d\n", v->ready ? 1 : 0);
    rc |= family(out, "siemrelay_build_info", "gauge", "Always 1; the version is a label.");
    rc |= sr_buf_puts(out, "siemrelay_build_info{version=\"");
    rc |= sr_admin_metrics_label_value(out, v->version ? v->version : "unknown");
    rc |= sr_buf_puts(out, "\"} 1\n");

    rc |= family(out, "process_start_time_seconds", "gauge",
                 "Start time of the process since unix epoch in seconds.");
    rc |= sr_buf_printf(out, "process_start_time_seconds %.3f\n", v->process.start_time_s);
    if (v->process.resident_bytes) {
        rc |=
            family(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
        rc |= sr_buf_printf(out, "process_resident_memory_bytes %" PRIu64 "\n",
                            v->process.resident_bytes);
    }
    rc |= family(out, "process_cpu_seconds_total", "counter",
                 "Total user and system CPU time spent in seconds.");
    rc |= sr_buf_printf(out, "process_cpu_seconds_total %.6f\n", v->process.cpu_seconds);
    return rc ? -1 : 0;
}
