/* lua_options.c - an integration's `configuration:` block checked against
 * its module's option schema (M.options), producing the Lua `conf` table;
 * and a site script's `params:` against the script's own `params` schema,
 * which has the same shape.
 *
 * These errors are usually the first thing a user sees of siemrelay, so each
 * names the file, the line of the offending key, the integration, and what
 * would have been right. Values of options marked `secret` never appear in
 * an error or in the description.
 *
 * Everything runs inside a protected call: errors are raised with
 * sr_lua_raise() and all scratch lives on the Lua stack. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <lauxlib.h>

#include "lua_host_impl.h"

#define MAX_EXACT_INT 9007199254740992LL /* 2^53 */

/* Stack slots of the check, so helpers can reach them by index. */
typedef struct check_ctx {
    lua_State *L;
    const char *who;    /* whose values: "integration 'siem' (WEBHOOK)" */
    const char *owner;  /* whose schema: "integration type WEBHOOK" */
    const char *schema; /* "M.options" */
    const char *file;   /* where a missing required key is reported */
    int line;
    int options; /* the schema */
    int lookup;  /* lower-case name or alias -> canonical name */
    int conf;    /* the table being built */
    int lines;   /* canonical name -> line of the key that set it */
} check_ctx;

static const char *const option_types[] = {"string", "boolean", "integer", "number",
                                           "list",   "map",     "any",     NULL};

/* ---- Errors ------------------------------------------------------------- */

static void raise_at(check_ctx *c, const char *file, int line, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 4, 5)));

static void raise_at(check_ctx *c, const char *file, int line, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sr_lua_raise(c->L, "%s:%d: %s: %s", file ? file : "?", line, c->who, msg);
}

/* Secret values are not echoed, even when they are wrong. */
static const char *shown(int secret, const sr_node *n) { return secret ? "******" : n->text; }

/* ---- The schema --------------------------------------------------------- */

static void push_lower(lua_State *L, const char *s) {
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (; *s; s++)
        luaL_addchar(&b, (char)tolower((unsigned char)*s));
    luaL_pushresult(&b);
}

/* Pushes options[name][field]. */
static void opt_field(check_ctx *c, const char *name, const char *field) {
    lua_getfield(c->L, c->options, name);
    if (lua_istable(c->L, -1))
        lua_getfield(c->L, -1, field);
    else
        lua_pushnil(c->L);
    lua_remove(c->L, -2);
}

static int opt_flag(check_ctx *c, const char *name, const char *field) {
    opt_field(c, name, field);
    int v = lua_toboolean(c->L, -1);
    lua_pop(c->L, 1);
    return v;
}

/* Returns the option's type, checked against the known ones; "string" when
 * the schema gives none. The pointer is to a static string. */
static const char *opt_type(check_ctx *c, const char *name) {
    const char *t = "string";
    opt_field(c, name, "type");
    if (lua_isstring(c->L, -1))
        t = lua_tostring(c->L, -1);
    for (int i = 0; option_types[i]; i++) {
        if (strcmp(t, option_types[i]) == 0) {
            lua_pop(c->L, 1);
            return option_types[i];
        }
    }
    sr_lua_raise(c->L,
                 "%s: option '%s' has unknown type '%s' (use string, boolean, "
                 "integer, number, list, map or any)",
                 c->owner, name, t);
}

/* Builds the lower-case lookup table and checks the schema's own shape:
 * module authors get told about their mistakes, too. */
