/* lua_sink_settings.c - an integration's transport settings from what its
 * Lua `setup` returned, through the transport's key table (sinks/sink.h);
 * and setup's own errors reported at the line of the key they are about.
 *
 * Nothing here knows a transport: every key the transport declares is read
 * with its type (absent keys keep the declared default), and every key of
 * setup's result must be either one the host reads itself or one the
 * transport declares, so a misspelt or misplaced setting is a configuration
 * error naming the transport and the key instead of being ignored. */
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <lauxlib.h>

#include "confine.h"
#include "lua_host_impl.h"

static void oom(lua_State *L) { sr_lua_raise(L, "out of memory"); }

/* setup's `props` table (string keys; string, number or boolean values)
 * into name/value pairs, sorted by name so the order is stable. */
static void set_props(lua_State *L, sr_lua_integ *in, const sr_sink_key *k) {
    if (!lua_istable(L, -1))
        sr_lua_raise_integ(L, in->spec, "setup returned %s as a %s, expected a table", k->name,
                           luaL_typename(L, -1));
    int t = lua_gettop(L);
    size_t n = 0;
    for (lua_pushnil(L); lua_next(L, t); lua_pop(L, 1))
        n++;
    sr_sink_prop *props = n ? calloc(n, sizeof *props) : NULL;
    if (n && !props)
        oom(L);
    /* Owned by the settings from here on, so an error below leaks nothing. */
    sr_sink_settings_set_props(in->settings, k, props, 0);
    sr_sink_props *owned = (sr_sink_props *)((char *)in->settings + k->offset);
    for (lua_pushnil(L); lua_next(L, t); lua_pop(L, 1)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            sr_lua_raise_integ(L, in->spec, "setup returned a %s key that is not a string",
                               k->name);
        const char *v;
        if (lua_type(L, -1) == LUA_TBOOLEAN)
            v = lua_toboolean(L, -1) ? "true" : "false";
        else if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER)
            v = lua_tostring(L, -1);
        else
            sr_lua_raise_integ(L, in->spec, "setup returned %s.%s as a %s, expected a string",
                               k->name, lua_tostring(L, -2), luaL_typename(L, -1));
        const char *(*restricted)(const char *) = in->info.sink->restricted_prop;
        const char *why =
            in->spec->files_root && restricted ? restricted(lua_tostring(L, -2)) : NULL;
        if (why)
            sr_lua_raise_integ(L, in->spec,
                               "property '%s' refused: %s; an integration defined through the "
                               "admin API may not set it (one in a configuration file may)",
                               lua_tostring(L, -2), why);
        size_t i = owned->n++;
        props[i].name = strdup(lua_tostring(L, -2));
        props[i].value = strdup(v);
        if (!props[i].name || !props[i].value)
            oom(L);
    }
    for (size_t i = 1; i < n; i++) /* insertion sort: a handful of props */
        for (size_t j = i; j > 0 && strcmp(props[j - 1].name, props[j].name) > 0; j--) {
            sr_sink_prop tmp = props[j];
            props[j] = props[j - 1];
            props[j - 1] = tmp;
        }
}

/* A file an integration defined through the admin API names (a key with
 * reads_file): under admin.credentials_dir, reached without a link, a
 * regular file; the setting becomes its absolute path there. Only the
 * path is ever quoted, never the file. */
static void set_confined_file(lua_State *L, sr_lua_integ *in, const sr_sink_key *k,
                              const char *path) {
    char abs[PATH_MAX + 256], err[1200];
    const char *root = in->spec->credentials_root;
    if (!root)
        sr_lua_raise_integ(L, in->spec,
                           "%s '%s' refused: an integration defined through the admin API may "
                           "name files (caFile, certFile, keyFile) only under "
                           "admin.credentials_dir, which is not set",
                           k->name, path);
    int fd = sr_confine_open_file(root, path, k->name, abs, sizeof abs, err, sizeof err);
    if (fd < 0)
        sr_lua_raise_integ(L, in->spec, "%s (admin.credentials_dir: %s)", err, root);
    close(fd);
    if (sr_sink_settings_set_string(in->settings, k, abs) != 0)
        oom(L);
}

/* The value of setup's key `k` (on the stack top) into the settings. */
static void set_key(lua_State *L, sr_lua_integ *in, const sr_sink_key *k) {
    switch (k->type) {
    case SR_SINK_KEY_STRING:
        if (lua_type(L, -1) != LUA_TSTRING)
            sr_lua_raise_integ(L, in->spec, "setup returned %s as a %s, expected a string", k->name,
                               luaL_typename(L, -1));
        if (k->reads_file && in->spec->files_root)
            set_confined_file(L, in, k, lua_tostring(L, -1));
        else if (sr_sink_settings_set_string(in->settings, k, lua_tostring(L, -1)) != 0)
            oom(L);
        break;
    case SR_SINK_KEY_INT:
        if (lua_type(L, -1) != LUA_TNUMBER)
            sr_lua_raise_integ(L, in->spec, "setup returned %s as a %s, expected a number", k->name,
                               luaL_typename(L, -1));
        sr_sink_settings_set_int(in->settings, k, (long long)lua_tonumber(L, -1));
        break;
    case SR_SINK_KEY_BOOL: sr_sink_settings_set_int(in->settings, k, lua_toboolean(L, -1)); break;
    case SR_SINK_KEY_PROPS: set_props(L, in, k); break;
    }
}

