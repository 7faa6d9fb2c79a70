/* file.h - the "file" transport: records appended as lines to a rotating
 * file (runtime/base/rotating_file.h), written and fdatasync'ed on the libuv
 * threadpool, in send() order (sinks/file.c). */
#ifndef SR_FILE_H
#define SR_FILE_H

#include "sink.h"

/* Its keys; file.c's table has the defaults, taken literally here (0 keeps
 * no rotated files). The path is copied. */
typedef struct sr_file_settings {
    const char *path;       /* required */
    long long rotate_bytes; /* rotate when the file would exceed it; 0 = never */
    long long keep_files;   /* rotated files kept: path.1 .. path.N */
    /* NULL, or the directory `path` is confined to (relative to it, or
     * absolute under it): reached without following symbolic links, and
     * only files the sink created are written, truncated or rotated away
     * (rotating_file.h). The Lua host sets it for integrations defined
     * through the admin API (admin.files_dir). */
    const char *root;
} sr_file_settings;

/* A path that cannot be opened fails creation (NULL, `err`); a later write
 * error fails that batch through the callback (transport_ok 0, `error`). */
sr_sink *sr_file_sink_new(uv_loop_t *loop, const sr_file_settings *s, char *err, size_t errlen);

#endif