static void build_lookup(check_ctx *c) {
    lua_State *L = c->L;
    lua_newtable(L);
    c->lookup = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, c->options)) {
        if (lua_type(L, -2) != LUA_TSTRING || !lua_istable(L, -1))
            sr_lua_raise(L, "%s: %s must map option names to tables", c->owner, c->schema);
        const char *name = lua_tostring(L, -2);
        lua_getfield(L, -1, "alias_of");
        if (lua_isstring(L, -1)) {
            const char *target = lua_tostring(L, -1);
            lua_getfield(L, c->options, target);
            if (!lua_istable(L, -1))
                sr_lua_raise(L, "%s: option '%s' is an alias of unknown '%s'", c->owner, name,
                             target);
            lua_pop(L, 1);
        } else {
            lua_pop(L, 1);
            (void)opt_type(c, name);
            lua_pushstring(L, name);
        }
        /* lookup[lower(name)] = canonical (the alias target, or name) */
        push_lower(L, name);
        lua_insert(L, -2);
        lua_settable(L, c->lookup);
        lua_pop(L, 1);
    }
}

/* A NULL-terminated array of every accepted name, for sr_suggest; it lives
 * in a userdata so an error leaves nothing to free. */
static const char *const *candidates(check_ctx *c) {
    lua_State *L = c->L;
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, c->options)) {
        n++;
        lua_pop(L, 1);
    }
    const char **v = lua_newuserdata(L, (n + 1) * sizeof *v);
    size_t i = 0;
    lua_pushnil(L);
    while (lua_next(L, c->options)) {
        v[i++] = lua_tostring(L, -2); /* kept alive by the options table */
        lua_pop(L, 1);
    }
    v[i] = NULL;
    return v;
}

/* ---- Values ------------------------------------------------------------- */

/* Any value as Lua data: scalars as strings, unless `typed` and plain (not
 * quoted), in which case null, booleans and integers get their own types. */
static void push_generic(lua_State *L, const sr_node *n, int typed) {
    long long i;
    int b;
    switch (n->kind) {
    case SR_NODE_SCALAR:
        if (typed && !n->quoted && n->is_null)
            lua_pushnil(L);
        else if (typed && !n->quoted && sr_node_bool(n, &b) == 0)
            lua_pushboolean(L, b);
        else if (typed && !n->quoted && sr_node_int(n, &i) == 0 && llabs(i) <= MAX_EXACT_INT)
            lua_pushnumber(L, (lua_Number)i);
        else
            lua_pushlstring(L, n->text, n->len);
        return;
    case SR_NODE_SEQ:
        lua_createtable(L, (int)n->n, 0);
        for (size_t k = 0; k < n->n; k++) {
            push_generic(L, n->items[k], typed);
            lua_rawseti(L, -2, (int)k + 1);
        }
        return;
    case SR_NODE_MAP:
        lua_createtable(L, 0, (int)n->n);
        for (size_t k = 0; k < n->n; k++) {
            push_generic(L, n->items[k], typed);
            lua_setfield(L, -2, n->keys[k]);
        }
        return;
    }
}

