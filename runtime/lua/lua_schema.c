/* lua_schema.c - integration types and their option schemas, read from
 * the modules themselves. */
#include "lua_schema.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <lauxlib.h>

#include "event.h"
#include "lua_host_impl.h"

#define MAX_TYPES     256
#define DEFAULT_DEPTH 8

typedef struct found_type {
    char type[128];
    char path[4096];
} found_type;

/* ---- finding the modules --------------------------------------------------- */

static int by_type(const void *a, const void *b) {
    return strcmp(((const found_type *)a)->type, ((const found_type *)b)->type);
}

static size_t scan_dir(const char *dir, found_type *found, size_t n) {
    DIR *d = opendir(dir);
    struct dirent *e;
    if (!d)
        return n;
    while (n < MAX_TYPES && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len <= 4 || len - 4 >= sizeof found->type || strcmp(e->d_name + len - 4, ".lua") != 0)
            continue;
        char type[128];
        for (size_t k = 0; k < len - 4; k++)
            type[k] = (char)toupper((unsigned char)e->d_name[k]);
        type[len - 4] = '\0';
        int seen = 0;
        for (size_t k = 0; k < n && !seen; k++)
            seen = strcmp(found[k].type, type) == 0;
        if (seen)
            continue; /* an earlier directory wins */
        snprintf(found[n].type, sizeof found[n].type, "%s", type);
        snprintf(found[n].path, sizeof found[n].path, "%s/%s", dir, e->d_name);
        n++;
    }
    closedir(d);
    return n;
}

/* ---- describing one module (inside a protected call) ----------------------- */

static void put_string(sr_buf *b, const char *s) { sr_buf_json_string(b, s, strlen(s)); }

static void put_value(lua_State *L, int idx, sr_buf *b, int depth) {
    if (idx < 0)
        idx = lua_gettop(L) + idx + 1;
    switch (lua_type(L, idx)) {
    case LUA_TBOOLEAN: sr_buf_puts(b, lua_toboolean(L, idx) ? "true" : "false"); return;
    case LUA_TNUMBER: {
        double v = lua_tonumber(L, idx);
        if (v == (double)(long long)v && v > -9007199254740992.0 && v < 9007199254740992.0)
            sr_buf_printf(b, "%lld", (long long)v);
        else
            sr_buf_printf(b, "%.17g", v);
        return;
    }
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        sr_buf_json_string(b, s, n);
        return;
    }
    case LUA_TTABLE:
        if (depth < DEFAULT_DEPTH) {
            size_t n = lua_objlen(L, idx);
            if (n > 0) {
                sr_buf_putc(b, '[');
                for (size_t i = 1; i <= n; i++) {
                    lua_rawgeti(L, idx, (int)i);
                    if (i > 1)
                        sr_buf_putc(b, ',');
                    put_value(L, -1, b, depth + 1);
                    lua_pop(L, 1);
                }
                sr_buf_putc(b, ']');
                return;
            }
            int first = 1;
            sr_buf_putc(b, '{');
            for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) {
                if (lua_type(L, -2) != LUA_TSTRING)
                    continue;
                sr_buf_puts(b, first ? "" : ",");
                first = 0;
                put_string(b, lua_tostring(L, -2));
                sr_buf_putc(b, ':');
                put_value(L, -1, b, depth + 1);
            }
            sr_buf_putc(b, '}');
            return;
        }
        break;
    default: break;
    }
    sr_buf_puts(b, "null");
}

typedef struct option_name {
    const char *name; /* anchored in the module's options table */
    int required;
} option_name;

static int option_order(const void *a, const void *b) {
    const option_name *x = a, *y = b;
    if (x->required != y->required)
        return y->required - x->required;
    return strcasecmp(x->name, y->name);
}

static void put_aliases(lua_State *L, int options, const char *target, sr_buf *b) {
    int first = 1;
    sr_buf_puts(b, ",\"aliases\":[");
    for (lua_pushnil(L); lua_next(L, options); lua_pop(L, 1)) {
        if (lua_type(L, -2) != LUA_TSTRING || !lua_istable(L, -1))
            continue;
        lua_getfield(L, -1, "alias_of");
        if (lua_isstring(L, -1) && strcmp(lua_tostring(L, -1), target) == 0) {
            sr_buf_puts(b, first ? "" : ",");
            first = 0;
            put_string(b, lua_tostring(L, -3));
        }
        lua_pop(L, 1);
    }
    sr_buf_putc(b, ']');
}

static void put_option(lua_State *L, int options, const char *name, sr_buf *b) {
    lua_getfield(L, options, name);
    int opt = lua_gettop(L);
    sr_buf_puts(b, "{\"name\":");
    put_string(b, name);
    lua_getfield(L, opt, "type");
    sr_buf_puts(b, ",\"type\":");
    put_string(b, lua_isstring(L, -1) ? lua_tostring(L, -1) : "string");
    lua_getfield(L, opt, "required");
    lua_getfield(L, opt, "secret");
    sr_buf_printf(b, ",\"required\":%s,\"secret\":%s", lua_toboolean(L, -2) ? "true" : "false",
                  lua_toboolean(L, -1) ? "true" : "false");
    int secret = lua_toboolean(L, -1);
    lua_getfield(L, opt, "default");
    sr_buf_puts(b, ",\"default\":");
    if (secret)
        sr_buf_puts(b, lua_isnil(L, -1) ? "null" : "\"******\"");
    else
        put_value(L, -1, b, 0);
    lua_getfield(L, opt, "enum");
    sr_buf_puts(b, ",\"enum\":");
    if (lua_istable(L, -1))
        put_value(L, -1, b, 0);
    else
        sr_buf_puts(b, "null");
    lua_getfield(L, opt, "description");
    sr_buf_puts(b, ",\"description\":");
    if (lua_isstring(L, -1))
        put_string(b, lua_tostring(L, -1));
    else
        sr_buf_puts(b, "null");
    put_aliases(L, options, name, b);
    sr_buf_putc(b, '}');
    lua_settop(L, opt - 1);
}

