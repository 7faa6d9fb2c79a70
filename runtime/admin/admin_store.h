/* admin_store.h - the integrations created through the admin API, and the
 * file that keeps them: <data_dir>/api-integrations.yaml.
 *
 * The file is an ordinary configuration file holding only an
 * `integrations:` list, so `siemrelay --check -c config.yaml -c
 * data/api-integrations.yaml` reads it, and the gateway loads it after its
 * -c files on start and on every reload. It holds secrets: it is written
 * with mode 0600, through a temporary file, fsync and rename.
 *
 * In memory an entry is the JSON object the API was given (one element of
 * the configuration's `integrations:` list). The file is rendered from the
 * entries in block style with every scalar on a line of its own, strings
 * double-quoted and `${` written as `$${` (values from the API are literal,
 * never environment references); the renderer records which field each
 * line holds, so an error the configuration loader reports as FILE:LINE
 * names the field ("configuration.endpoint").
 *
 * Reading an existing file turns each entry back into JSON: quoted scalars
 * are strings, plain ones booleans, numbers or null where they read as such,
 * else strings. (A hand-edited file is rewritten in this form at the next
 * change; ${VAR} references in it are written back expanded.) */
#ifndef SR_ADMIN_STORE_H
#define SR_ADMIN_STORE_H

#include <stddef.h>

#include "buf.h"

typedef struct sr_admin_entry {
    char *name; /* the entry's "name"; NULL when it has none */
    char *json; /* the object, compact */
    size_t len;
} sr_admin_entry;

typedef struct sr_admin_entries {
    sr_admin_entry *v;
    size_t n;
} sr_admin_entries;

/* Which field of which entry each rendered line holds. */
typedef struct sr_admin_line {
    int entry;      /* index into the entries; -1: not inside one */
    char path[128]; /* "name", "configuration.endpoint", "channels[1]"; "" for the entry itself */
} sr_admin_line;

typedef struct sr_admin_linemap {
    sr_admin_line *lines; /* lines[0] is line 1 */
    size_t n;
} sr_admin_linemap;

/* Reads `path` (a missing file is no entries). -1 with `err` for a file
 * that cannot be read or is not an `integrations:` list of maps. */
int sr_admin_store_load(const char *path, sr_admin_entries *out, char *err, size_t errlen);

long sr_admin_entries_find(const sr_admin_entries *e, const char *name); /* case-insensitive */
int sr_admin_entries_copy(const sr_admin_entries *src, sr_admin_entries *dst);
/* Replaces the entry named like `json`'s name (same position), or appends. */
int sr_admin_entries_put(sr_admin_entries *e, const char *name, const char *json, size_t len);
void sr_admin_entries_remove(sr_admin_entries *e, long index);
void sr_admin_entries_free(sr_admin_entries *e);

/* The file's text, and (map may be NULL) its line map. */
int sr_admin_store_render(const sr_admin_entries *e, sr_buf *out, sr_admin_linemap *map);
void sr_admin_linemap_free(sr_admin_linemap *map);

/* Writes `text` to `path` with mode 0600 and fsyncs it. */
int sr_admin_store_write(const char *path, const char *text, size_t len, char *err, size_t errlen);
/* Renames `from` over `to` and fsyncs the directory. */
int sr_admin_store_install(const char *from, const char *to, char *err, size_t errlen);

/* Turns a configuration error about the rendered file at `file` into the
 * message to show (without the FILE:LINE: prefix) and the field it is
 * about (into field[fieldlen]; "" when unknown). `entry_json` is the entry
 * being written, for errors that name an option only in their text. For an
 * error in another file, the message is `err` itself and the field "". */
const char *sr_admin_store_explain(const char *err, const char *file, const sr_admin_linemap *map,
                                   int entry, const char *entry_json, char *field, size_t fieldlen);

/* Checks an API request body as one `integrations:` entry and normalises
 * it into `out` (compact JSON): an object with a string "type" and a
 * "name" (required; for PUT, `path_name` must agree or the name is taken
 * from it). Where the body's configuration gives a value as "******", the
 * stored entry's value (`old`, may be NULL) of the same key is kept. On -1,
 * `err` says what is wrong and `field` names the field. */
int sr_admin_entry_normalise(const char *body, size_t len, const char *path_name, const char *old,
                             sr_buf *out, char *name, size_t namelen, char *err, size_t errlen,
                             char *field, size_t fieldlen);

#define SR_ADMIN_MASK "******"

#endif
