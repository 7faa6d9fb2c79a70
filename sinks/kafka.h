/* kafka.h - the "kafka" transport: records produced as messages of a topic
 * by an idempotent librdkafka producer (acks=all) on its own threads, woken
 * into the loop through its queue's I/O event.
 *
 * A message's key is the record's top-level member key_field (none if unset
 * or absent); props are librdkafka properties, plus "header.<Name>" (static
 * headers) and "keytab.base64" (a Kerberos keytab the sink writes to a
 * private 0600 file for sasl.kerberos.keytab). timeout_ms is
 * message.timeout.ms; insecure, ca_file, cert_file and key_file configure
 * TLS. Every batch reports per-record items from the delivery reports:
 * failures of the record itself (too large, malformed) are
 * SR_SINK_ITEM_REJECT, all others (brokers, timeouts, authorization, topic)
 * SR_SINK_ITEM_RETRY.
 *
 * The settings and the constructor are the transport's interface; the rest
 * is shared by its files:
 *   kafka.c         the sink: one idempotent librdkafka producer driven by the
 *                   uv loop, batches tracked message by message through
 *                   delivery reports;
 *   kafka_conf.c    sink settings to librdkafka configuration, including the
 *                   private keytab file for GSSAPI;
 *   kafka_msg.c     what a record becomes as a Kafka message: its key (a
 *                   top-level field of the record) and the static headers;
 *   kafka_errors.c  which librdkafka errors are worth retrying. */
#ifndef SR_KAFKA_H
#define SR_KAFKA_H

#include <librdkafka/rdkafka.h>

#include "buf.h"
#include "sink.h"

/* Its keys (kafka.c's table has the defaults). Strings and props are
 * copied. */
typedef struct sr_kafka_settings {
    const char *brokers;   /* bootstrap servers, "h1:9092,h2:9092" */
    const char *topic;     /* required */
    const char *key_field; /* top-level record field used as the message key */
    long long timeout_ms;  /* message.timeout.ms; 0 or less: librdkafka's default */
    int insecure;
    const char *ca_file;
    const char *cert_file;
    const char *key_file;
    sr_sink_props props; /* see above */
} sr_kafka_settings;

/* Creation fails (NULL, `err`) for missing brokers or topic, an unknown
 * librdkafka property or bad value, or a bad keytab. */
sr_sink *sr_kafka_sink_new(uv_loop_t *loop, const sr_kafka_settings *s, char *err, size_t errlen);

/* The sink's own props, not passed to librdkafka. */
#define SR_KAFKA_HEADER_PREFIX "header."       /* "header.<Name>": a static message header */
#define SR_KAFKA_KEYTAB_PROP   "keytab.base64" /* a base64 keytab written to a private file */

/* What the sink keeps of its settings: everything a producer is built from,
 * since a producer that hit a fatal error is replaced by a new one. */
typedef struct sr_kafka_opts {
    char *brokers;
    char *topic;
    char *key_field; /* NULL: messages have no key */
    long timeout_ms; /* message.timeout.ms; 0 = librdkafka's default */
    int insecure;
    char *ca_file, *cert_file, *key_file;
    sr_sink_prop *props; /* librdkafka properties, copied */
    size_t nprops;
    rd_kafka_headers_t *headers; /* static headers; NULL when none */
    char *keytab_dir;            /* private directory (0700) holding the keytab, or NULL */
    char *keytab_path;           /* the keytab (0600), or NULL */
} sr_kafka_opts;

/* Copies the settings, splits props into librdkafka properties, headers and
 * the keytab (decoded and written to a fresh private directory). Fails (-1,
 * `err`) for a missing brokers/topic, bad base64 or an unwritable keytab.
 * `err` never contains a property's value. */
int sr_kafka_opts_init(sr_kafka_opts *o, const sr_kafka_settings *s, char *err, size_t errlen);
/* Frees the copies and removes the keytab file and its directory. */
void sr_kafka_opts_free(sr_kafka_opts *o);

/* The transport's restricted_prop (sink.h): librdkafka properties that load
 * code (plugin.library.paths, ssl.engine.location, ssl.providers), run a
 * command (sasl.kerberos.kinit.cmd) or name a file (*.location, *.file,
 * ...). Why, or NULL for an ordinary property. */
const char *sr_kafka_restricted_prop(const char *name);

/* A new librdkafka configuration from `o`: the user's properties first, then
 * what the sink's guarantees depend on (idempotence, acks=all), so those
 * cannot be overridden. NULL and `err` for an unknown property or a bad
 * value; the message names the property, never its value. */
rd_kafka_conf_t *sr_kafka_conf_new(const sr_kafka_opts *o, char *err, size_t errlen);

/* The message key of a compact JSON record: the value of its top-level
 * member `field`, strings unescaped, other values as their JSON text.
 * Returns 1 and fills `out` (reset first), 0 when the record has no such
 * member or it is null (the message then has no key), -1 when the record is
 * not a JSON object or out of memory. */
int sr_kafka_record_key(const char *rec, size_t len, const char *field, sr_buf *out);

/* Adds one static header to `*hdrs` (created on first use). -1 if out of
 * memory or `name` is empty. */
int sr_kafka_header_add(rd_kafka_headers_t **hdrs, const char *name, const char *value);

/* SR_SINK_ITEM_RETRY or SR_SINK_ITEM_REJECT for a failed message: reject only
 * what no retry can fix for that record (too large, malformed); anything
 * that concerns the destination as a whole (brokers, leaders, timeouts,
 * authorization, the topic) is retried, so the delivery engine's attempts
 * and Error status report it and the events stay queued until it is fixed. */
sr_sink_item sr_kafka_classify(rd_kafka_resp_err_t err);

/* "MSG_SIZE_TOO_LARGE: Broker: Message size too large" into buf. */
void sr_kafka_describe(rd_kafka_resp_err_t err, char *buf, size_t len);

#endif
