/* admin_view.h - one consistent snapshot of what the admin API reports.
 *
 * The admin API (admin.h) fills a view from the live objects on the loop
 * thread, then hands it to the renderers (admin_json.h, admin_metrics.h).
 * The renderers see only this plain data, so they can be tested without a
 * running gateway, and one request never mixes numbers from two moments.
 *
 * Ownership: a view borrows everything it points to (names, histories);
 * it is valid only until control returns to the loop. The integrations array
 * belongs to whoever filled the view. */
#ifndef SR_ADMIN_VIEW_H
#define SR_ADMIN_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "delivery.h"
#include "http_server.h"
#include "input_kafka.h"
#include "input_tcp.h"
#include "pipeline.h"
#include "integration_status.h"
#include "script_stats.h"

typedef struct sr_admin_integration {
    const char *name;
    const char *type;
    sr_integration_stats stats;
    const sr_status_history *history; /* NULL: none known */
    /* Further members, as JSON text starting with ',' (channels, source,
     * configuration with secrets masked: admin.h's describe); may be NULL. */
    const char *extra;
    size_t extra_len;
} sr_admin_integration;

typedef struct sr_admin_process {
    double start_time_s;     /* wall clock, seconds since the epoch */
    double cpu_seconds;      /* user + system */
    uint64_t resident_bytes; /* 0: unknown */
} sr_admin_process;

typedef struct sr_admin_view {
    const char *version;
    int ready;
    const sr_admin_integration *integrations;
    size_t nintegrations;
    int have_pipeline;
    sr_pipeline_stats pipeline;
    uint64_t pipeline_pending; /* batches submitted, not yet committed */
    int have_tcp;
    sr_input_tcp_stats tcp;
    int have_http, have_admin_http; /* the HTTP input's and the admin API's listeners */
    sr_http_server_stats http, admin_http;
    int have_kafka;
    sr_input_kafka_stats kafka;
    sr_input_kafka_partition *kafka_parts; /* owned by whoever filled the view */
    size_t nkafka_parts;
    int have_deadletter;
    uint64_t deadletter_records;
    int have_scripts;
    const sr_script_stat *scripts; /* one per site script the process ran */
    size_t nscripts;
    uint64_t unknown_routes;                    /* ev:route names matching no integration */
    uint64_t abandoned_states, abandoned_bytes; /* Lua states abandoned, heap bytes freed */
    sr_admin_process process;
} sr_admin_view;

/* Reads this process's CPU time and resident memory; `start_time_ms` is
 * passed through. Fields it cannot read stay 0. */
void sr_admin_process_read(int64_t start_time_ms, sr_admin_process *out);

/* Appends [s, s+n) with every byte sequence that is not valid UTF-8 replaced
 * by U+FFFD. Error texts can hold a cut-off multibyte character or raw bytes
 * from a remote answer; JSON and the Prometheus format both need UTF-8. */
int sr_admin_put_utf8(sr_buf *out, const char *s, size_t n);

#endif