static void check_enum(check_ctx *c, const char *name, int secret, const sr_node *n, int line) {
    lua_State *L = c->L;
    opt_field(c, name, "enum");
    int e = lua_gettop(L);
    if (!lua_istable(L, e) || lua_type(L, e - 1) != LUA_TSTRING) {
        lua_pop(L, 1);
        return;
    }
    const char *v = lua_tostring(L, e - 1);
    size_t count = lua_objlen(L, e);
    for (size_t k = 1; k <= count; k++) {
        lua_rawgeti(L, e, (int)k);
        const char *allowed = lua_tostring(L, -1);
        if (allowed && strcasecmp(allowed, v) == 0) {
            /* Keep the schema's spelling: modules compare with ==. */
            lua_replace(L, -3);
            lua_pop(L, 1);
            return;
        }
        lua_pop(L, 1);
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (size_t k = 1; k <= count; k++) {
        lua_rawgeti(L, e, (int)k);
        lua_pushfstring(L, "%s'%s'", k > 1 ? ", " : "", lua_tostring(L, -1));
        lua_remove(L, -2);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    raise_at(c, n->file, line, "key '%s' must be one of %s; got '%s'", name, lua_tostring(L, -1),
             shown(secret, n));
}

/* Pushes the value of option `name` (canonical) from node `n`, converted
 * to the option's type, or raises naming the key and its line. */
static void push_option_value(check_ctx *c, const char *name, const sr_node *n, int line) {
    lua_State *L = c->L;
    const char *type = opt_type(c, name);
    int secret = opt_flag(c, name, "secret");
    long long i;
    int b;

    if (strcmp(type, "any") == 0) {
        push_generic(L, n, 1);
        return;
    }
    if (strcmp(type, "list") == 0 || strcmp(type, "map") == 0) {
        sr_node_kind want = type[0] == 'l' ? SR_NODE_SEQ : SR_NODE_MAP;
        if (n->kind != want)
            raise_at(c, n->file, line, "key '%s' must be a %s", name,
                     want == SR_NODE_SEQ ? "list" : "map (key: value lines)");
        push_generic(L, n, 0);
        return;
    }
    if (n->kind != SR_NODE_SCALAR)
        raise_at(c, n->file, line, "key '%s' must be a single %s value, not a %s", name, type,
                 n->kind == SR_NODE_SEQ ? "list" : "map");

    if (strcmp(type, "boolean") == 0) {
        if (sr_node_bool(n, &b) != 0)
            raise_at(c, n->file, line, "key '%s' must be true or false, got '%s'", name,
                     shown(secret, n));
        lua_pushboolean(L, b);
    } else if (strcmp(type, "integer") == 0) {
        if (sr_node_int(n, &i) != 0)
            raise_at(c, n->file, line, "key '%s' must be an integer, got '%s'", name,
                     shown(secret, n));
        if (llabs(i) > MAX_EXACT_INT)
            raise_at(c, n->file, line, "key '%s' is out of range", name);
        lua_pushnumber(L, (lua_Number)i);
    } else if (strcmp(type, "number") == 0) {
        char *end;
        errno = 0;
        double d = strtod(n->text, &end);
        if (n->len == 0 || *end != '\0' || errno != 0 || !isfinite(d))
            raise_at(c, n->file, line, "key '%s' must be a number, got '%s'", name,
                     shown(secret, n));
        lua_pushnumber(L, d);
    } else {
        lua_pushlstring(L, n->text, n->len);
        check_enum(c, name, secret, n, line);
    }
}

/* ---- The check ---------------------------------------------------------- */

static int key_line(const sr_node *map, size_t k) {
    return map->key_lines ? map->key_lines[k] : map->items[k]->line;
}

/* Sysdig's `certificateId` names a certificate in Sysdig's certificate
 * store, which has no counterpart here: the answer names the PEM file
 * options this type has instead, so a config copied from Sysdig gets a way
 * forward rather than "unknown key". */
static int has_option(check_ctx *c, const char *name) {
    push_lower(c->L, name);
    lua_gettable(c->L, c->lookup);
    int known = lua_isstring(c->L, -1);
    lua_pop(c->L, 1);
    return known;
}

static void raise_certificate_id(check_ctx *c, const sr_node *map, int line, const char *key) {
    int ca = has_option(c, "caFile"),
        client = has_option(c, "certFile") && has_option(c, "keyFile");
    if (!ca && !client)
        raise_at(c, map->file, line,
                 "key '%s': siemrelay has no certificate store, and this type takes no "
                 "certificate files: remove the key",
                 key);
    raise_at(c, map->file, line,
             "key '%s': siemrelay has no certificate store; give PEM files instead: %s%s%s", key,
             ca ? "caFile (the CA bundle that verifies the server)" : "", ca && client ? ", " : "",
             client ? "certFile and keyFile (a client certificate and its key)" : "");
}

static void check_key(check_ctx *c, const sr_node *map, size_t k) {
    lua_State *L = c->L;
    const char *key = map->keys[k];
    int line = key_line(map, k);

    push_lower(L, key);
    lua_gettable(L, c->lookup);
    if (!lua_isstring(L, -1)) {
        if (strcasecmp(key, "certificateId") == 0)
            raise_certificate_id(c, map, line, key);
        const char *near = sr_suggest(key, candidates(c));
        if (near)
            raise_at(c, map->file, line, "unknown key '%s' (did you mean '%s'?)", key, near);
        raise_at(c, map->file, line, "unknown key '%s'", key);
    }
    const char *name = lua_tostring(L, -1); /* canonical; anchored by lookup */
    lua_pop(L, 1);

    lua_getfield(L, c->lines, name);
    if (!lua_isnil(L, -1))
        raise_at(c, map->file, line, "key '%s' sets '%s' again (already set on line %d)", key, name,
                 (int)lua_tointeger(L, -1));
    lua_pop(L, 1);

    const sr_node *v = map->items[k];
    if (v->kind == SR_NODE_SCALAR && v->is_null && !v->quoted)
        return; /* `key:` with no value is the same as leaving it out */
    push_option_value(c, name, v, line);
    lua_setfield(L, c->conf, name);
    lua_pushinteger(L, line);
    lua_setfield(L, c->lines, name);
}

static void fill_defaults(check_ctx *c) {
    lua_State *L = c->L;
    lua_pushnil(L);
    while (lua_next(L, c->options)) {
        const char *name = lua_tostring(L, -2);
        lua_getfield(L, -1, "alias_of");
        int alias = !lua_isnil(L, -1);
        lua_getfield(L, c->conf, name);
        int set = !lua_isnil(L, -1);
        lua_pop(L, 2);
        if (!alias && !set) {
            lua_getfield(L, -1, "default");
            if (!lua_isnil(L, -1)) {
                lua_setfield(L, c->conf, name);
            } else {
                lua_pop(L, 1);
                if (opt_flag(c, name, "required"))
                    raise_at(c, c->file, c->line, "missing required key '%s'", name);
            }
        }
        lua_pop(L, 1);
    }
}

/* ---- Description -------------------------------------------------------- */

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void describe_value(lua_State *L, int idx, sr_buf *out, int depth);

static void describe_table(lua_State *L, int idx, sr_buf *out, int depth) {
    size_t len = lua_objlen(L, idx), count = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        count++;
        lua_pop(L, 1);
    }
    if (len > 0 && len == count) {
        sr_buf_putc(out, '[');
        for (size_t k = 1; k <= len; k++) {
            lua_rawgeti(L, idx, (int)k);
            if (k > 1)
                sr_buf_putc(out, ',');
            describe_value(L, lua_gettop(L), out, depth + 1);
            lua_pop(L, 1);
        }
        sr_buf_putc(out, ']');
        return;
    }
    /* Sorted keys: a description is compared and diffed by people. */
    const char **keys = lua_newuserdata(L, (count + 1) * sizeof *keys);
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING)
            keys[n++] = lua_tostring(L, -1);
    }
    qsort(keys, n, sizeof *keys, cmp_str);
    sr_buf_putc(out, '{');
    for (size_t k = 0; k < n; k++) {
        if (k > 0)
            sr_buf_putc(out, ',');
        sr_buf_json_string(out, keys[k], strlen(keys[k]));
        sr_buf_putc(out, ':');
        lua_getfield(L, idx, keys[k]);
        describe_value(L, lua_gettop(L), out, depth + 1);
        lua_pop(L, 1);
    }
    sr_buf_putc(out, '}');
    lua_pop(L, 1);
}

