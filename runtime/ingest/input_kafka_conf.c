/* input_kafka_conf.c - `inputs.kafka` to a librdkafka consumer configuration. */
#include "input_kafka_conf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sr_kafka_input_conf_defaults(sr_kafka_input_conf *c) {
    memset(c, 0, sizeof *c);
    c->tls_verify = 1;
    c->max_batch_events = 2000;
    c->max_batch_bytes = 1 << 20;
    c->commit_interval_ms = 1000;
    c->lag_interval_ms = 5000;
}

void sr_kafka_input_conf_free(sr_kafka_input_conf *c) {
    for (size_t i = 0; i < c->ntopics; i++)
        free(c->topics[i]);
    free(c->topics);
    for (size_t i = 0; i < c->nprops; i++) {
        free(c->props[i].name);
        free(c->props[i].value);
    }
    free(c->props);
    char **strs[] = {&c->brokers,
                     &c->group_id,
                     &c->client_id,
                     &c->ca_file,
                     &c->cert_file,
                     &c->key_file,
                     &c->key_password,
                     &c->sasl_mechanism,
                     &c->username,
                     &c->password,
                     &c->kerberos_service_name,
                     &c->kerberos_principal,
                     &c->kerberos_keytab};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        free(*strs[i]);
    sr_kafka_input_conf_defaults(c);
}

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
