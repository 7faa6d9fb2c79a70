/* input_kafka.h - the Kafka input: a consumer-group member that reads one or
 * more topics and feeds every message through the same pipeline as HTTP and
 * TCP, committing offsets only once what they cover is safe.
 *
 * Consuming. librdkafka's high-level consumer (enable.auto.commit and
 * enable.auto.offset.store off) runs on its own threads; its queue wakes the
 * loop through a pipe (rd_kafka_queue_io_event_enable), where messages are
 * polled without blocking and gathered into NDJSON chunks of up to
 * max_batch_events / max_batch_bytes, each submitted to the pipeline
 * (ingest.h) with the offsets it covers. A message is one event
 * (`format: event`; a message holding newlines is compacted onto one line
 * first) or NDJSON lines (`format: ndjson`). Empty messages (tombstones) are
 * counted and skipped.
 *
 * At least once. A submission that the pipeline committed (reply 200 or 400)
 * takes a mark (ingest.h): it is safe once every record it put on a queue is
 * on disk per that spool's fsync policy, or delivered or dead-lettered from
 * a memory queue. Submissions become safe in order; each safe one moves its
 * partitions' commit position past its messages, and positions are committed
 * every commit_interval_ms, at a rebalance and at shutdown. A crash or
 * SIGKILL therefore re-reads at most what was not yet safe (duplicates, never
 * loss). A submission refused after the fact (reply 503: a queue write
 * failed) keeps its place and its bytes and is submitted again before
 * anything newer; one refused up front (out of memory) is re-read from Kafka
 * by seeking its partitions back.
 *
 * Order. Messages of one partition are submitted in offset order, and the
 * pipeline commits submissions in order, so each integration receives a
 * partition's events in partition order (a resubmission after a queue
 * write error repeats events; see docs/inputs.md).
 *
 * Back-pressure. While ingest is busy (a queue with overflow `block` is at
 * its bound, a reload, shutdown) every assigned partition is paused, the
 * message gathered so far is kept, and the consumer keeps polling so it
 * stays in the group; partitions resume when ingest has room.
 *
 * Rebalances (eager assignment). On revoke, what is safe is committed
 * synchronously and the revoked partitions are stripped from submissions
 * still in flight: they are finished but never committed by this member (the
 * next owner re-reads them). On assign, consumption starts at the group's
 * committed offset (`start` for a partition without one).
 *
 * Lag. Every lag_interval_ms the high watermark and the group's committed
 * offset of every assigned partition are queried on the libuv threadpool;
 * lag = high watermark - committed offset (the low watermark when nothing is
 * committed).
 *
 * Threads: everything runs on the loop thread except librdkafka's own
 * threads, the lag query and the final close (threadpool). */
#ifndef SR_INPUT_KAFKA_H
#define SR_INPUT_KAFKA_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "conf_table.h"
#include "ingest.h"

/* Submissions in flight at once: enough to keep two workers busy. */
#define SR_INPUT_KAFKA_MAX_INFLIGHT 4

/* A raw librdkafka consumer property (`properties:`). */
typedef struct sr_kafka_prop {
    char *name;
    char *value; /* may be a secret: never logged or shown */
} sr_kafka_prop;

/* `inputs.kafka`. */
typedef struct sr_kafka_input_conf {
    int enabled;
    char *brokers; /* "host:port,host:port" */
    char **topics; /* at least one */
    size_t ntopics;
    char *group_id;   /* default "siemrelay" */
    char *client_id;  /* default "siemrelay" */
    int ndjson;       /* format: 0 event (default), 1 ndjson */
    int start_latest; /* start: 0 earliest (default), 1 latest */
    /* TLS: on with `tls: true` */
    int tls;
    int tls_verify; /* default 1 */
    char *ca_file, *cert_file, *key_file;
    char *key_password; /* secret */
    /* SASL: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, GSSAPI; NULL = none */
    char *sasl_mechanism;
    char *username;
    char *password; /* secret */
    char *kerberos_service_name, *kerberos_principal, *kerberos_keytab;
    sr_kafka_prop *props; /* applied first: the keys above win */
    size_t nprops;
    unsigned long long max_batch_events;   /* per submission; default 2000 */
    unsigned long long max_batch_bytes;    /* per submission; default 1 MiB */
    unsigned long long commit_interval_ms; /* default 1000 */
    unsigned long long lag_interval_ms;    /* default 5000 */
} sr_kafka_input_conf;

/* The section's keys, defaults and documentation (conf_table.h), and the
 * check of the merged result: brokers and topics present when enabled, a
 * known SASL mechanism with what it needs. 0, or -1 with `err`. */
extern const sr_conf_key sr_kafka_input_conf_keys[];
int sr_kafka_input_conf_validate(const sr_kafka_input_conf *k, char *err, size_t errlen);
/* Zeroes and writes the table's defaults; frees what reading allocated. */
void sr_kafka_input_conf_defaults(sr_kafka_input_conf *c);
void sr_kafka_input_conf_free(sr_kafka_input_conf *c);

typedef struct sr_input_kafka sr_input_kafka;

typedef struct sr_input_kafka_stats {
    uint64_t messages;        /* consumed */
    uint64_t bytes;           /* message payload bytes */
    uint64_t empty;           /* empty messages skipped */
    uint64_t accepted;        /* events the pipeline accepted */
    uint64_t rejected;        /* events it rejected (malformed) */
    uint64_t refused;         /* submissions answered 503 and sent again */
    uint64_t commits;         /* offset commits that succeeded */
    uint64_t commit_failures; /* ... and failed (retried with the next one) */
    uint64_t rebalances;      /* assignments and revocations */
    uint64_t pauses;          /* times back-pressure paused the partitions */
    uint64_t errors;          /* consumer errors reported by librdkafka */
    int paused;               /* paused now */
    size_t partitions;        /* assigned now */
} sr_input_kafka_stats;

/* One assigned partition; offsets are -1 while unknown. */
typedef struct sr_input_kafka_partition {
    const char *topic;
    int32_t partition;
    int64_t position;  /* next offset to consume */
    int64_t safe;      /* every message below it is safe */
    int64_t committed; /* the group's committed offset, as last known */
    int64_t high;      /* high watermark at the last lag query */
    int64_t lag;       /* high - committed (low watermark if none) */
} sr_input_kafka_partition;

/* Creates the consumer and subscribes; joining the group happens in the
 * background. NULL with a message in `err` (never a secret) for a bad
 * property or missing brokers/topics. `conf` and `ingest` are copied. */
sr_input_kafka *sr_input_kafka_start(uv_loop_t *loop, const sr_kafka_input_conf *conf,
                                     const sr_ingest *ingest, char *err, size_t errlen);

/* Shutdown, first step: stops submitting (partitions paused, nothing new
 * read) but stays in the group, so what delivery still makes safe can be
 * committed by sr_input_kafka_close. */
void sr_input_kafka_stop(sr_input_kafka *in);
/* Commits what is safe, leaves the group and frees the input once
 * librdkafka is done (on the threadpool) and every submission in flight
 * has called back. NULL is ignored. */
void sr_input_kafka_close(sr_input_kafka *in);

/* Read on the loop thread. */
void sr_input_kafka_get_stats(const sr_input_kafka *in, sr_input_kafka_stats *out);
void sr_input_kafka_foreach_partition(const sr_input_kafka *in,
                                      void (*visit)(void *ud, const sr_input_kafka_partition *p),
                                      void *ud);

#endif