static void put_options(lua_State *L, int mod, sr_buf *b) {
    lua_getfield(L, mod, "options");
    int options = lua_gettop(L);
    sr_buf_puts(b, ",\"options\":[");
    if (!lua_istable(L, options)) {
        sr_buf_putc(b, ']');
        lua_pop(L, 1);
        return;
    }
    size_t n = 0, cap = 16;
    option_name *names = lua_newuserdata(L, cap * sizeof *names);
    for (lua_pushnil(L); lua_next(L, options); lua_pop(L, 1)) {
        if (lua_type(L, -2) != LUA_TSTRING || !lua_istable(L, -1))
            continue;
        lua_getfield(L, -1, "alias_of");
        int alias = !lua_isnil(L, -1);
        lua_getfield(L, -2, "required");
        int required = lua_toboolean(L, -1);
        lua_pop(L, 2);
        if (alias)
            continue;
        if (n == cap) {
            option_name *more = lua_newuserdata(L, 2 * cap * sizeof *more);
            memcpy(more, names, n * sizeof *names);
            lua_replace(L, options + 1); /* the old block is garbage now */
            names = more;
            cap *= 2;
        }
        names[n].name = lua_tostring(L, -2);
        names[n].required = required;
        n++;
    }
    qsort(names, n, sizeof *names, option_order);
    for (size_t i = 0; i < n; i++) {
        if (i)
            sr_buf_putc(b, ',');
        put_option(L, options, names[i].name, b);
    }
    sr_buf_putc(b, ']');
    lua_settop(L, options - 1);
}

static void put_channels(lua_State *L, int mod, sr_buf *b) {
    lua_getfield(L, mod, "channels");
    sr_buf_puts(b, ",\"channels\":[");
    if (lua_istable(L, -1)) {
        size_t n = lua_objlen(L, -1);
        for (size_t i = 1; i <= n; i++) {
            lua_rawgeti(L, -1, (int)i);
            if (i > 1)
                sr_buf_putc(b, ',');
            put_string(b, lua_isstring(L, -1) ? lua_tostring(L, -1) : "?");
            lua_pop(L, 1);
        }
    } else {
        for (unsigned bit = 1; bit <= SR_CH_MONITOR_EVENTS; bit <<= 1)
            sr_buf_printf(b, "%s\"%s\"", bit > 1 ? "," : "", sr_channel_name(bit));
    }
    sr_buf_putc(b, ']');
    lua_pop(L, 1);
}

typedef struct describe_call {
    const found_type *t;
    sr_buf *out;
} describe_call;

static int describe(lua_State *L) {
    describe_call *c = lua_touserdata(L, 1);
    lua_settop(L, 0);
    char what[4400];
    snprintf(what, sizeof what, "integration type %s (%s)", c->t->type, c->t->path);
    sr_lua_run_file(L, c->t->path, what);
    if (!lua_istable(L, 1))
        sr_lua_raise(L, "%s: the module must return a table", what);
    lua_getfield(L, 1, "transport");
    sr_buf_puts(c->out, ",\"transport\":");
    if (lua_isstring(L, -1))
        put_string(c->out, lua_tostring(L, -1));
    else
        sr_buf_puts(c->out, "null");
    lua_pop(L, 1);
    put_channels(L, 1, c->out);
    put_options(L, 1, c->out);
    return 0;
}

/* ---- the catalogue ----------------------------------------------------------- */

int sr_lua_schema_catalog(const sr_lua_host_conf *conf, sr_buf *out, char *err, size_t errlen) {
    sr_lua_host_conf bare = *conf;
    bare.integrations = NULL;
    bare.nintegrations = 0;
    bare.scripts = NULL;
    bare.nscripts = 0;
    found_type *found = calloc(MAX_TYPES, sizeof *found);
    sr_lua_host *h = found ? sr_lua_host_new(&bare, err, errlen) : NULL;
    if (!h) {
        if (!found)
            snprintf(err, errlen, "out of memory");
        free(found);
        return -1;
    }
    size_t n = 0;
    char dir[4096];
    for (size_t i = 0; i < conf->nintegration_paths; i++)
        n = scan_dir(conf->integration_paths[i], found, n);
    snprintf(dir, sizeof dir, "%s/integrations", conf->lua_dir ? conf->lua_dir : "lua");
    n = scan_dir(dir, found, n);
    qsort(found, n, sizeof *found, by_type);

    sr_buf_putc(out, '[');
    for (size_t i = 0; i < n; i++) {
        sr_buf one = SR_BUF_INIT;
        describe_call c = {&found[i], &one};
        sr_buf_puts(out, i ? ",{\"type\":" : "{\"type\":");
        put_string(out, found[i].type);
        sr_buf_puts(out, ",\"file\":");
        put_string(out, found[i].path);
        int top = lua_gettop(h->L);
        if (lua_cpcall(h->L, describe, &c) == 0) {
            sr_buf_append(out, one.data, one.len);
            sr_buf_puts(out, ",\"error\":null}");
        } else {
            const char *msg = lua_tostring(h->L, -1);
            sr_buf_puts(out, ",\"transport\":null,\"channels\":[],\"options\":[],\"error\":");
            put_string(out, msg ? msg : "cannot load the module");
            sr_buf_putc(out, '}');
        }
        lua_settop(h->L, top);
        sr_buf_free(&one);
    }
    sr_buf_putc(out, ']');
    sr_lua_host_free(h);
    free(found);
    return 0;
}
