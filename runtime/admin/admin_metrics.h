/* admin_metrics.h - GET /metrics: the view in Prometheus text format 0.0.4.
 *
 * Served as SR_ADMIN_METRICS_CONTENT_TYPE (admin_docs.h). Every family has a
 * HELP and a TYPE line; families without samples (no integrations, no TCP
 * input) are left out. Metric names are stable; docs/admin.md lists each one
 * with its type and meaning. Label values are escaped as the format requires
 * (backslash, double quote, newline) after UTF-8 repair (admin_view.h).
 *
 * Per integration, labelled {integration="<name>",type="<TYPE>"}:
 *   siemrelay_integration_events_{received,delivered,retried,rejected,
 *     dead_lettered,dropped}_total, siemrelay_integration_attempts_total,
 *   siemrelay_integration_failed_attempts_total                   counters
 *   siemrelay_integration_queue_{events,bytes,limit_bytes},
 *   siemrelay_integration_status{...,status="Connected"} (1 for the current
 *     status, 0 for the three others), siemrelay_integration_status_since_seconds,
 *   siemrelay_integration_inhibited,
 *   siemrelay_integration_last_latency_seconds                    gauges
 * Pipeline: siemrelay_pipeline_{batches,events_accepted,events_rejected,
 *   events_dropped,events_failed,records_queued}_total, siemrelay_pipeline_pending_batches,
 *   siemrelay_pipeline_events_unrouted_total{reason}.
 * Inputs, labelled {input="tcp"}: siemrelay_input_{connections,
 *   connections_refused,slow_closed,bytes_received,events_accepted,
 *   events_rejected,oversize_lines,refused_chunks}_total,
 *   siemrelay_input_connections_open.
 * Every listener, labelled {listener="input.http"|"input.tcp"|"admin"}:
 *   siemrelay_connections_shed_total{listener,reason} (reason: conn_guard.h),
 *   siemrelay_connection_peers.
 * HTTP listeners, labelled {listener="input.http"|"admin"}:
 *   siemrelay_http_connections_total, siemrelay_http_connections_open,
 *   siemrelay_http_refused_total{listener,reason} (reason: http_refusal.h).
 * Per site script, labelled {script="<path>",integration="<name>"|""}:
 *   siemrelay_script_{events,dropped,failed,timed_out}_total,
 *   siemrelay_script_seconds_total; and siemrelay_script_unknown_routes_total.
 * Kafka input: siemrelay_kafka_input_{messages,bytes,empty_messages,
 *   events_accepted,events_rejected,refused,commits,commit_failures,
 *   rebalances,pauses,errors}_total, siemrelay_kafka_input_paused,
 *   siemrelay_kafka_input_partitions; per partition, labelled
 *   {topic,partition}: siemrelay_kafka_consumer_{lag,committed_offset,
 *   safe_offset} (gauges; -1 while unknown).
 * Process: siemrelay_deadletter_records_total, siemrelay_ready,
 *   siemrelay_build_info{version}, process_start_time_seconds,
 *   process_resident_memory_bytes, process_cpu_seconds_total. */
#ifndef SR_ADMIN_METRICS_H
#define SR_ADMIN_METRICS_H

#include "admin_view.h"
#include "buf.h"

/* Appends the exposition to `out`. Returns 0, or -1 when out of memory. */
int sr_admin_metrics(sr_buf *out, const sr_admin_view *v);

/* Appends s as the inside of a label value: UTF-8 repaired, with backslash,
 * double quote and newline escaped. */
int sr_admin_metrics_label_value(sr_buf *out, const char *s);

#endif
