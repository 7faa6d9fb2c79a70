/* admin_bounds.c - the directories an API-defined integration may reach,
 * checked on its JSON entry before anything loads it. */
#include "admin_bounds.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "confine.h"
#include "json.h"

/* Settings of the configuration files alone: where Lua modules come from,
 * who the process runs as, where it keeps its files. */
static const char *const file_only[] = {"lua_dir", "integration_paths", "user",
                                        "group",   "data_dir",          NULL};

typedef struct check {
    const sr_admin_bounds *b;
    char *err, *field;
    size_t errlen, fieldlen;
} check;

static int refuse(check *c, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int refuse(check *c, const char *field, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, c->errlen, fmt, ap);
    va_end(ap);
    snprintf(c->field, c->fieldlen, "%s", field);
    return -1;
}

/* A member's key, unescaped, compared ASCII case-insensitively (the
 * configuration loader matches keys that way). */
static int key_is(const char *obj, const sr_json_member *m, const char *name) {
    sr_buf k = SR_BUF_INIT;
    int is = sr_json_unescape(obj + m->key_off, m->key_len, 0, &k) == 0 && k.len &&
             strlen(k.data) == k.len && strcasecmp(k.data, name) == 0;
    sr_buf_free(&k);
    return is;
}

/* A string value, unescaped (NULL when not a string or holding a NUL). */
static char *string_of(const char *obj, const sr_json_member *m) {
    sr_buf s = SR_BUF_INIT;
    if (m->type != SR_JSON_STRING || sr_json_unescape(obj + m->val_off, m->val_len, 1, &s) != 0 ||
        !s.data || strlen(s.data) != s.len) {
        sr_buf_free(&s);
        return NULL;
    }
    size_t n;
    return sr_buf_steal(&s, &n);
}

/* One script path: under script_dir, a regular file reached without a
 * link. Writes the absolute path into `out`. */
static int check_script(check *c, const char *path, sr_buf *out) {
    char abs[PATH_MAX + 256], why[1200];
    const char *dir = c->b->script_dir;
    if (!dir)
        return refuse(c, "scripts",
                      "integrations defined through the admin API may not name scripts: "
                      "admin.script_dir is not set (%s)",
                      path);
    int fd = sr_confine_open_file(dir, path, "script", abs, sizeof abs, why, sizeof why);
    if (fd < 0)
        return refuse(c, "scripts", "%s%s", why,
                      strstr(why, "outside") ? " (admin.script_dir)" : "");
    close(fd);
    return sr_buf_json_string(out, abs, strlen(abs)) ? refuse(c, "", "out of memory") : 0;
}

/* A script entry: a path, or {path, params} with the path rewritten. */
static int check_script_entry(check *c, const char *v, const sr_json_member *m, sr_buf *out) {
    if (m->type == SR_JSON_STRING) {
        char *path = string_of(v, m);
        int rc = path ? check_script(c, path, out)
                      : refuse(c, "scripts", "a script path must be a string");
        free(path);
        return rc;
    }
    if (m->type != SR_JSON_OBJECT)
        return refuse(c, "scripts", "a script entry is a path or {path, params}");
    const char *obj = v + m->val_off;
    size_t pos = 0;
    sr_json_member e;
    int first = 1, rc = sr_buf_putc(out, '{');
    while (sr_json_object_next(obj, m->val_len, &pos, &e)) {
        rc |= sr_buf_puts(out, first ? "\"" : ",\"");
        first = 0;
        rc |= sr_buf_append(out, obj + e.key_off, e.key_len);
        rc |= sr_buf_puts(out, "\":");
        if (!key_is(obj, &e, "path")) {
            rc |= sr_json_compact(obj + e.val_off, e.val_len, out);
            continue;
        }
        char *path = string_of(obj, &e);
        if (!path)
            return refuse(c, "scripts", "a script path must be a string");
        int bad = check_script(c, path, out);
        free(path);
        if (bad)
            return -1;
    }
    rc |= sr_buf_putc(out, '}');
    return rc ? refuse(c, "", "out of memory") : 0;
}

static int check_scripts(check *c, const char *v, const sr_json_member *m, sr_buf *out) {
    if (m->type != SR_JSON_ARRAY)
        return check_script_entry(c, v, m, out);
    const char *arr = v + m->val_off;
    size_t pos = 0;
    sr_json_member e;
    int first = 1;
    if (sr_buf_putc(out, '['))
        return refuse(c, "", "out of memory");
    while (sr_json_array_next(arr, m->val_len, &pos, &e)) {
        if ((!first && sr_buf_putc(out, ',')) || check_script_entry(c, arr, &e, out) != 0)
            return -1;
        first = 0;
    }
    return sr_buf_putc(out, ']') ? refuse(c, "", "out of memory") : 0;
}

/* A FILE integration's path: below files_dir, no link, not someone
 * else's file. A directory or file not there yet is the sink's to create. */
