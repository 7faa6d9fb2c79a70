/* input_kafka_conf.c - `inputs.kafka` to a librdkafka consumer configuration. */
#include "input_kafka_conf.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

/* ---- the `inputs.kafka` key table ------------------------------------------ */

/* `properties:` a map of librdkafka property names to scalar values. */
static int read_props(sr_conf_ctx *ctx, const sr_conf_item *it, void *field) {
    sr_kafka_input_conf *k =
        (sr_kafka_input_conf *)((char *)field - offsetof(sr_kafka_input_conf, props));
    const sr_node *v = it->v;
    if (v->kind != SR_NODE_MAP)
        return sr_conf_wrong_value(ctx, it, "a map of librdkafka properties", 1);
    for (size_t i = 0; i < v->n; i++) {
        const sr_node *val = v->items[i];
        if (val->kind != SR_NODE_SCALAR)
            return sr_conf_fail(ctx, val->file, val->line,
                                "key '%s': property '%.64s' must have a plain value", it->key,
                                v->keys[i]);
        sr_kafka_prop *p = NULL;
        for (size_t j = 0; j < k->nprops; j++)
            if (strcmp(k->props[j].name, v->keys[i]) == 0)
                p = &k->props[j]; /* a later file overrides */
        if (!p) {
            sr_kafka_prop *a = realloc(k->props, (k->nprops + 1) * sizeof *a);
            if (!a)
                return sr_conf_fail(ctx, it->file, it->line, "out of memory");
            k->props = a;
            p = &a[k->nprops++];
            *p = (sr_kafka_prop){strdup(v->keys[i]), NULL};
        }
        free(p->value);
        p->value = strdup(val->text ? val->text : "");
        if (!p->name || !p->value)
            return sr_conf_fail(ctx, it->file, it->line, "out of memory");
    }
    return 0;
}

/* Names only: a value may be a secret. */
static void print_props(sr_buf *out, const void *field) {
    const sr_kafka_input_conf *k =
        (const sr_kafka_input_conf *)((const char *)field - offsetof(sr_kafka_input_conf, props));
    sr_buf_putc(out, '{');
    for (size_t i = 0; i < k->nprops; i++) {
        sr_buf_puts(out, i ? "," : "");
        sr_buf_json_string(out, k->props[i].name, strlen(k->props[i].name));
        sr_buf_puts(out, ":\"******\"");
    }
    sr_buf_putc(out, '}');
}

static void drop_props(void *field) {
    sr_kafka_input_conf *k =
        (sr_kafka_input_conf *)((char *)field - offsetof(sr_kafka_input_conf, props));
    for (size_t i = 0; i < k->nprops; i++) {
        free(k->props[i].name);
        free(k->props[i].value);
    }
    free(k->props);
    k->props = NULL;
    k->nprops = 0;
}

static const char *const formats[] = {"event", "ndjson", NULL};
static const int format_values[] = {0, 1};
static const char *const starts[] = {"earliest", "latest", NULL};
static const int start_values[] = {0, 1};
static const char *const mechanisms[] = {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "GSSAPI", NULL};

int sr_kafka_input_conf_validate(const sr_kafka_input_conf *k, char *err, size_t errlen) {
    if (!k->enabled)
        return 0;
    if (!k->brokers || k->ntopics == 0) {
        snprintf(err, errlen, "inputs.kafka: 'brokers' and 'topics' are required");
        return -1;
    }
    if (k->sasl_mechanism) {
        size_t i = 0;
        while (mechanisms[i] && strcasecmp(mechanisms[i], k->sasl_mechanism) != 0)
            i++;
        if (!mechanisms[i]) {
            snprintf(err, errlen,
                     "inputs.kafka: sasl_mechanism must be PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 "
                     "or GSSAPI");
            return -1;
        }
        if (i < 3 && (!k->username || !k->password)) {
            snprintf(err, errlen, "inputs.kafka: sasl_mechanism %s needs 'username' and 'password'",
                     mechanisms[i]);
            return -1;
        }
    }
    return 0;
}

#define K(field) SR_CONF_AT(sr_kafka_input_conf, field)

