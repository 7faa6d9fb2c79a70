/* admin_json.h - the JSON documents of the admin API.
 *
 * GET /api/integrations answers an array of integration objects, GET
 * /api/integrations/{name} one object with its `history`. The object
 * (docs/admin.md describes every field):
 *
 *   {"name":"siem","type":"WEBHOOK","status":"Connected",
 *    "since":"2026-11-26T20:00:00.000Z",
 *    "inhibited":false,"inhibited_until":null,
 *    "queue":{"type":"memory","events":0,"bytes":0,"limit_bytes":67108864},
 *    "counters":{"received":10,"delivered":10,"retried":0,"rejected":0,
 *                "dead_lettered":0,"dropped":0,"attempts":2,"failed_attempts":0},
 *    "last_error":null,"last_latency_ms":3.25,
 *    "history":[{"time":"...","from":"Not Connected","to":"Connected",
 *                "reason":"..."}]}
 *
 * Times are RFC 3339 in UTC with milliseconds, or null when unknown. Texts
 * are made valid UTF-8 (admin_view.h). Nothing here reads configuration, so
 * no secret can reach these documents; error texts arrive already masked.
 * Every function appends to `out` and returns 0, or -1 when out of memory. */
#ifndef SR_ADMIN_JSON_H
#define SR_ADMIN_JSON_H

#include <stdint.h>

#include "admin_view.h"
#include "buf.h"

/* "2026-11-26T20:00:00.000Z" with its quotes, or null for ms <= 0. */
int sr_admin_json_time(sr_buf *out, int64_t ms);

/* A JSON string of s (UTF-8 repaired), or null for NULL. */
int sr_admin_json_text(sr_buf *out, const char *s);

int sr_admin_json_integration(sr_buf *out, const sr_admin_integration *ai, int with_history);

/* GET /api/scripts:
 *   {"scripts":[{"script":"/etc/siemrelay/tag.lua","integration":null|"soc",
 *     "events":N,"dropped":N,"failed":N,"timed_out":N,"seconds":S}, ...],
 *    "unknown_routes":N}
 * `seconds` is the time spent in the script on the worker threads. */
int sr_admin_json_scripts(sr_buf *out, const sr_admin_view *v);

/* The array of every integration in the view, without histories. */
int sr_admin_json_integrations(sr_buf *out, const sr_admin_view *v);

/* The Kafka input: {"paused":bool,"partitions_assigned":N,"messages":N,...,
 * "partitions":[{"topic","partition","position","safe","committed","high",
 * "lag"}]} (offsets -1 while unknown; docs/admin.md). */
int sr_admin_json_kafka(sr_buf *out, const sr_admin_view *v);

#endif
