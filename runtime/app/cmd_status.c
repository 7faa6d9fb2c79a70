/* cmd_status.c - `siemrelay status`: fetch GET /api/integrations with libcurl, print it. */
#include "cmd_status.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "json.h"

#define STATUS_MAX_CONFIGS  16
#define STATUS_TIMEOUT_S    5
#define STATUS_MAX_ANSWER   (64u << 20)
#define STATUS_DEFAULT_HOST "127.0.0.1"
#define STATUS_DEFAULT_PORT 9090

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
        if (nrows == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            void *grown = realloc(rows, ncap * sizeof *rows);
            if (!grown)
                goto oom;
            rows = grown;
            cap = ncap;
        }
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

/* ---- Fetching ------------------------------------------------------------- */

typedef struct address {
    char host[256];
    char port[8];
} address;

/* "host:port" or "[v6]:port", parsed as the configuration does. */
static int parse_address(const char *s, address *a) {
    char *host = NULL;
    int port;
    if (sr_parse_listen(s, &host, &port) != 0 || strlen(host) >= sizeof a->host) {
        free(host);
        return -1;
    }
    snprintf(a->host, sizeof a->host, "%s", host);
    snprintf(a->port, sizeof a->port, "%d", port);
    free(host);
    return 0;
}

static void set_address(address *a, const char *host, int port) {
    /* A gateway bound to every address is reachable on loopback. */
    if (strcmp(host, "0.0.0.0") == 0 || *host == '\0')
        host = "127.0.0.1";
    else if (strcmp(host, "::") == 0)
        host = "::1";
    snprintf(a->host, sizeof a->host, "%s", host);
    snprintf(a->port, sizeof a->port, "%d", port);
}

static void format_address(const address *a, char *out, size_t n) {
    if (strchr(a->host, ':')) /* IPv6 */
        snprintf(out, n, "[%s]:%s", a->host, a->port);
    else
        snprintf(out, n, "%s:%s", a->host, a->port);
}

typedef struct answer {
    sr_buf *body;
    int too_large;
} answer;

/* Collects the body, refusing more than STATUS_MAX_ANSWER. */
static size_t on_body(char *p, size_t size, size_t n, void *ud) {
    answer *ans = ud;
    size_t len = size * n;
    if (ans->body->len + len > STATUS_MAX_ANSWER) {
        ans->too_large = 1;
        return 0; /* curl stops with CURLE_WRITE_ERROR */
    }
    return sr_buf_append(ans->body, p, len) == 0 ? len : 0;
}

/* Why a transfer failed, in the words the command has always used: the
 * system's reason for a refused or timed-out connection. */
static void failure(CURL *e, CURLcode rc, const answer *ans, const char *curl_err, char *err,
                    size_t errlen) {
    long os_errno = 0;
    curl_off_t connected = 0;
    curl_easy_getinfo(e, CURLINFO_OS_ERRNO, &os_errno);
    curl_easy_getinfo(e, CURLINFO_CONNECT_TIME_T, &connected);
    if (rc == CURLE_WRITE_ERROR)
        snprintf(err, errlen, "%s", ans->too_large ? "the answer is too large" : "out of memory");
    else if (rc == CURLE_WEIRD_SERVER_REPLY)
        snprintf(err, errlen, "the answer is not HTTP");
    else if (rc == CURLE_OPERATION_TIMEDOUT)
        snprintf(err, errlen, "%s",
                 connected ? "reading the answer: timed out" : strerror(ETIMEDOUT));
    else if (rc == CURLE_COULDNT_CONNECT && os_errno)
        snprintf(err, errlen, "%s", strerror((int)os_errno));
    else
        snprintf(err, errlen, "%s", *curl_err ? curl_err : curl_easy_strerror(rc));
}

/* GETs `path` with libcurl; on success returns the HTTP status with the
 * body in `body`, else -1 with the reason in `err`. Plain HTTP only, no
 * proxy (the admin API is local, and a proxy from the environment must not
 * see the token), the token from $SIEMRELAY_ADMIN_TOKEN. A connection
 * attempt and any stall of the answer are each cut at STATUS_TIMEOUT_S. */