static void describe_value(lua_State *L, int idx, sr_buf *out, int depth) {
    size_t len;
    const char *s;
    switch (lua_type(L, idx)) {
    case LUA_TSTRING:
        s = lua_tolstring(L, idx, &len);
        sr_buf_json_string(out, s, len);
        break;
    case LUA_TNUMBER: {
        double d = lua_tonumber(L, idx);
        if (!isfinite(d))
            sr_buf_puts(out, "null");
        else if (d == floor(d) && fabs(d) <= (double)MAX_EXACT_INT)
            sr_buf_printf(out, "%lld", (long long)d);
        else
            sr_buf_printf(out, "%.17g", d);
        break;
    }
    case LUA_TBOOLEAN: sr_buf_puts(out, lua_toboolean(L, idx) ? "true" : "false"); break;
    case LUA_TTABLE:
        if (depth < 16) {
            describe_table(L, idx, out, depth);
            break;
        }
        /* fall through */
    default: sr_buf_puts(out, "null"); break;
    }
}

/* The conf as a JSON object, secret options replaced by "******". */
static void describe_conf(check_ctx *c, sr_buf *out, sr_buf *secrets) {
    lua_State *L = c->L;
    lua_newtable(L);
    int masked = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, c->conf)) {
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        if (opt_flag(c, lua_tostring(L, -1), "secret")) {
            lua_getfield(L, c->conf, lua_tostring(L, -1));
            size_t n;
            const char *v = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &n) : NULL;
            if (v && n) {
                sr_buf_append(secrets, v, n);
                sr_buf_putc(secrets, '\0');
            }
            lua_pop(L, 1);
            lua_pushliteral(L, "******");
        } else
            lua_getfield(L, c->conf, lua_tostring(L, -1));
        lua_settable(L, masked);
    }
    describe_table(L, masked, out, 0);
    lua_pop(L, 1);
}

