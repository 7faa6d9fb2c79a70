/* log.c - leveled logging to stderr. */
#include "log.h"

#include "buf.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <stdio.h>
#include <strings.h>
#include <unistd.h>

/* The two settings are the only process-wide logging state; they are written
 * once at start-up (and on reload) and read by every thread. */
static _Atomic int log_level = SR_LOG_INFO;
static _Atomic int log_format = SR_LOG_TEXT;

static const char *level_names[] = {"debug", "info", "warn", "error"};

void sr_log_configure(sr_log_level level, sr_log_format format) {
    log_level = level;
    log_format = format;
}

int sr_log_level_parse(const char *s) {
    for (int i = 0; i < 4; i++)
        if (strcasecmp(s, level_names[i]) == 0)
            return i;
    if (strcasecmp(s, "warning") == 0)
        return SR_LOG_WARN;
    return -1;
}

int sr_log_format_parse(const char *s) {
    if (strcasecmp(s, "text") == 0)
        return SR_LOG_TEXT;
    if (strcasecmp(s, "json") == 0)
        return SR_LOG_JSON;
    return -1;
}

int sr_log_enabled(sr_log_level level) { return (int)level >= log_level; }

static void vlog(sr_log_level level, const char *component, const sr_log_field *fields,
                 size_t nfields, const char *fmt, va_list ap) {
    char stamp[40];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(stamp + n, sizeof stamp - n, ".%03dZ", (int)(tv.tv_usec / 1000));

    sr_buf msg = SR_BUF_INIT, line = SR_BUF_INIT;
    sr_buf_vprintf(&msg, fmt, ap);
    if (log_format == SR_LOG_JSON) {
        sr_buf_printf(&line, "{\"time\":\"%s\",\"level\":\"%s\",\"component\":", stamp,
                      level_names[level]);
        sr_buf_json_string(&line, component, strlen(component));
        sr_buf_puts(&line, ",\"msg\":");
        sr_buf_json_string(&line, msg.data ? msg.data : "", msg.len);
        for (size_t i = 0; i < nfields; i++) {
            sr_buf_putc(&line, ',');
            sr_buf_json_string(&line, fields[i].key, strlen(fields[i].key));
            sr_buf_putc(&line, ':');
            sr_buf_append(&line, fields[i].json, fields[i].len);
        }
        sr_buf_puts(&line, "}\n");
    } else {
        sr_buf_printf(&line, "%s %-5s [%s] %s", stamp, level_names[level], component,
                      msg.data ? msg.data : "");
        for (size_t i = 0; i < nfields; i++) {
            sr_buf_printf(&line, " %s=", fields[i].key);
            sr_buf_append(&line, fields[i].json, fields[i].len);
        }
        sr_buf_putc(&line, '\n');
    }
    if (line.data) {
        ssize_t w = write(STDERR_FILENO, line.data, line.len);
        (void)w;
    }
    sr_buf_free(&msg);
    sr_buf_free(&line);
}

void sr_log(sr_log_level level, const char *component, const char *fmt, ...) {
    if (!sr_log_enabled(level))
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(level, component, NULL, 0, fmt, ap);
    va_end(ap);
}

void sr_log_fields(sr_log_level level, const char *component, const sr_log_field *fields,
                   size_t nfields, const char *fmt, ...) {
    if (!sr_log_enabled(level))
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(level, component, fields, nfields, fmt, ap);
    va_end(ap);
}