static int http_get(const address *a, const char *path, sr_buf *body, char *err, size_t errlen) {
    char url[512], addr[300], auth[4200] = "", agent[64], curl_err[CURL_ERROR_SIZE] = "";
    struct curl_slist *headers = NULL, *h;
    answer ans = {body, 0};
    int status = -1;
    long code = 0;
    format_address(a, addr, sizeof addr);
    snprintf(url, sizeof url, "http://%s%s", addr, path);
    snprintf(agent, sizeof agent, "siemrelay-status/%s", SR_VERSION);
    /* An admin API with admin.tokens wants a viewer's token (docs/admin.md). */
    const char *token = getenv("SIEMRELAY_ADMIN_TOKEN");
    if (token && *token && strlen(token) < 4096 && !strpbrk(token, "\r\n"))
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "cannot initialise libcurl");
        return -1;
    }
    CURL *e = curl_easy_init();
    if (!e || !(h = curl_slist_append(NULL, "Accept: application/json")))
        goto oom;
    headers = h;
    if (*auth) {
        if (!(h = curl_slist_append(headers, auth)))
            goto oom;
        headers = h;
    }
    if (curl_easy_setopt(e, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http") != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_NOPROXY, "*") != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_USERAGENT, agent) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)STATUS_TIMEOUT_S) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)STATUS_TIMEOUT_S) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, curl_err) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &ans) != CURLE_OK) {
        snprintf(err, errlen, "cannot configure libcurl");
        goto done;
    }
    CURLcode rc = curl_easy_perform(e);
    if (rc != CURLE_OK)
        failure(e, rc, &ans, curl_err, err, errlen);
    else if (curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK || code <= 0)
        snprintf(err, errlen, "the answer is not HTTP");
    else
        status = (int)code;
    goto done;

oom:
    snprintf(err, errlen, "out of memory");
done:
    curl_slist_free_all(headers);
    if (e)
        curl_easy_cleanup(e);
    curl_global_cleanup();
    return status;
}

/* ---- Command -------------------------------------------------------------- */

static void usage(FILE *out) {
    fprintf(out, "usage: siemrelay status [-c FILE ...] [--admin HOST:PORT] [--json]\n"
                 "\n"
                 "Prints the integrations of a running gateway, read from its admin API\n"
                 "(admin.listen in the configuration files, default 127.0.0.1:9090).\n"
                 "  -c, --config FILE   the gateway's configuration (several are merged)\n"
                 "      --admin ADDR    the admin API's HOST:PORT (overrides -c)\n"
                 "      --json          print the API's JSON instead of a table\n");
}

/* The admin address from the configuration files. Returns 0, 1 (admin API
 * disabled there), or -1 with the loader's message in err. */
static int address_from_config(const char *const *files, size_t n, address *a, char *err,
                               size_t errlen) {
    sr_config cfg;
    int rc = sr_config_load(&cfg, files, n, err, errlen);
    if (rc == 0) {
        if (!cfg.admin.enabled)
            rc = 1;
        else
            set_address(a, cfg.admin.host ? cfg.admin.host : STATUS_DEFAULT_HOST, cfg.admin.port);
    }
    sr_config_free(&cfg);
    return rc;
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
    address a;

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

    set_address(&a, STATUS_DEFAULT_HOST, STATUS_DEFAULT_PORT);
    if (admin) {
        if (parse_address(admin, &a) != 0) {
            fprintf(stderr,
                    "siemrelay status: --admin '%s': expected HOST:PORT such as "
                    "127.0.0.1:9090 or [::1]:9090\n",
                    admin);
            return 2;
        }
    } else if (nfiles) {
        int rc = address_from_config(files, nfiles, &a, err, sizeof err);
        if (rc < 0) {
            fprintf(stderr, "siemrelay status: %s (--admin HOST:PORT skips the configuration)\n",
                    err);
            return 2;
        }
        if (rc == 1) {
            fprintf(stderr, "siemrelay status: the admin API is disabled in the configuration "
                            "(admin.enabled: false)\n");
            return 1;
        }
    }
    format_address(&a, addr, sizeof addr);

    sr_buf body = SR_BUF_INIT, table = SR_BUF_INIT;
    int rc = 1;
    int status = http_get(&a, "/api/integrations", &body, err, sizeof err);
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
