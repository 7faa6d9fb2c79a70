/* sink_settings.c - a transport's settings struct, handled through its key
 * table alone: created with the defaults, set key by key, freed.
 *
 * Strings and props set here are owned by the struct; a struct a caller
 * fills by hand (tests, a fallback sink) is never passed to
 * sr_sink_settings_free. */
#include <stdlib.h>
#include <string.h>

#include "sink.h"

#define FIELD(s, k, T) ((T *)((char *)(s) + (k)->offset))

const sr_sink_key *sr_sink_key_find(const sr_sink_transport *t, const char *name) {
    for (const sr_sink_key *k = t->keys; k->name; k++)
        if (strcmp(k->name, name) == 0)
            return k;
    return NULL;
}

void *sr_sink_settings_new(const sr_sink_transport *t) {
    void *s = calloc(1, t->settings_size);
    if (!s)
        return NULL;
    for (const sr_sink_key *k = t->keys; k->name; k++)
        if (k->type == SR_SINK_KEY_INT || k->type == SR_SINK_KEY_BOOL)
            sr_sink_settings_set_int(s, k, k->def);
    return s;
}

int sr_sink_settings_set_string(void *settings, const sr_sink_key *k, const char *value) {
    const char **field = FIELD(settings, k, const char *);
    char *copy = value ? strdup(value) : NULL;
    if (value && !copy)
        return -1;
    free((char *)*field);
    *field = copy;
    return 0;
}

void sr_sink_settings_set_int(void *settings, const sr_sink_key *k, long long value) {
    if (k->type == SR_SINK_KEY_BOOL)
        *FIELD(settings, k, int) = value != 0;
    else
        *FIELD(settings, k, long long) = value;
}

static void props_free(sr_sink_props *p) {
    for (size_t i = 0; i < p->n; i++) {
        free((char *)p->items[i].name);
        free((char *)p->items[i].value);
    }
    free((sr_sink_prop *)p->items);
    p->items = NULL;
    p->n = 0;
}

void sr_sink_settings_set_props(void *settings, const sr_sink_key *k, sr_sink_prop *items,
                                size_t n) {
    sr_sink_props *p = FIELD(settings, k, sr_sink_props);
    props_free(p);
    p->items = items;
    p->n = n;
}

void sr_sink_settings_cap(const sr_sink_transport *t, void *settings, const char *name,
                          long long max) {
    const sr_sink_key *k = sr_sink_key_find(t, name);
    if (!k || k->type != SR_SINK_KEY_INT)
        return;
    long long *v = FIELD(settings, k, long long);
    if (*v <= 0 || *v > max)
        *v = max;
}

void sr_sink_settings_free(const sr_sink_transport *t, void *settings) {
    if (!settings)
        return;
    for (const sr_sink_key *k = t->keys; k->name; k++) {
        if (k->type == SR_SINK_KEY_STRING)
            free((char *)*FIELD(settings, k, const char *));
        else if (k->type == SR_SINK_KEY_PROPS)
            props_free(FIELD(settings, k, sr_sink_props));
    }
    free(settings);
}
