/* sink.h - the small interface every native transport implements.
 *
 * A sink moves one batch to its destination and reports what happened; it
 * never retries or decides what a response means. The delivery layer
 * (runtime/delivery/delivery.c) owns batching, retry, inhibition and dead-lettering,
 * and asks the integration's Lua `outcome` to classify HTTP responses.
 *
 * Lifecycle: create with the transport's constructor, call send() any number
 * of times (one batch in flight per call; a sink may accept several at once),
 * close() when done. send() copies what it needs from the payload, so the
 * caller may free it as soon as send() returns. The done callback is always
 * called later from the uv loop, exactly once per successful send(), never
 * from inside send(). After close() no callback fires; in-flight batches
 * are abandoned (the delivery layer still holds their records). */
#ifndef SR_SINK_H
#define SR_SINK_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct sr_sink sr_sink;

typedef struct sr_sink_header {
    const char *name;
    const char *value;
} sr_sink_header;

/* An HTTP request as an integration's Lua `request` builds it. */
typedef struct sr_sink_request {
    const char *method; /* "POST" if NULL */
    const char *url;
    const sr_sink_header *headers;
    size_t nheaders;
    const char *body;
    size_t body_len;
} sr_sink_request;

typedef struct sr_sink_payload {
    const char *const *recs; /* the encoded records, in order */
    const uint32_t *lens;
    size_t n;
    const sr_sink_request *http; /* http transport only */
} sr_sink_payload;

#define SR_SINK_BODY_EXCERPT 65536

typedef struct sr_sink_result {
    int transport_ok; /* 0: failed before any response (refused, timeout,
                         TLS, write error); `error` says why */
    char error[256];
    long status;      /* HTTP status; 0 for non-HTTP sinks */
    const char *body; /* response body, at most SR_SINK_BODY_EXCERPT bytes */
    size_t body_len;
    long retry_after_ms; /* from Retry-After, or -1 */
    double latency_ms;   /* send() to completion */
    /* Non-HTTP transports that learn each record's fate (kafka delivery
     * reports) set items[i] to an sr_sink_item per record, in payload order,
     * and item_errors[i] to a reason (or NULL). NULL items: the whole batch
     * shares transport_ok. */
    const uint8_t *items;
    const char *const *item_errors;
    size_t nitems;
} sr_sink_result;

typedef enum { SR_SINK_ITEM_OK, SR_SINK_ITEM_RETRY, SR_SINK_ITEM_REJECT } sr_sink_item;

typedef void (*sr_sink_done_cb)(void *ud, const sr_sink_result *res);

typedef struct sr_sink_ops {
    const char *name;
    int (*send)(sr_sink *s, const sr_sink_payload *p, sr_sink_done_cb cb, void *ud);
    void (*close)(sr_sink *s);
} sr_sink_ops;

struct sr_sink {
    const sr_sink_ops *ops;
};

/* ---- Settings ------------------------------------------------------------
 *
 * Each transport has a settings struct of its own and declares the keys it
 * accepts in a table (as an integration module declares M.options): the
 * name setup() returns it under (the struct field of the same name), its
 * type, where it lives in the struct, its default and what it means. The Lua
 * host fills a transport's settings from what the integration's `setup`
 * returned through that table alone (runtime/lua/lua_sink_settings.c), so a
 * new transport is its file plus one line in sinks/registry.c. */

typedef struct sr_sink_prop {
    const char *name;
    const char *value;
} sr_sink_prop;

/* Name/value strings: setup's `props` table, sorted by name. */
typedef struct sr_sink_props {
    const sr_sink_prop *items;
    size_t n;
} sr_sink_props;

typedef enum {
    SR_SINK_KEY_STRING, /* const char *; NULL when setup leaves it out */
    SR_SINK_KEY_INT,    /* long long */
    SR_SINK_KEY_BOOL,   /* int, 0 or 1 (any Lua value, by its truth) */
    SR_SINK_KEY_PROPS,  /* sr_sink_props, from a table of strings, numbers, booleans */
} sr_sink_key_type;

