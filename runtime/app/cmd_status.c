/* cmd_status.c - `siemrelay status`: fetch GET /api/integrations, print it. */
#include "cmd_status.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_client.h"
#include "array.h"
#include "json.h"

#define STATUS_MAX_CONFIGS 16

/* ---- The table ------------------------------------------------------------ */

enum {
    COL_NAME,
    COL_TYPE,
    COL_STATUS,
    COL_SINCE,
    COL_QUEUED,
    COL_DELIVERED,
    COL_RETRIED,
    COL_DEAD,
    COL_ERROR,
    NCOLS
};

static const char *const headings[NCOLS] = {
    "NAME",      "TYPE",    "STATUS",        "SINCE",      "QUEUED",
    "DELIVERED", "RETRIED", "DEAD-LETTERED", "LAST ERROR",
};

/* Where each column's value lives in an integration object. */
static const char *const paths[NCOLS][2] = {
    {"name", NULL},          {"type", NULL},
    {"status", NULL},        {"since", NULL},
    {"queue", "events"},     {"counters", "delivered"},
    {"counters", "retried"}, {"counters", "dead_lettered"},
    {"last_error", NULL},
};

/* Characters on screen, near enough: UTF-8 lead bytes. */
static size_t display_width(const char *s) {
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

static int find_path(const char *obj, size_t n, const char *const path[2], const char **val,
                     sr_json_member *m) {
    if (!sr_json_object_get(obj, n, path[0], strlen(path[0]), m))
        return 0;
    *val = obj + m->val_off;
    if (!path[1])
        return 1;
    if (m->type != SR_JSON_OBJECT)
        return 0;
    const char *inner = *val;
    if (!sr_json_object_get(inner, m->val_len, path[1], strlen(path[1]), m))
        return 0;
    *val = inner + m->val_off;
    return 1;
}

/* One cell as text: strings unescaped, numbers as sent, anything else "-". */
static char *cell_text(const char *obj, size_t n, int col) {
    sr_buf b = SR_BUF_INIT;
    const char *val;
    sr_json_member m;
    int rc = 0;
    if (!find_path(obj, n, paths[col], &val, &m) ||
        (m.type != SR_JSON_STRING && m.type != SR_JSON_NUMBER))
        rc = sr_buf_puts(&b, "-");
    else if (m.type == SR_JSON_NUMBER)
        rc = sr_buf_append(&b, val, m.val_len);
    else
        rc = sr_json_unescape(val, m.val_len, 1, &b);
    if (rc == 0 && b.len == 0)
        rc = sr_buf_puts(&b, "-");
    if (rc != 0) {
        sr_buf_free(&b);
        return NULL;
    }
    for (size_t i = 0; i < b.len; i++)
        if ((unsigned char)b.data[i] < 0x20 || b.data[i] == 0x7f)
            b.data[i] = ' '; /* a newline in an error must not break the table */
    if (col == COL_SINCE && b.len > 20 && b.data[19] == '.') {
        /* Seconds are precise enough on a terminal: drop ".mmm". */
        memmove(b.data + 19, b.data + b.len - 1, 2);
        b.len = 20;
    }
    return sr_buf_steal(&b, NULL);
}

static int put_row(sr_buf *out, const char *const *cells, const size_t *width) {
    int rc = 0;
    for (int c = 0; c < NCOLS; c++) {
        rc |= sr_buf_puts(out, cells[c]);
        if (c == NCOLS - 1)
            break;
        for (size_t w = display_width(cells[c]); w < width[c] + 2; w++)
            rc |= sr_buf_putc(out, ' ');
    }
    rc |= sr_buf_putc(out, '\n');
    return rc ? -1 : 0;
}

int sr_status_table(const char *json, size_t len, sr_buf *out, char *err, size_t errlen) {
    sr_json_error jerr;
    size_t start = 0, nrows = 0, pos = 0;
    char *(*rows)[NCOLS] = NULL;
    size_t width[NCOLS];
    sr_json_member m;
    int rc = -1;

    if (sr_json_validate(json, len, SR_JSON_DEFAULT_MAX_DEPTH, &jerr) != 0) {
        snprintf(err, errlen, "the answer is not JSON (byte %zu: %s)", jerr.offset, jerr.msg);
        return -1;
    }
    while (start < len && isspace((unsigned char)json[start]))
        start++;
    if (json[start] != '[') {
        snprintf(err, errlen, "the answer is not a JSON array of integrations");
        return -1;
    }
    const char *arr = json + start;
    size_t arrlen = len - start;
    size_t cap = 0;
    while (sr_json_array_next(arr, arrlen, &pos, &m)) {
        if (m.type != SR_JSON_OBJECT) {
            snprintf(err, errlen, "the answer holds something that is not an integration object");
            goto fail;
        }
        void *grown = sr_array_grow(rows, &cap, nrows + 1, sizeof *rows, 16);
        if (!grown)
            goto oom;
        rows = grown;
        memset(rows[nrows], 0, sizeof rows[nrows]);
        nrows++;
        for (int c = 0; c < NCOLS; c++)
            if (!(rows[nrows - 1][c] = cell_text(arr + m.val_off, m.val_len, c)))
                goto oom;
    }

    for (int c = 0; c < NCOLS; c++) {
        width[c] = display_width(headings[c]);
        for (size_t r = 0; r < nrows; r++) {
            size_t w = display_width(rows[r][c]);
            if (w > width[c])
                width[c] = w;
        }
    }
    if (put_row(out, headings, width) != 0)
        goto oom;
    for (size_t r = 0; r < nrows; r++)
        if (put_row(out, (const char *const *)rows[r], width) != 0)
            goto oom;
    rc = 0;
    goto fail;

oom:
    snprintf(err, errlen, "out of memory");
fail:
    for (size_t r = 0; r < nrows; r++)
        for (int c = 0; c < NCOLS; c++)
            free(rows[r][c]);
    free(rows);
    return rc;
}

/* ---- Command -------------------------------------------------------------- */

static void usage(FILE *out) {
    fprintf(out, "usage: siemrelay status [-c FILE ...] [--admin HOST:PORT] [--json]\n"
                 "\n"
                 "Prints the integrations of a running gateway, read from its admin API\n"
                 "(admin.listen in the configuration files, default 127.0.0.1:9090).\n"
                 "  -c, --config FILE   the gateway's configuration (several are merged)\n"
                 "      --admin ADDR    the admin API's [https://]HOST:PORT (overrides -c)\n"
                 "      --json          print the API's JSON instead of a table\n"
                 "Environment: SIEMRELAY_ADMIN_TOKEN, and for HTTPS SIEMRELAY_ADMIN_CACERT,\n"
                 "SIEMRELAY_ADMIN_CERT, SIEMRELAY_ADMIN_KEY (docs/admin.md).\n");
}

int sr_cmd_status(int argc, char **argv) {
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"admin", required_argument, NULL, 'a'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *files[STATUS_MAX_CONFIGS];
    const char *admin = NULL;
    size_t nfiles = 0;
    int json = 0, c;
    char err[1024] = "", addr[300];
    sr_admin_address a;

    optind = 0; /* a fresh scan, whatever parsed the command line before */
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            if (nfiles == STATUS_MAX_CONFIGS) {
                fprintf(stderr, "siemrelay status: at most %d configuration files\n",
                        STATUS_MAX_CONFIGS);
                return 2;
            }
            files[nfiles++] = optarg;
            break;
        case 'a': admin = optarg; break;
        case 'j': json = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "siemrelay status: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }

    int where = sr_admin_address_resolve(admin, files, nfiles, &a, err, sizeof err);
    if (where != 0) {
        fprintf(stderr, "siemrelay status: %s\n", err);
        return where == 1 ? 1 : 2;
    }
    sr_admin_address_format(&a, addr, sizeof addr);

    sr_buf body = SR_BUF_INIT, table = SR_BUF_INIT;
    int rc = 1;
    int status = sr_admin_call(&a, "GET", "/api/integrations", "status", &body, err, sizeof err);
    if (status < 0) {
        fprintf(stderr,
                "siemrelay status: cannot reach the gateway's admin API at %s: %s "
                "(is siemrelay running, with the admin API enabled?)\n",
                addr, err);
        goto done;
    }
    if (status != 200) {
        fprintf(stderr, "siemrelay status: the admin API at %s answered HTTP %d: %.*s\n", addr,
                status, (int)(body.len > 300 ? 300 : body.len), body.data ? body.data : "");
        goto done;
    }
    if (json) {
        fwrite(body.data, 1, body.len, stdout);
        if (!body.len || body.data[body.len - 1] != '\n')
            putchar('\n');
        rc = 0;
        goto done;
    }
    if (sr_status_table(body.data ? body.data : "", body.len, &table, err, sizeof err) != 0) {
        fprintf(stderr, "siemrelay status: the admin API at %s: %s\n", addr, err);
        goto done;
    }
    fwrite(table.data, 1, table.len, stdout);
    rc = 0;
done:
    sr_buf_free(&body);
    sr_buf_free(&table);
    return fflush(stdout) == 0 ? rc : 1;
}