const sr_conf_key sr_kafka_input_conf_keys[] = {
    {.name = "enabled",
     .type = SR_CONF_BOOL,
     K(enabled),
     .dflt = "true",
     .doc = "on when the section is there; an `inputs:` section without `kafka` turns it off"},
    {.name = "brokers",
     .type = SR_CONF_STRING,
     K(brokers),
     .doc_default = "required",
     .doc = "bootstrap brokers, `host:port,host:port`"},
    {.name = "topics",
     .type = SR_CONF_STRINGS,
     K(topics),
     .aux = offsetof(sr_kafka_input_conf, ntopics),
     .doc_default = "required",
     .doc = "a topic or a list of topics to consume"},
    {.name = "topic", .alias_of = "topics"},
    {.name = "group_id",
     .type = SR_CONF_STRING,
     K(group_id),
     .dflt = "siemrelay",
     .doc = "the consumer group; the instances of a delivery tier share one"},
    {.name = "client_id",
     .type = SR_CONF_STRING,
     K(client_id),
     .dflt = "siemrelay",
     .doc = "the client id brokers log"},
    {.name = "format",
     .type = SR_CONF_ENUM,
     K(ndjson),
     .dflt = "event",
     .names = formats,
     .values = format_values,
     .expected = "event or ndjson",
     .doc = "`event`: a message is one JSON event; `ndjson`: a message holds NDJSON lines"},
    {.name = "start",
     .type = SR_CONF_ENUM,
     K(start_latest),
     .dflt = "earliest",
     .names = starts,
     .values = start_values,
     .expected = "earliest or latest",
     .doc = "where a partition without a committed offset starts"},
    {.name = "tls",
     .type = SR_CONF_BOOL,
     K(tls),
     .dflt = "false",
     .doc = "connect to the brokers over TLS"},
    {.name = "tls_verify",
     .type = SR_CONF_BOOL,
     K(tls_verify),
     .dflt = "true",
     .doc = "verify the brokers' certificates and host names"},
    {.name = "ca_file",
     .type = SR_CONF_STRING,
     K(ca_file),
     .doc = "TLS: PEM bundle to verify the brokers with (default: the system store)"},
    {.name = "cert_file",
     .type = SR_CONF_STRING,
     K(cert_file),
     .doc = "TLS: client certificate (PEM)"},
    {.name = "key_file", .type = SR_CONF_STRING, K(key_file), .doc = "TLS: its key (PEM)"},
    {.name = "key_password",
     .type = SR_CONF_STRING,
     .flags = SR_CONF_SECRET,
     K(key_password),
     .doc = "TLS: the key's passphrase"},
    {.name = "sasl_mechanism",
     .type = SR_CONF_STRING,
     K(sasl_mechanism),
     .doc = "`PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512` or `GSSAPI`"},
    {.name = "username", .type = SR_CONF_STRING, K(username), .doc = "SASL user name"},
    {.name = "password",
     .type = SR_CONF_STRING,
     .flags = SR_CONF_SECRET,
     K(password),
     .doc = "SASL password"},
    {.name = "kerberos_service_name",
     .type = SR_CONF_STRING,
     K(kerberos_service_name),
     .doc = "GSSAPI: the brokers' service name (librdkafka's default `kafka`)"},
    {.name = "kerberos_principal",
     .type = SR_CONF_STRING,
     K(kerberos_principal),
     .doc = "GSSAPI: the client's principal"},
    {.name = "kerberos_keytab",
     .type = SR_CONF_STRING,
     K(kerberos_keytab),
     .doc = "GSSAPI: path of the client's keytab"},
    {.name = "properties",
     .type = SR_CONF_CUSTOM,
     K(props),
     .apply = read_props,
     .print = print_props,
     .drop = drop_props,
     .doc = "further librdkafka consumer properties (values are masked in `--check`); the "
            "keys above and what at-least-once needs win"},
    {.name = "max_batch_events",
     .type = SR_CONF_INT,
     K(max_batch_events),
     .dflt = "2000",
     .min = 1,
     .max = 100000,
     .expected = "1 to 100000",
     .doc = "messages per submission to the pipeline"},
    {.name = "max_batch",
     .type = SR_CONF_SIZE,
     K(max_batch_bytes),
     .dflt = "1MiB",
     .doc = "payload bytes per submission"},
    {.name = "commit_interval",
     .type = SR_CONF_DURATION,
     K(commit_interval_ms),
     .dflt = "1s",
     .doc = "how often safe offsets are committed (also at rebalances and shutdown)"},
    {.name = "lag_interval",
     .type = SR_CONF_DURATION,
     K(lag_interval_ms),
     .dflt = "5s",
     .doc = "how often the partitions' lag is measured"},
    {.name = NULL},
};

void sr_kafka_input_conf_defaults(sr_kafka_input_conf *c) {
    char err[256];
    memset(c, 0, sizeof *c);
    if (sr_conf_set_defaults(sr_kafka_input_conf_keys, c, err, sizeof err) != 0)
        sr_error("input.kafka", "defaults: %s", err); /* a table bug: the tests catch it */
}

void sr_kafka_input_conf_free(sr_kafka_input_conf *c) { sr_conf_free(sr_kafka_input_conf_keys, c); }

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

