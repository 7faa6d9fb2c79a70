/* event_path.h - nested fields of an event: paths, and edits spliced into
 * the event's bytes.
 *
 * A path is `n` segments. Segment k is an object key when keys[k] is not
 * NULL (lens[k] bytes of unescaped UTF-8, dots and brackets allowed: a key
 * is never split), and an array index lens[k] (counted from 0) when keys[k]
 * is NULL. The first segment is always a key: an event is an object.
 *
 * A nested edit rewrites the JSON text of the top-level field it lies under
 * by splicing: the bytes of the edited member change, every other byte of
 * that field (siblings, key order, 64-bit integers, [], {}, null, escapes)
 * is copied as it was. The result is stored as an edit of the top-level
 * field (sr_event_set_owned), so edits under the same field compose, and
 * top-level and nested edits mix freely.
 *
 * Duplicate keys: a lookup finds the last occurrence (what decoders read);
 * set replaces the last occurrence and removes the earlier ones, delete
 * removes them all, so a redacted value cannot survive in a shadowed copy.
 *
 * Errors fill `err->msg` ("'labels' is a string, not an object", "index 4
 * is out of range (3 elements)", ...) and set `err->offset` to the segment
 * that failed. The event is unchanged by a failed edit. */
#ifndef SR_EVENT_PATH_H
#define SR_EVENT_PATH_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "json.h"

#define SR_EVENT_PATH_MAX 32 /* segments in one path */

/* Parses the path syntax scripts use:
 *
 *   labels.app                      keys separated by dots
 *   labels["kubernetes.pod.name"]   a key in brackets and double quotes
 *   labels['kubernetes.pod.name']   ... or single quotes; \" \' \\ escape
 *   content.ruleTags[0]             an array index, from 0
 *
 * A dotted name is any bytes but '.', '[' and ']'. Fills up to `max`
 * segments into keys/lens (index segments as described above); unescaped
 * quoted keys are written to `store`, which must hold n bytes, and the other
 * keys point into `s`. Returns the segment count, or -1 with `err` filled
 * (offset = byte of `s` at fault). */
int sr_event_path_parse(const char *s, size_t n, const char **keys, uint32_t *lens, uint32_t max,
                        char *store, sr_json_error *err);

/* The current value at a path (edits applied): its JSON text through *val,
 * *vlen and its sr_json_type, or -1 when the path does not resolve. */
int sr_event_get_path(const sr_event *ev, const char *const *keys, const uint32_t *lens, uint32_t n,
                      const char **val, uint32_t *vlen);

/* Sets the value at a path to the JSON text `val` (valid JSON; compacted
 * here when it holds whitespace). Missing objects on the way are created
 * ({"a":{"b":v}}); an index may name an existing element or the one just
 * past the end (appended). Anything else that does not resolve (through a
 * string, an index out of range, an index into a missing array) is an
 * error. Setting "severity" or "type" (n == 1) re-derives the
 * classification. Returns 0 or -1. */
int sr_event_set_path(sr_event *ev, const char *const *keys, const uint32_t *lens, uint32_t n,
                      const char *val, uint32_t vlen, sr_json_error *err);

/* Same with a string value: `s` is raw UTF-8, escaped here. */
int sr_event_set_path_string(sr_event *ev, const char *const *keys, const uint32_t *lens,
                             uint32_t n, const char *s, uint32_t slen, sr_json_error *err);

/* Removes the member or element at a path. A missing member is not an
 * error (there is nothing to remove); a path through a value that is not an
 * object or array is. Array elements after a removed one move down. */
int sr_event_delete_path(sr_event *ev, const char *const *keys, const uint32_t *lens, uint32_t n,
                         sr_json_error *err);

/* Moves the value at `from` to `to`. When both name keys of the same object,
 * the member keeps its place and only its key changes (a member already
 * named `to` there is replaced); otherwise it is removed at `from` and set
 * at `to` (appended, as set_path does). `from` must exist. */
int sr_event_rename_path(sr_event *ev, const char *const *fkeys, const uint32_t *flens, uint32_t fn,
                         const char *const *tkeys, const uint32_t *tlens, uint32_t tn,
                         sr_json_error *err);

#endif