static int is_host_key(const char *name, const char *const *host_keys) {
    for (size_t i = 0; host_keys[i]; i++)
        if (strcmp(name, host_keys[i]) == 0)
            return 1;
    return 0;
}

/* Raises for the first key of setup's result (at `ret`) that neither the
 * host nor the transport takes, listing what the transport takes. */
static void check_keys(lua_State *L, sr_lua_integ *in, int ret, const char *const *host_keys) {
    const sr_sink_transport *t = in->info.sink;
    for (lua_pushnil(L); lua_next(L, ret); lua_pop(L, 1)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            sr_lua_raise_integ(L, in->spec, "setup returned a key that is not a string (a %s)",
                               luaL_typename(L, -2));
        const char *name = lua_tostring(L, -2);
        if (is_host_key(name, host_keys) || sr_sink_key_find(t, name))
            continue;
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        for (const sr_sink_key *k = t->keys; k->name; k++) {
            luaL_addstring(&b, k == t->keys ? "" : ", ");
            luaL_addstring(&b, k->name);
        }
        luaL_pushresult(&b);
        sr_lua_raise_integ(L, in->spec,
                           "setup returned '%s', which the %s transport does not take (it takes: "
                           "%s)",
                           name, t->name, lua_tostring(L, -1));
    }
}

void sr_lua_sink_settings(lua_State *L, sr_lua_integ *in, int ret, const char *const *host_keys) {
    const sr_sink_transport *t = sr_sink_transport_find(in->info.transport);
    if (!t) {
        char known[128];
        sr_sink_transport_names(known, sizeof known);
        sr_lua_raise_integ(L, in->spec,
                           "the module's transport '%s' is not a native one (known: %s)",
                           in->info.transport, known);
    }
    if (in->info.sink)
        sr_sink_settings_free(in->info.sink, in->settings);
    in->info.sink = t;
    in->info.settings = in->settings = sr_sink_settings_new(t);
    if (!in->settings)
        oom(L);
    if (!lua_istable(L, ret))
        return;
    check_keys(L, in, ret, host_keys);
    for (const sr_sink_key *k = t->keys; k->name; k++) {
        lua_getfield(L, ret, k->name);
        if (!lua_isnil(L, -1))
            set_key(L, in, k);
        lua_pop(L, 1);
    }
    const sr_sink_key *root = sr_sink_key_find(t, "root");
    if (in->spec->files_root && root &&
        sr_sink_settings_set_string(in->settings, root, in->spec->files_root) != 0)
        oom(L);
}

/* ---- setup's errors ----------------------------------------------------- */

/* The canonical option name (an alias resolved) of a key as the
 * configuration spells it, or NULL. The string stays referenced by the
 * options table at `options`, so it outlives the stack slots used here. */
static const char *canonical(lua_State *L, int options, const char *key) {
    for (lua_pushnil(L); lua_next(L, options); lua_pop(L, 1)) {
        if (lua_type(L, -2) != LUA_TSTRING || strcasecmp(lua_tostring(L, -2), key) != 0)
            continue;
        const char *name = lua_tostring(L, -2);
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "alias_of");
            if (lua_type(L, -1) == LUA_TSTRING)
                name = lua_tostring(L, -1);
            lua_pop(L, 1);
        }
        lua_pop(L, 2);
        return name;
    }
    return NULL;
}

/* The line of the configuration key whose option is named by the word
 * [w, w+n) of a message; 0 when none is. */
static int word_line(lua_State *L, int options, const sr_node *cfg, const char *w, size_t n) {
    for (size_t k = 0; k < cfg->n; k++) {
        const char *name = canonical(L, options, cfg->keys[k]);
        if (name && strlen(name) == n && strncmp(name, w, n) == 0)
            return cfg->key_lines ? cfg->key_lines[k] : cfg->items[k]->line;
    }
    return 0;
}

static size_t word_len(const char *p) {
    size_t n = 0;
    if (isalpha((unsigned char)*p) || *p == '_')
        while (isalnum((unsigned char)p[n]) || p[n] == '_')
            n++;
    return n;
}

/* Where a message of setup is about: modules name the option they refuse,
 * quoted ("'index' must be lower case") or leading ("topic must start with
 * a letter"). A quoted option wins over a bare word; the first one given
 * in the configuration is the one. */
static int message_line(lua_State *L, int options, const sr_node *cfg, const char *msg) {
    for (int quoted = 1; quoted >= 0; quoted--) {
        for (const char *p = msg; *p;) {
            int at_word = quoted ? (*p == '\'' && word_len(p + 1))
                                 : (p == msg || !isalnum((unsigned char)p[-1])) && word_len(p);
            if (!at_word) {
                p++;
                continue;
            }
            const char *w = quoted ? p + 1 : p;
            size_t n = word_len(w);
            int line = word_line(L, options, cfg, w, n);
            if (line)
                return line;
            p = w + n;
        }
    }
    return 0;
}

void sr_lua_setup_failed(lua_State *L, int mod, const sr_integration_spec *s, const char *msg) {
    const sr_node *cfg = s->configuration;
    int line = 0;
    if (cfg && cfg->kind == SR_NODE_MAP) {
        lua_getfield(L, mod, "options");
        if (lua_istable(L, -1))
            line = message_line(L, lua_gettop(L), cfg, msg);
        lua_pop(L, 1);
    }
    if (!line)
        sr_lua_raise_integ(L, s, "%s", msg);
    sr_lua_raise(L, "%s:%d: integration '%s' (%s): %s", cfg->file ? cfg->file : "?", line, s->name,
                 s->type, msg);
}