int sr_kafka_input_conf_copy(sr_kafka_input_conf *dst, const sr_kafka_input_conf *src) {
    *dst = *src;
    dst->topics = NULL;
    dst->props = NULL;
    dst->ntopics = dst->nprops = 0;
    char **strs[] = {&dst->brokers,
                     &dst->group_id,
                     &dst->client_id,
                     &dst->ca_file,
                     &dst->cert_file,
                     &dst->key_file,
                     &dst->key_password,
                     &dst->sasl_mechanism,
                     &dst->username,
                     &dst->password,
                     &dst->kerberos_service_name,
                     &dst->kerberos_principal,
                     &dst->kerberos_keytab};
    int rc = 0;
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        if (*strs[i] && !(*strs[i] = strdup(*strs[i])))
            rc = -1; /* the rest are still copies or NULL: free is safe */
    if (src->ntopics && (dst->topics = calloc(src->ntopics, sizeof *dst->topics)))
        for (; dst->ntopics < src->ntopics; dst->ntopics++)
            if (!(dst->topics[dst->ntopics] = strdup(src->topics[dst->ntopics])))
                rc = -1;
    if (src->nprops && (dst->props = calloc(src->nprops, sizeof *dst->props)))
        for (; dst->nprops < src->nprops; dst->nprops++) {
            dst->props[dst->nprops].name = dup_or_null(src->props[dst->nprops].name);
            dst->props[dst->nprops].value = dup_or_null(src->props[dst->nprops].value);
        }
    if ((src->ntopics && !dst->topics) || (src->nprops && !dst->props))
        rc = -1;
    return rc;
}

static int set(rd_kafka_conf_t *c, const char *name, const char *value, int secret, char *err,
               size_t errlen) {
    char why[512];
    if (rd_kafka_conf_set(c, name, value, why, sizeof why) == RD_KAFKA_CONF_OK)
        return 0;
    /* librdkafka may quote the value; a value may be a secret. */
    if (secret || (*value && strstr(why, value)))
        snprintf(err, errlen, "inputs.kafka: property '%s': invalid value", name);
    else
        snprintf(err, errlen, "inputs.kafka: property '%s': %s", name, why);
    return -1;
}

/* A raw property is treated as a secret when its name says it might be. */
static int secret_name(const char *name) {
    return strstr(name, "password") || strstr(name, "secret") || strstr(name, "token") ||
           strstr(name, "jaas");
}

static const char *security_protocol(const sr_kafka_input_conf *k) {
    if (k->sasl_mechanism)
        return k->tls ? "sasl_ssl" : "sasl_plaintext";
    return k->tls ? "ssl" : "plaintext";
}

rd_kafka_conf_t *sr_kafka_input_rdconf(const sr_kafka_input_conf *k, char *err, size_t errlen) {
    if (!k->brokers || !*k->brokers || k->ntopics == 0) {
        snprintf(err, errlen, "inputs.kafka: brokers and at least one topic are required");
        return NULL;
    }
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    if (!c) {
        snprintf(err, errlen, "inputs.kafka: out of memory");
        return NULL;
    }
    for (size_t i = 0; i < k->nprops; i++)
        if (set(c, k->props[i].name, k->props[i].value ? k->props[i].value : "",
                secret_name(k->props[i].name), err, errlen) != 0)
            goto fail;
    struct {
        const char *name, *value;
        int secret;
    } owned[] = {
        {"bootstrap.servers", k->brokers, 0},
        {"group.id", k->group_id ? k->group_id : "siemrelay", 0},
        {"client.id", k->client_id ? k->client_id : "siemrelay", 0},
        {"security.protocol", security_protocol(k), 0},
        {"ssl.ca.location", k->tls ? k->ca_file : NULL, 0},
        {"ssl.certificate.location", k->tls ? k->cert_file : NULL, 0},
        {"ssl.key.location", k->tls ? k->key_file : NULL, 0},
        {"ssl.key.password", k->tls ? k->key_password : NULL, 1},
        {"enable.ssl.certificate.verification", k->tls && !k->tls_verify ? "false" : NULL, 0},
        {"ssl.endpoint.identification.algorithm", k->tls && !k->tls_verify ? "none" : NULL, 0},
        {"sasl.mechanisms", k->sasl_mechanism, 0},
        {"sasl.username", k->username, 0},
        {"sasl.password", k->password, 1},
        {"sasl.kerberos.service.name", k->kerberos_service_name, 0},
        {"sasl.kerberos.principal", k->kerberos_principal, 0},
        {"sasl.kerberos.keytab", k->kerberos_keytab, 0},
        /* What at least once rests on: offsets are stored and committed by
         * the input only, never automatically. */
        {"enable.auto.commit", "false", 0},
        {"enable.auto.offset.store", "false", 0},
        {"auto.offset.reset", k->start_latest ? "latest" : "earliest", 0},
        {"enable.partition.eof", "false", 0},
        {"log.connection.close", "false", 0},
    };
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++)
        if (owned[i].value &&
            set(c, owned[i].name, owned[i].value, owned[i].secret, err, errlen) != 0)
            goto fail;
    return c;
fail:
    rd_kafka_conf_destroy(c);
    return NULL;
}
