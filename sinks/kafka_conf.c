/* kafka_conf.c - the kafka sink's settings as librdkafka configuration.
 *
 * sr_kafka_settings (kafka.h) carries the brokers, topic and key field, the TLS files
 * shared with other transports, timeout_ms (librdkafka's message.timeout.ms:
 * how long the producer keeps retrying one message before its delivery
 * report fails it), and `props`: librdkafka properties from the Lua module,
 * plus the sink's own "header.<Name>" (static message headers) and
 * "keytab.base64" (a Kerberos keytab; librdkafka only takes a path, so the
 * decoded bytes go to a file, 0600, in a fresh 0700 directory made by
 * mkdtemp under $TMPDIR or /tmp, removed when the sink closes).
 *
 * Property values may be credentials (sasl.password): error messages name
 * the property and never repeat its value. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kafka.h"

const char *sr_kafka_restricted_prop(const char *name) {
    /* By the shape of librdkafka's names, so that a property a later
     * version adds (a new *.location, *.file) is refused too. */
    static const char *const code[] = {"plugin.", "engine", "provider", "interceptor", NULL};
    static const char *const ends[] = {".location",  ".file",   ".path", ".paths",
                                       ".directory", ".stores", NULL};
    size_t n = strlen(name);
    for (size_t i = 0; code[i]; i++)
        if (strstr(name, code[i]))
            return "it loads code into the gateway";
    if (strstr(name, "kinit") || (n >= 4 && strcmp(name + n - 4, ".cmd") == 0))
        return "it runs a command";
    for (size_t i = 0; ends[i]; i++) {
        size_t e = strlen(ends[i]);
        if (n >= e && strcmp(name + n - e, ends[i]) == 0)
            return "it names a file of this machine";
    }
    if (strstr(name, "keytab") && strcmp(name, "keytab.base64") != 0)
        return "it names a file of this machine";
    return NULL;
}

static char *dup_or_null(const char *s) { return s && *s ? strdup(s) : NULL; }

/* Strict enough: OpenSSL's decoder skips line breaks (a keytab pasted as
 * wrapped PEM-style text) and refuses other characters. */
static unsigned char *b64_decode(const char *in, size_t inlen, size_t *outlen) {
    if (inlen > (size_t)INT32_MAX)
        return NULL;
    unsigned char *out = malloc(inlen / 4 * 3 + 4);
    EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
    int n = 0, tail = 0;
    if (!out || !ctx)
        goto fail;
    EVP_DecodeInit(ctx);
    if (EVP_DecodeUpdate(ctx, out, &n, (const unsigned char *)in, (int)inlen) < 0 ||
        EVP_DecodeFinal(ctx, out + n, &tail) != 1)
        goto fail;
    EVP_ENCODE_CTX_free(ctx);
    *outlen = (size_t)n + (size_t)tail;
    return out;
fail:
    EVP_ENCODE_CTX_free(ctx);
    free(out);
    return NULL;
}

static int write_all(int fd, const unsigned char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int keytab_write(sr_kafka_opts *o, const char *b64, char *err, size_t errlen) {
    size_t len = 0;
    unsigned char *bytes = b64_decode(b64, strlen(b64), &len);
    int fd = -1;
    if (!bytes || len == 0) {
        snprintf(err, errlen, "kafka sink: the keytab is not valid base64");
        free(bytes);
        return -1;
    }
    const char *tmp = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/siemrelay-kafka-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(tmpl)) { /* 0700 */
        snprintf(err, errlen, "kafka sink: cannot create a private directory for the keytab: %s",
                 strerror(errno));
        goto fail;
    }
    o->keytab_dir = strdup(tmpl);
    char path[4200];
    snprintf(path, sizeof path, "%s/keytab", tmpl);
    o->keytab_path = strdup(path);
    if (!o->keytab_dir || !o->keytab_path) {
        snprintf(err, errlen, "kafka sink: out of memory");
        goto fail;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 || write_all(fd, bytes, len) != 0 || close(fd) != 0) {
        fd = -1;
        snprintf(err, errlen, "kafka sink: cannot write the keytab %s: %s", path, strerror(errno));
        goto fail;
    }
    OPENSSL_cleanse(bytes, len);
    free(bytes);
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    OPENSSL_cleanse(bytes, len);
    free(bytes);
    return -1; /* sr_kafka_opts_free removes what was made */
}