typedef struct sr_sink_key {
    const char *name;
    sr_sink_key_type type;
    size_t offset; /* of the field in the transport's settings struct */
    long long def; /* INT and BOOL: the value when setup leaves the key out */
    const char *description;
    int reads_file; /* a STRING naming a file the sink reads: for an integration defined
                       through the admin API it must lie under admin.credentials_dir */
} sr_sink_key;

/* A row of a key table: the key is named after the field. */
#define SR_SINK_KEY(T, field, type, def, description)                                              \
    { #field, type, offsetof(T, field), def, description, 0 }
/* A row for a file the sink reads (reads_file). */
#define SR_SINK_KEY_FILE(T, field, description)                                                    \
    { #field, SR_SINK_KEY_STRING, offsetof(T, field), 0, description, 1 }

/* The TLS client keys a transport shares with others (fields of these names
 * and types in its struct). */
#define SR_SINK_TLS_KEYS(T)                                                                        \
    SR_SINK_KEY(T, insecure, SR_SINK_KEY_BOOL, 0, "skip certificate and host-name verification"),  \
        SR_SINK_KEY_FILE(T, ca_file, "PEM bundle to verify the server with"),                      \
        SR_SINK_KEY_FILE(T, cert_file, "client certificate (mTLS)"),                               \
        SR_SINK_KEY_FILE(T, key_file, "client certificate's key (mTLS)")

typedef struct sr_sink_transport {
    const char *name;        /* what an integration module's M.transport names */
    const sr_sink_key *keys; /* ends with a row whose name is NULL */
    size_t settings_size;    /* of its settings struct */
    /* Creates a sink from a settings struct of this transport. Fails (NULL,
     * `err`) only for unusable settings. */
    sr_sink *(*open)(uv_loop_t *loop, const void *settings, char *err, size_t errlen);
    /* Why the PROPS entry `name` reaches beyond the destination (loads
     * code, runs a command, reads a file of this machine), or NULL when it
     * does not: an integration defined through the admin API may not set
     * it. NULL: the transport takes no such property. */
    const char *(*restricted_prop)(const char *name);
} sr_sink_transport;

/* ---- The registry (sinks/registry.c) --------------------------------------- */

/* The transport of that name, or NULL. */
const sr_sink_transport *sr_sink_transport_find(const char *name);
/* The known transport names, space-separated ("http file stream kafka"). */
void sr_sink_transport_names(char *buf, size_t len);

/* Opens the sink for a transport name with a settings struct of that
 * transport. Unknown names fail with a message listing the known ones. */
sr_sink *sr_sink_open(uv_loop_t *loop, const char *transport, const void *settings, char *err,
                      size_t errlen);

/* ---- Settings values (sinks/sink_settings.c) ------------------------------- */

/* The key of that name, or NULL. */
const sr_sink_key *sr_sink_key_find(const sr_sink_transport *t, const char *name);

/* A settings struct of the transport with every key at its default (strings
 * NULL, no props); NULL when out of memory. Free with sr_sink_settings_free. */
void *sr_sink_settings_new(const sr_sink_transport *t);
/* Sets one key of `settings`: a copy of the string (0, or -1 when out of
 * memory), a number or truth value, or the props (taken over: the array
 * and its strings must be malloc'd). */
int sr_sink_settings_set_string(void *settings, const sr_sink_key *k, const char *value);
void sr_sink_settings_set_int(void *settings, const sr_sink_key *k, long long value);
void sr_sink_settings_set_props(void *settings, const sr_sink_key *k, sr_sink_prop *items,
                                size_t n);
/* Lowers the INT key `name` to `max` when its value is not in 1..max
 * (nothing when the transport has no such key): how the admin API's probe
 * keeps a test send short whatever the integration's timeouts. */
void sr_sink_settings_cap(const sr_sink_transport *t, void *settings, const char *name,
                          long long max);
/* Frees the strings and props the settings own, then the struct. */
void sr_sink_settings_free(const sr_sink_transport *t, void *settings);

static inline int sr_sink_send(sr_sink *s, const sr_sink_payload *p, sr_sink_done_cb cb, void *ud) {
    return s->ops->send(s, p, cb, ud);
}
static inline void sr_sink_close(sr_sink *s) { s->ops->close(s); }

#endif
