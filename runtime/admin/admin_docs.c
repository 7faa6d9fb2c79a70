/* admin_docs.c - snapshots of the live sources, rendered for the admin API. */
#include "admin_docs.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "admin_json.h"
#include "admin_metrics.h"
#include "admin_view.h"
#include "deadletter.h"
#include "delivery.h"
#include "input_http.h"
#include "input_kafka.h"
#include "input_tcp.h"
#include "pipeline.h"

/* `extra` (may be NULL) receives the control's description of it. */
static void fill_integration(const sr_admin_sources *src, size_t i, sr_admin_integration *out,
                             sr_buf *extra) {
    const sr_delivery *d = src->delivery;
    memset(out, 0, sizeof *out);
    out->name = sr_delivery_name(d, i);
    out->type = sr_delivery_type(d, i);
    sr_delivery_stats(d, i, &out->stats);
    out->history = sr_delivery_history(d, i);
    if (extra && src->control && src->control->describe &&
        src->control->describe(src->control->ud, i, extra) == 0) {
        out->extra = extra->data;
        out->extra_len = extra->len;
    }
}

static void add_partition(void *ud, const sr_input_kafka_partition *p) {
    sr_admin_view *v = ud;
    sr_input_kafka_partition *a =
        realloc(v->kafka_parts, (v->nkafka_parts + 1) * sizeof *v->kafka_parts);
    if (!a)
        return; /* the figures are left out, as for a missing source */
    v->kafka_parts = a;
    a[v->nkafka_parts++] = *p;
}

/* Everything but the integrations; release_view() frees what it took. */
static void fill_view(const sr_admin_sources *src, int ready, sr_admin_view *v) {
    memset(v, 0, sizeof *v);
    v->version = SR_VERSION;
    v->ready = ready;
    if (src->pipeline) {
        v->have_pipeline = 1;
        sr_pipeline_stats_get(src->pipeline, &v->pipeline);
        v->pipeline_pending = sr_pipeline_pending(src->pipeline);
    }
    if (src->tcp) {
        v->have_tcp = 1;
        v->tcp = *sr_input_tcp_get_stats(src->tcp);
    }
    if (src->http) {
        v->have_http = 1;
        sr_input_http_stats(src->http, &v->http);
    }
    if (src->admin_server) {
        v->have_admin_http = 1;
        sr_http_server_stats_get(src->admin_server, &v->admin_http);
    }
    if (src->kafka) {
        v->have_kafka = 1;
        sr_input_kafka_get_stats(src->kafka, &v->kafka);
        sr_input_kafka_foreach_partition(src->kafka, add_partition, v);
    }
    if (src->deadletter) {
        v->have_deadletter = 1;
        v->deadletter_records = sr_deadletter_count(src->deadletter);
    }
    sr_admin_process_read(src->start_time_ms, &v->process);
}

static void release_view(sr_admin_view *v) {
    free(v->kafka_parts);
    v->kafka_parts = NULL;
    v->nkafka_parts = 0;
}

/* Sets v->integrations to every integration; the caller frees *items and
 * (when `extras` is not NULL) the n buffers of *extras. */
static int fill_all(const sr_admin_sources *src, sr_admin_view *v, sr_admin_integration **items,
                    sr_buf **extras) {
    size_t n = src->delivery ? sr_delivery_count(src->delivery) : 0;
    *items = calloc(n ? n : 1, sizeof **items);
    if (extras)
        *extras = calloc(n ? n : 1, sizeof **extras);
    if (!*items || (extras && !*extras))
        return -1;
    for (size_t i = 0; i < n; i++)
        fill_integration(src, i, &(*items)[i], extras ? &(*extras)[i] : NULL);
    v->integrations = *items;
    v->nintegrations = n;
    return 0;
}

int sr_admin_doc_integrations(const sr_admin_sources *src, sr_buf *body) {
    sr_admin_view v;
    sr_admin_integration *items = NULL;
    sr_buf *extras = NULL;
    fill_view(src, 1, &v);
    int rc = fill_all(src, &v, &items, &extras) == 0 && sr_admin_json_integrations(body, &v) == 0
                 ? 200
                 : -1;
    for (size_t i = 0; extras && i < v.nintegrations; i++)
        sr_buf_free(&extras[i]);
    free(extras);
    free(items);
    release_view(&v);
    return rc;
}

