/* log.h - leveled logging to stderr, as text or JSON lines.
 *
 * Thread-safe: each record is formatted into a local buffer and written with
 * one write(2). Callers must never pass secrets: configuration values marked
 * secret are masked before they reach any log call (see config.h). */
#ifndef SR_LOG_H
#define SR_LOG_H

#include <stddef.h>

typedef enum { SR_LOG_DEBUG, SR_LOG_INFO, SR_LOG_WARN, SR_LOG_ERROR } sr_log_level;

typedef enum { SR_LOG_TEXT, SR_LOG_JSON } sr_log_format;

void sr_log_configure(sr_log_level level, sr_log_format format);
/* Parses "debug"|"info"|"warn"|"error" and "text"|"json"; -1 if unknown. */
int sr_log_level_parse(const char *s);
int sr_log_format_parse(const char *s);
int sr_log_enabled(sr_log_level level);

/* `component` names the module ("input.http", "sink.http", ...). */
void sr_log(sr_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A record with further members: JSON text values (`json` of `len` bytes)
 * under their keys. In JSON format each is one more member of the record;
 * in text format they follow the message as ` key=<json>`. */
typedef struct sr_log_field {
    const char *key;
    const char *json;
    size_t len;
} sr_log_field;

void sr_log_fields(sr_log_level level, const char *component, const sr_log_field *fields,
                   size_t nfields, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#define sr_debug(c, ...) sr_log(SR_LOG_DEBUG, c, __VA_ARGS__)
#define sr_info(c, ...)  sr_log(SR_LOG_INFO, c, __VA_ARGS__)
#define sr_warn(c, ...)  sr_log(SR_LOG_WARN, c, __VA_ARGS__)
#define sr_error(c, ...) sr_log(SR_LOG_ERROR, c, __VA_ARGS__)

#endif