int sr_kafka_opts_init(sr_kafka_opts *o, const sr_kafka_settings *s, char *err, size_t errlen) {
    memset(o, 0, sizeof *o);
    if (!s->brokers || !*s->brokers || !s->topic || !*s->topic) {
        snprintf(err, errlen, "kafka sink: brokers and topic are required");
        return -1;
    }
    o->brokers = strdup(s->brokers);
    o->topic = strdup(s->topic);
    o->key_field = dup_or_null(s->key_field);
    o->ca_file = dup_or_null(s->ca_file);
    o->cert_file = dup_or_null(s->cert_file);
    o->key_file = dup_or_null(s->key_file);
    o->timeout_ms = s->timeout_ms > 0 ? s->timeout_ms : 0;
    o->insecure = s->insecure;
    const sr_sink_props *in = &s->props;
    o->props = in->n ? calloc(in->n, sizeof *o->props) : NULL;
    if (!o->brokers || !o->topic || (s->key_field && *s->key_field && !o->key_field) ||
        (in->n && !o->props))
        goto oom;
    size_t hlen = strlen(SR_KAFKA_HEADER_PREFIX);
    for (size_t i = 0; i < in->n; i++) {
        const char *name = in->items[i].name, *value = in->items[i].value ? in->items[i].value : "";
        if (strncmp(name, SR_KAFKA_HEADER_PREFIX, hlen) == 0) {
            if (!name[hlen]) {
                snprintf(err, errlen, "kafka sink: a header needs a name ('%s<Name>')",
                         SR_KAFKA_HEADER_PREFIX);
                goto fail;
            }
            if (sr_kafka_header_add(&o->headers, name + hlen, value) != 0)
                goto oom;
        } else if (strcmp(name, SR_KAFKA_KEYTAB_PROP) == 0) {
            if (o->keytab_path || keytab_write(o, value, err, errlen) != 0)
                goto fail;
        } else {
            sr_sink_prop *p = &o->props[o->nprops];
            p->name = strdup(name);
            p->value = strdup(value);
            o->nprops++;
            if (!p->name || !p->value)
                goto oom;
        }
    }
    return 0;
oom:
    snprintf(err, errlen, "kafka sink: out of memory");
fail:
    sr_kafka_opts_free(o);
    return -1;
}

void sr_kafka_opts_free(sr_kafka_opts *o) {
    if (o->keytab_path)
        unlink(o->keytab_path);
    if (o->keytab_dir)
        rmdir(o->keytab_dir);
    free(o->keytab_path);
    free(o->keytab_dir);
    for (size_t i = 0; i < o->nprops; i++) {
        free((char *)o->props[i].name);
        free((char *)o->props[i].value);
    }
    free(o->props);
    if (o->headers)
        rd_kafka_headers_destroy(o->headers);
    free(o->brokers);
    free(o->topic);
    free(o->key_field);
    free(o->ca_file);
    free(o->cert_file);
    free(o->key_file);
    memset(o, 0, sizeof *o);
}

static int set(rd_kafka_conf_t *c, const char *name, const char *value, char *err, size_t errlen) {
    char why[512];
    if (rd_kafka_conf_set(c, name, value, why, sizeof why) == RD_KAFKA_CONF_OK)
        return 0;
    /* librdkafka quotes bad values in its message; a value may be a secret. */
    if (*value && strstr(why, value))
        snprintf(err, errlen, "kafka sink: property '%s': invalid value", name);
    else
        snprintf(err, errlen, "kafka sink: property '%s': %s", name, why);
    return -1;
}

rd_kafka_conf_t *sr_kafka_conf_new(const sr_kafka_opts *o, char *err, size_t errlen) {
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    char num[32];
    if (!c) {
        snprintf(err, errlen, "kafka sink: out of memory");
        return NULL;
    }
    /* Defaults the module's props may override. */
    if (set(c, "client.id", "siemrelay", err, errlen) != 0 ||
        /* Brokers close idle connections; that is no news worth a log line. */
        set(c, "log.connection.close", "false", err, errlen) != 0)
        goto fail;
    if (o->timeout_ms > 0) {
        snprintf(num, sizeof num, "%ld", o->timeout_ms);
        if (set(c, "message.timeout.ms", num, err, errlen) != 0)
            goto fail;
    }
    if (o->insecure && (set(c, "enable.ssl.certificate.verification", "false", err, errlen) != 0 ||
                        set(c, "ssl.endpoint.identification.algorithm", "none", err, errlen) != 0))
        goto fail;
    if ((o->ca_file && set(c, "ssl.ca.location", o->ca_file, err, errlen) != 0) ||
        (o->cert_file && set(c, "ssl.certificate.location", o->cert_file, err, errlen) != 0) ||
        (o->key_file && set(c, "ssl.key.location", o->key_file, err, errlen) != 0) ||
        (o->keytab_path && set(c, "sasl.kerberos.keytab", o->keytab_path, err, errlen) != 0))
        goto fail;
    for (size_t i = 0; i < o->nprops; i++)
        if (set(c, o->props[i].name, o->props[i].value, err, errlen) != 0)
            goto fail;
    /* Last, so nothing overrides them: the delivery guarantees rest on an
     * idempotent producer whose every write is acknowledged by all in-sync
     * replicas. */
    if (set(c, "bootstrap.servers", o->brokers, err, errlen) != 0 ||
        set(c, "enable.idempotence", "true", err, errlen) != 0 ||
        set(c, "acks", "all", err, errlen) != 0)
        goto fail;
    return c;
fail:
    rd_kafka_conf_destroy(c);
    return NULL;
}