int sr_admin_doc_integration(const sr_admin_sources *src, const char *name, sr_buf *body) {
    long i = src->delivery ? sr_delivery_find(src->delivery, name) : -1;
    if (i < 0) {
        sr_buf msg = SR_BUF_INIT;
        int oom = sr_buf_puts(&msg, "no integration named '") != 0 ||
                  sr_admin_put_utf8(&msg, name, strlen(name)) != 0 || sr_buf_putc(&msg, '\'') != 0;
        oom = oom || sr_buf_puts(body, "{\"error\":") != 0 ||
              sr_admin_json_text(body, msg.data) != 0 || sr_buf_putc(body, '}') != 0;
        sr_buf_free(&msg);
        return oom ? -1 : 404;
    }
    sr_admin_integration item;
    sr_buf extra = SR_BUF_INIT;
    fill_integration(src, (size_t)i, &item, &extra);
    int rc = sr_admin_json_integration(body, &item, 1) == 0 ? 200 : -1;
    sr_buf_free(&extra);
    return rc;
}

/* Sets v's script counters; the caller frees *rows. */
static int fill_scripts(const sr_admin_sources *src, sr_admin_view *v, sr_script_stat **rows) {
    *rows = NULL;
    if (!src->scripts)
        return 0;
    size_t n = sr_script_stats_count(src->scripts);
    *rows = calloc(n ? n : 1, sizeof **rows);
    if (!*rows)
        return -1;
    for (size_t i = 0; i < n; i++)
        sr_script_stats_get(src->scripts, i, &(*rows)[i]);
    v->have_scripts = 1;
    v->scripts = *rows;
    v->nscripts = n;
    v->unknown_routes = sr_script_stats_unknown_routes(src->scripts);
    sr_script_stats_abandoned_get(src->scripts, &v->abandoned_states, &v->abandoned_bytes);
    return 0;
}

int sr_admin_doc_metrics(const sr_admin_sources *src, int ready, sr_buf *body) {
    sr_admin_view v;
    sr_admin_integration *items = NULL;
    sr_script_stat *rows = NULL;
    fill_view(src, ready, &v);
    int rc = fill_all(src, &v, &items, NULL) == 0 && fill_scripts(src, &v, &rows) == 0 &&
                     sr_admin_metrics(body, &v) == 0
                 ? 200
                 : -1;
    free(items);
    free(rows);
    release_view(&v);
    return rc;
}

int sr_admin_doc_scripts(const sr_admin_sources *src, sr_buf *body) {
    sr_admin_view v;
    sr_script_stat *rows = NULL;
    fill_view(src, 1, &v);
    int rc = fill_scripts(src, &v, &rows) == 0 && sr_admin_json_scripts(body, &v) == 0 ? 200 : -1;
    free(rows);
    release_view(&v);
    return rc;
}

int sr_admin_doc_kafka(const sr_admin_sources *src, sr_buf *body) {
    if (!src->kafka)
        return sr_buf_puts(body, "{\"error\":\"no Kafka input runs\"}") == 0 ? 404 : -1;
    sr_admin_view v;
    fill_view(src, 1, &v);
    int rc = sr_admin_json_kafka(body, &v) == 0 ? 200 : -1;
    release_view(&v);
    return rc;
}

int sr_admin_doc_pipeline(const sr_admin_sources *src, sr_buf *body) {
    sr_pipeline_stats st;
    memset(&st, 0, sizeof st);
    uint64_t pending = 0, unrouted = 0;
    if (src->pipeline) {
        sr_pipeline_stats_get(src->pipeline, &st);
        pending = sr_pipeline_pending(src->pipeline);
    }
    for (int r = 0; r < SR_UNROUTED_REASONS; r++)
        unrouted += st.unrouted[r];
    int rc = sr_buf_printf(
        body,
        "{\"batches\":%" PRIu64 ",\"accepted\":%" PRIu64 ",\"rejected\":%" PRIu64
        ",\"dropped\":%" PRIu64 ",\"failed\":%" PRIu64 ",\"records_queued\":%" PRIu64
        ",\"pending_batches\":%" PRIu64 ",\"unrouted\":{\"total\":%" PRIu64,
        st.batches, st.accepted, st.rejected, st.dropped, st.failed, st.records, pending, unrouted);
    for (int r = 0; r < SR_UNROUTED_REASONS; r++)
        rc |= sr_buf_printf(body, ",\"%s\":%" PRIu64, sr_unrouted_reason_name(r), st.unrouted[r]);
    rc |= sr_buf_puts(body, "}}");
    return rc ? -1 : 200;
}

int sr_admin_doc_ready(const char *not_ready, sr_buf *body) {
    if (!not_ready)
        return sr_buf_puts(body, "{\"status\":\"ready\"}") == 0 ? 200 : -1;
    int oom = sr_buf_puts(body, "{\"status\":\"not ready\",\"reason\":") != 0 ||
              sr_admin_json_text(body, not_ready) != 0 || sr_buf_putc(body, '}') != 0;
    return oom ? -1 : 503;
}