/* Checks `cfg` against the schema at mod[c->schema field] and leaves the
 * table built, where the schema was pushed. */
static void check(check_ctx *c, int mod, const char *field, const sr_node *cfg,
                  const char *not_a_map, sr_buf *describe, sr_buf *secrets) {
    lua_State *L = c->L;
    lua_getfield(L, mod, field);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_newtable(L);
    } else if (!lua_istable(L, -1)) {
        sr_lua_raise(L, "%s: %s must be a table", c->owner, c->schema);
    }
    c->options = lua_gettop(L);
    build_lookup(c);
    lua_newtable(L);
    c->lines = lua_gettop(L);
    lua_newtable(L);
    c->conf = lua_gettop(L);

    if (cfg && cfg->kind != SR_NODE_MAP && !(cfg->kind == SR_NODE_SCALAR && cfg->is_null))
        raise_at(c, cfg->file, cfg->line, "%s", not_a_map);
    if (cfg && cfg->kind == SR_NODE_MAP)
        for (size_t k = 0; k < cfg->n; k++)
            check_key(c, cfg, k);
    fill_defaults(c);
    if (describe)
        describe_conf(c, describe, secrets);

    /* Leave only the result, where the schema was. */
    lua_replace(L, c->options);
    lua_settop(L, c->options);
}

void sr_lua_options_check(lua_State *L, int mod, const sr_integration_spec *spec, sr_buf *describe,
                          sr_buf *secrets) {
    char who[512], owner[160];
    snprintf(who, sizeof who, "integration '%s' (%s)", spec->name, spec->type);
    snprintf(owner, sizeof owner, "integration type %s", spec->type);
    check_ctx c = {.L = L,
                   .who = who,
                   .owner = owner,
                   .schema = "M.options",
                   .file = spec->file,
                   .line = spec->line};
    check(&c, mod, "options", spec->configuration, "configuration must be a map of options",
          describe, secrets);
}

void sr_lua_params_check(lua_State *L, int mod, const char *who, const sr_node *params,
                         const char *file, int line) {
    check_ctx c = {
        .L = L, .who = who, .owner = who, .schema = "params", .file = file, .line = line};
    lua_getfield(L, mod, "params");
    int declared = !lua_isnil(L, -1);
    lua_pop(L, 1);
    if (declared) {
        check(&c, mod, "params", params, "params must be a map of parameters", NULL, NULL);
        return;
    }
    /* No schema: whatever map was given, typed as the `any` option type. */
    if (params && params->kind != SR_NODE_MAP &&
        !(params->kind == SR_NODE_SCALAR && params->is_null))
        raise_at(&c, params->file, params->line, "params must be a map of parameters");
    if (params && params->kind == SR_NODE_MAP)
        push_generic(L, params, 1);
    else
        lua_newtable(L);
}