static int check_file_path(check *c, const char *path) {
    char rel[PATH_MAX], why[600];
    const char *dir = c->b->files_dir;
    if (sr_confine_relative(dir, path, rel, sizeof rel, why, sizeof why) != 0)
        return refuse(c, "configuration.path", "path refused: %s (admin.files_dir: %s)", why, dir);
    int fd = sr_confine_open_below(dir, rel, path, why, sizeof why);
    if (fd < 0 && errno == ENOENT)
        return 0;
    if (fd < 0)
        return refuse(c, "configuration.path", "path refused: %s", why);
    struct stat st;
    int ours =
        fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1 && sr_confine_marked(fd);
    close(fd);
    if (!ours)
        return refuse(c, "configuration.path",
                      "path refused: %s exists and was not created by siemrelay; an integration "
                      "defined through the admin API writes only files it creates",
                      path);
    return 0;
}

static int is_file_type(const char *entry, size_t len) {
    size_t pos = 0;
    sr_json_member m;
    while (sr_json_object_next(entry, len, &pos, &m)) {
        if (!key_is(entry, &m, "type"))
            continue;
        char *t = string_of(entry, &m);
        int file = t && strcasecmp(t, "FILE") == 0;
        free(t);
        if (file)
            return 1;
    }
    return 0;
}

static int check_configuration(check *c, const char *v, const sr_json_member *m) {
    const char *obj = v + m->val_off;
    size_t pos = 0;
    sr_json_member e;
    while (m->type == SR_JSON_OBJECT && sr_json_object_next(obj, m->val_len, &pos, &e)) {
        if (!key_is(obj, &e, "path"))
            continue;
        char *path = string_of(obj, &e);
        int rc = path ? check_file_path(c, path)
                      : refuse(c, "configuration.path", "'path' must be a string");
        free(path);
        if (rc)
            return -1;
    }
    return 0;
}

int sr_admin_bounds_check(const sr_admin_bounds *b, const char *entry, size_t len, sr_buf *out,
                          char *err, size_t errlen, char *field, size_t fieldlen) {
    check c = {b, err, field, errlen, fieldlen};
    int file = is_file_type(entry, len);
    size_t pos = 0;
    sr_json_member m;
    int first = 1, rc = sr_buf_putc(out, '{');
    field[0] = '\0';
    while (sr_json_object_next(entry, len, &pos, &m)) {
        for (size_t i = 0; file_only[i]; i++)
            if (key_is(entry, &m, file_only[i]))
                return refuse(&c, file_only[i],
                              "'%s' is a setting of the configuration files only: the admin API "
                              "cannot set it",
                              file_only[i]);
        rc |= sr_buf_puts(out, first ? "\"" : ",\"");
        first = 0;
        rc |= sr_buf_append(out, entry + m.key_off, m.key_len);
        rc |= sr_buf_puts(out, "\":");
        if (key_is(entry, &m, "scripts")) {
            if (check_scripts(&c, entry, &m, out) != 0)
                return -1;
            continue;
        }
        if (file && key_is(entry, &m, "configuration") && check_configuration(&c, entry, &m) != 0)
            return -1;
        rc |= sr_json_compact(entry + m.val_off, m.val_len, out);
    }
    rc |= sr_buf_putc(out, '}');
    return rc ? refuse(&c, "", "out of memory") : 0;
}

/* `dir` resolved (as written when it cannot be), with a trailing '/'. */
static void resolved(const char *dir, char *out, size_t outlen) {
    char real[PATH_MAX];
    const char *p = realpath(dir, real) ? real : dir;
    size_t n = strlen(p);
    snprintf(out, outlen, "%s%s", p, n && p[n - 1] == '/' ? "" : "/");
}

/* One of the two directories holds the other (or they are one). */
static int nested(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    return strncmp(a, b, na < nb ? na : nb) == 0;
}

int sr_admin_bounds_apart(const sr_admin_bounds *b, const char *data_dir, char *err,
                          size_t errlen) {
    char s[PATH_MAX + 1], o[PATH_MAX + 1];
    const char *others[] = {b->files_dir, data_dir};
    const char *names[] = {"admin.files_dir", "data_dir"};
    if (!b->script_dir)
        return 0;
    resolved(b->script_dir, s, sizeof s);
    for (size_t i = 0; i < 2; i++) {
        if (!others[i])
            continue;
        resolved(others[i], o, sizeof o);
        if (nested(s, o)) {
            snprintf(err, errlen,
                     "admin.script_dir %s and %s %s overlap: scripts must not come from where the "
                     "gateway writes what others send",
                     b->script_dir, names[i], others[i]);
            return -1;
        }
    }
    return 0;
}

void sr_admin_scrub_file_text(char *msg) {
    static const char *const marks[] = {" near '", " near \"", NULL};
    for (size_t i = 0; marks[i]; i++) {
        char *p = strstr(msg, marks[i]);
        if (p)
            *p = '\0';
    }
}
