/* lua_state.c - building one Lua state: libraries, integration modules,
 * option checks, setup, site scripts, and the pipeline that runs them.
 *
 * The whole build runs inside one protected call, so every error (ours,
 * raised with sr_lua_raise, or one a module raised) unwinds to a single
 * place that copies the message out and closes the state. Scratch memory
 * lives on the Lua stack; what must outlive the state (info strings, the
 * describe document) is owned by the host and only written by the first
 * build: a rebuild after a runaway script must not move what callers hold. */
#include <ctype.h>
#include <errno.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>

#include "confine.h"
#include "fsutil.h"
#include "lua_crypto.h"
#include "lua_host_impl.h"

int luaopen_cjson(lua_State *L);
int luaopen_cjson_safe(lua_State *L);

static const char *const framings[] = {"ndjson", "concat", "json_array", "list", NULL};

/* What the host itself reads from setup's result; the rest is the
 * transport's (lua_sink_settings.c). */
static const char *const host_keys[] = {"framing",   "max_events",       "max_bytes",
                                        "linger_ms", "max_events_limit", NULL};

void sr_lua_raise(lua_State *L, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    lua_pushstring(L, msg);
    lua_error(L);
    abort(); /* lua_error does not return */
}

void sr_lua_raise_integ(lua_State *L, const sr_integration_spec *s, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sr_lua_raise(L, "%s:%d: integration '%s' (%s): %s", s->file ? s->file : "?", s->line, s->name,
                 s->type, msg);
}

/* ---- Libraries ---------------------------------------------------------- */

/* C libraries that call malloc (or take libc locks) directly are wrapped in
 * the interrupt guard; see lua_watchdog.c. Opening one mallocs too (cjson's
 * settings and buffer), and a sandboxed script opens cjson for itself, at
 * any time (sandbox.lua: its cjson.new), so the opener runs guarded as
 * well; an error is raised again once the guard is left. */
static int open_guarded(lua_State *L, lua_CFunction open) {
    lua_pushcfunction(L, open);
    sr_lua_guard_enter();
    int rc = lua_pcall(L, 0, 1, 0);
    sr_lua_guard_leave();
    if (rc != 0)
        return lua_error(L);
    if (lua_istable(L, -1))
        sr_lua_guard_table(L, -1);
    return 1;
}

static int open_cjson(lua_State *L) { return open_guarded(L, luaopen_cjson); }
static int open_cjson_safe(lua_State *L) { return open_guarded(L, luaopen_cjson_safe); }
static int open_crypto(lua_State *L) { return open_guarded(L, luaopen_siemrelay_crypto); }

static void guard_global_table(lua_State *L, const char *name) {
    lua_getglobal(L, name);
    if (lua_istable(L, -1))
        sr_lua_guard_table(L, -1);
    lua_pop(L, 1);
}

static void open_libraries(lua_State *L, const char *dir) {
    luaL_openlibs(L);
    guard_global_table(L, "io");
    guard_global_table(L, "os");

    lua_getglobal(L, "package");
    lua_pushfstring(L, "%s/lib/?.lua", dir);
    lua_setfield(L, -2, "path");
    lua_pushliteral(L, ""); /* native modules are linked in, never loaded from disk */
    lua_setfield(L, -2, "cpath");
    lua_getfield(L, -1, "preload");
    lua_pushcfunction(L, open_cjson);
    lua_setfield(L, -2, "cjson");
    lua_pushcfunction(L, open_cjson_safe);
    lua_setfield(L, -2, "cjson.safe");
    lua_pushcfunction(L, open_crypto);
    lua_setfield(L, -2, "siemrelay.crypto");
    lua_pop(L, 2);
}

static void require(lua_State *L, const char *name) {
    lua_getglobal(L, "require");
    lua_pushstring(L, name);
    lua_call(L, 1, 1);
}

/* ---- Loading files ------------------------------------------------------ */

#define HOST_KEY "siemrelay.host"

/* Notes what the build is about to run, so a load the watchdog has to stop
 * can name it (the state is gone by then). */
static void note_loading(lua_State *L, const char *what) {
    lua_getfield(L, LUA_REGISTRYINDEX, HOST_KEY);
    sr_lua_host *h = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (h)
        snprintf(h->loading, sizeof h->loading, "%s", what);
}

/* Runs a file in its own environment (reads fall through to the globals),
 * so scripts and modules cannot trample each other's globals. Pushes what
 * the chunk returned. `what` prefixes errors. */
/* Loads a script of an integration defined through the admin API: from
 * below `root`, every component opened without following a link
 * (confine.h), so what runs is the file the API's check accepted and not
 * one a link put in its way since. Like luaL_loadfilex: 0 with the chunk
 * pushed, else non-zero with the message pushed. */
static int load_confined(lua_State *L, const char *root, const char *path, const char *mode) {
    char err[1200];
    sr_buf src = SR_BUF_INIT;
    FILE *f = NULL;
    int fd = root ? sr_confine_open_file(root, path, "script", NULL, 0, err, sizeof err) : -1;
    if (!root)
        snprintf(err, sizeof err,
                 "integrations defined through the admin API may not name scripts: "
                 "admin.script_dir is not set (%s)",
                 path);
    if (fd >= 0 && !(f = fdopen(fd, "r"))) {
        snprintf(err, sizeof err, "cannot read %s: %s", path, strerror(errno));
        close(fd);
    }
    int read = f && sr_read_all(f, &src) == 0;
    if (f && !read)
        snprintf(err, sizeof err, "cannot read %s: %s", path, strerror(errno));
    if (f)
        fclose(f);
    if (!read) {
        sr_buf_free(&src);
        lua_pushstring(L, err);
        return LUA_ERRFILE;
    }
    lua_pushfstring(L, "@%s", path);
    int rc = luaL_loadbufferx(L, src.data ? src.data : "", src.len, lua_tostring(L, -1), mode);
    lua_remove(L, -2); /* the chunk name */
    sr_buf_free(&src);
    return rc;
}

/* `spec`: the integration whose script it is (NULL: a global one or a
 * module); when it was defined through the admin API the file is read
 * confined (load_confined). */
static void run_file(lua_State *L, const char *path, const char *what, int sandbox,
                     const sr_integration_spec *spec) {
    note_loading(L, what);
    /* A sandboxed script is source text: bytecode could break out of the VM. */
    const char *mode = sandbox ? "t" : NULL;
    int rc = spec && spec->files_root ? load_confined(L, spec->scripts_root, path, mode)
                                      : luaL_loadfilex(L, path, mode);
    if (rc != 0) {
        const char *msg = lua_tostring(L, -1);
        if (sandbox && msg && strstr(msg, "wrong mode"))
            sr_lua_raise(L, "%s: a sandboxed script must be Lua source text, not bytecode", what);
        sr_lua_raise(L, "%s: %s", what, msg);
    }
    if (sandbox) {
        require(L, "sandbox");
        lua_getfield(L, -1, "env");
        lua_call(L, 0, 1);
        lua_remove(L, -2);
    } else {
        lua_newtable(L);
        lua_newtable(L);
        lua_getglobal(L, "_G");
        lua_setfield(L, -2, "__index");
        lua_setmetatable(L, -2);
    }
    lua_setfenv(L, -2);
    if (lua_pcall(L, 0, 1, 0) != 0)
        sr_lua_raise(L, "%s: %s", what, lua_tostring(L, -1));
}

void sr_lua_run_file(lua_State *L, const char *path, const char *what) {
    run_file(L, path, what, 0, NULL);
}

/* Whether a site script runs sandboxed: its entry's `sandbox:` (checked by
 * the configuration loader), else the host's. */
static int sandboxed(const sr_lua_host_conf *c, const sr_node *entry) {
    const sr_node *n = entry && entry->kind == SR_NODE_MAP ? sr_node_get(entry, "sandbox") : NULL;
    int on;
    if (n && sr_node_bool(n, &on) == 0)
        return on;
    return c->sandbox;
}

/* Pushes a site script's entry for event_loop.lua:
 * { process, ctx = { integration, params }, slot, path }. `slot` numbers
 * the script as lua_host.c counts it. `entry` (may be NULL) is the script as
 * configured: its `params` are checked against the script's `params` schema
 * and handed to its setup(params), run once per state. */
static void push_script(lua_State *L, const sr_lua_host_conf *c, const char *path,
                        const sr_node *entry, const char *where, int slot,
                        const sr_integration_spec *spec) {
    const char *integration = spec ? spec->name : NULL;
    char what[1024];
    snprintf(what, sizeof what, "%ssite script %s", where, path);
    int sandbox = sandboxed(c, entry);
    run_file(L, path, what, sandbox, spec);
    int mod = lua_gettop(L);
    if (lua_istable(L, mod))
        lua_getfield(L, mod, "process");
    else
        lua_pushnil(L);
    if (!lua_isfunction(L, -1))
        sr_lua_raise(L, "%s: must return a table with a process(ev, ctx) function", what);
    int process = lua_gettop(L);
    if (sandbox) {
        /* It gets a method-only view of the event, never the struct's cdata
         * (event_view.lua); other scripts get the cdata as it is. */
        require(L, "event_view");
        lua_getfield(L, -1, "bind");
        lua_pushvalue(L, process);
        lua_call(L, 1, 1);
        lua_replace(L, process);
        lua_pop(L, 1);
    }

    const sr_node *params =
        entry && entry->kind == SR_NODE_MAP ? sr_node_get(entry, "params") : NULL;
    const char *file = entry ? entry->file : NULL;
    int line = entry ? entry->line : 0;
    char who[1024];
    if (integration)
        snprintf(who, sizeof who, "integration '%s': site script %s", integration, path);
    else
        snprintf(who, sizeof who, "site script %s", path);
    sr_lua_params_check(L, mod, who, params, file, line);
    int ptab = lua_gettop(L);

    lua_getfield(L, mod, "setup");
    if (lua_isfunction(L, -1)) {
        char running[1100];
        snprintf(running, sizeof running, "%s: setup", what);
        note_loading(L, running);
        lua_pushvalue(L, ptab);
        if (lua_pcall(L, 1, 0, 0) != 0)
            sr_lua_raise(L, "%s:%d: %s: setup: %s", file ? file : "?", line, who,
                         lua_tostring(L, -1));
    } else if (!lua_isnil(L, -1)) {
        sr_lua_raise(L, "%s: setup must be a function", what);
    } else {
        lua_pop(L, 1);
    }

    lua_createtable(L, 0, 4);
    lua_pushvalue(L, process);
    lua_setfield(L, -2, "process");
    lua_createtable(L, 0, 2);
    if (integration) {
        lua_pushstring(L, integration);
        lua_setfield(L, -2, "integration");
    }
    lua_pushvalue(L, ptab);
    lua_setfield(L, -2, "params");
    lua_setfield(L, -2, "ctx");
    lua_pushinteger(L, slot);
    lua_setfield(L, -2, "slot");
    lua_pushstring(L, path);
    lua_setfield(L, -2, "path");
    lua_replace(L, mod);
    lua_settop(L, mod);
}

static void push_scripts(lua_State *L, const sr_lua_host_conf *c, const char *const *paths,
                         const sr_node *const *entries, size_t n, const char *where, int first_slot,
                         const sr_integration_spec *spec) {
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        push_script(L, c, paths[i], entries ? entries[i] : NULL, where, first_slot + (int)i, spec);
        lua_rawseti(L, -2, (int)i + 1);
    }
}

/* ---- Finding a module --------------------------------------------------- */

/* The configured lua_dir, else the installed tree, else the source tree
 * (so tests and `make run` work from a build directory). */
static const char *lua_dir(const sr_lua_host_conf *c) {
    if (c->lua_dir)
        return c->lua_dir;
#ifdef SR_INSTALL_LUA_DIR
    if (access(SR_INSTALL_LUA_DIR "/lib/event.lua", R_OK) == 0)
        return SR_INSTALL_LUA_DIR;
#endif
#ifdef SR_SOURCE_LUA_DIR
    return SR_SOURCE_LUA_DIR;
#else
    return "lua";
#endif
}

static size_t nsearch_dirs(const sr_lua_host_conf *c) { return c->nintegration_paths + 1; }

static void search_dir(lua_State *L, const sr_lua_host_conf *c, size_t i) {
    if (i < c->nintegration_paths)
        lua_pushstring(L, c->integration_paths[i]);
    else
        lua_pushfstring(L, "%s/integrations", lua_dir(c));
}

/* Collects the types available in the search path (upper-cased file names)
 * into a NULL-terminated array on the stack, for the suggestion. */
static const char *const *available_types(lua_State *L, const sr_lua_host_conf *c) {
    lua_newtable(L);
    int names = lua_gettop(L);
    int count = 0;
    for (size_t i = 0; i < nsearch_dirs(c); i++) {
        search_dir(L, c, i);
        DIR *d = opendir(lua_tostring(L, -1));
        lua_pop(L, 1);
        if (!d)
            continue;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            size_t len = strlen(e->d_name);
            if (len <= 4 || strcmp(e->d_name + len - 4, ".lua") != 0)
                continue;
            char upper[256];
            size_t k;
            for (k = 0; k < len - 4 && k < sizeof upper - 1; k++)
                upper[k] = (char)toupper((unsigned char)e->d_name[k]);
            upper[k] = '\0';
            lua_pushstring(L, upper);
            lua_rawseti(L, names, ++count);
        }
        closedir(d);
    }
    const char **v = lua_newuserdata(L, ((size_t)count + 1) * sizeof *v);
    for (int k = 0; k < count; k++) {
        lua_rawgeti(L, names, k + 1);
        v[k] = lua_tostring(L, -1); /* anchored by `names` */
        lua_pop(L, 1);
    }
    v[count] = NULL;
    return v;
}

/* Pushes the path of <dir>/<type>.lua, first match in the search path. */
static void push_module_path(lua_State *L, const sr_lua_host_conf *c,
                             const sr_integration_spec *s) {
    lua_pushstring(L, s->type);
    lua_getglobal(L, "string");
    lua_getfield(L, -1, "lower");
    lua_pushvalue(L, -3);
    lua_call(L, 1, 1);
    const char *lower = lua_tostring(L, -1);

    luaL_Buffer tried;
    int base = lua_gettop(L);
    for (size_t i = 0; i < nsearch_dirs(c); i++) {
        search_dir(L, c, i);
        lua_pushfstring(L, "%s/%s.lua", lua_tostring(L, -1), lower);
        if (access(lua_tostring(L, -1), R_OK) == 0) {
            lua_replace(L, base - 2);
            lua_settop(L, base - 2);
            return;
        }
        lua_pop(L, 1);
    }
    /* Not found: list where we looked, and what there is. */
    luaL_buffinit(L, &tried);
    for (int i = base + 1; i <= base + (int)nsearch_dirs(c); i++) {
        if (i > base + 1)
            luaL_addstring(&tried, ", ");
        lua_pushvalue(L, i);
        luaL_addvalue(&tried);
    }
    luaL_pushresult(&tried);
    const char *dirs = lua_tostring(L, -1);
    const char *near = sr_suggest(s->type, available_types(L, c));
    sr_lua_raise(L, "%s:%d: integration '%s': unknown type '%s' (no %s.lua in %s)%s%s%s",
                 s->file ? s->file : "?", s->type_line ? s->type_line : s->line, s->name, s->type,
                 lower, dirs, near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
}

/* Pushes the module table for the spec's type, loading it once per state
 * (cache: table at `cache`, keyed by type). */
static void push_module(lua_State *L, const sr_lua_host_conf *c, const sr_integration_spec *s,
                        int cache) {
    lua_getfield(L, cache, s->type);
    if (!lua_isnil(L, -1))
        return;
    lua_pop(L, 1);
    push_module_path(L, c, s);
    const char *path = lua_tostring(L, -1);
    char what[1024];
    snprintf(what, sizeof what, "integration type %s (%s)", s->type, path);
    sr_lua_run_file(L, path, what);
    if (!lua_istable(L, -1))
        sr_lua_raise(L, "%s: the module must return a table", what);
    lua_getfield(L, -1, "encode");
    if (!lua_isfunction(L, -1))
        sr_lua_raise(L, "%s: the module has no encode(ev, conf) function", what);
    lua_pop(L, 1);
    lua_getfield(L, -1, "transport");
    if (!lua_isstring(L, -1))
        sr_lua_raise(L, "%s: the module has no transport (e.g. transport = \"http\")", what);
    int http = strcmp(lua_tostring(L, -1), "http") == 0;
    lua_pop(L, 1);
    lua_getfield(L, -1, "request");
    if (http && !lua_isfunction(L, -1))
        sr_lua_raise(L, "%s: an http module needs a request(body, n, conf) function", what);
    lua_pop(L, 1);
    lua_remove(L, -2); /* the path */
    lua_pushvalue(L, -1);
    lua_setfield(L, cache, s->type);
}

/* ---- Channels ----------------------------------------------------------- */

static unsigned module_channels(lua_State *L, int mod, const sr_integration_spec *s) {
    unsigned mask = 0;
    lua_getfield(L, mod, "channels");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return SR_CH_SECURE_EVENTS_POLICIES | SR_CH_ACTIVITY_AUDIT | SR_CH_PLATFORM_AUDIT |
               SR_CH_MONITOR_EVENTS;
    }
    size_t n = lua_istable(L, -1) ? lua_objlen(L, -1) : 0;
    for (size_t i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, (int)i);
        const char *name = lua_tostring(L, -1);
        unsigned bit = name ? sr_channel_parse(name) : 0;
        if (!bit)
            sr_lua_raise(L, "integration type %s: M.channels has unknown channel '%s'", s->type,
                         name ? name : "?");
        mask |= bit;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return mask;
}

static unsigned effective_channels(lua_State *L, unsigned supported, const sr_integration_spec *s) {
    if (!s->channels)
        return supported;
    unsigned extra = s->channels & ~supported;
    if (extra) {
        unsigned bit = extra & -extra;
        sr_lua_raise_integ(L, s, "channel '%s' is not supported by this type",
                           sr_channel_name(bit));
    }
    return s->channels;
}

/* ---- Info (first build only) -------------------------------------------- */

/* A copy of the string at idx (NULL if it is none) in *slot, which the
 * host frees. */
static char *own(char **slot, lua_State *L, int idx) {
    if (!lua_isstring(L, idx))
        return NULL;
    free(*slot);
    *slot = strdup(lua_tostring(L, idx));
    if (!*slot)
        sr_lua_raise(L, "out of memory");
    return *slot;
}

/* Reads t[key] as a number (t may be nil), keeping `def` when absent. */
static long long field_num(lua_State *L, int t, const char *key, long long def,
                           const sr_integration_spec *s, const char *from) {
    if (!lua_istable(L, t))
        return def;
    lua_getfield(L, t, key);
    long long v = def;
    if (lua_type(L, -1) == LUA_TNUMBER)
        v = (long long)lua_tonumber(L, -1);
    else if (!lua_isnil(L, -1))
        sr_lua_raise_integ(L, s, "%s returned %s as a %s, expected a number", from, key,
                           luaL_typename(L, -1));
    lua_pop(L, 1);
    return v;
}

static void fill_info(lua_State *L, sr_lua_integ *in, int mod, int ret) {
    const sr_integration_spec *s = in->spec;
    sr_integration_info *info = &in->info;

    lua_getfield(L, mod, "transport");
    info->transport = own(&in->transport, L, -1);
    lua_pop(L, 1);

    lua_getfield(L, ret, "framing");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_getfield(L, mod, "framing");
    }
    const char *framing = lua_isstring(L, -1) ? lua_tostring(L, -1) : "ndjson";
    int ok = 0;
    for (int i = 0; framings[i]; i++)
        ok |= strcmp(framing, framings[i]) == 0;
    if (!ok)
        sr_lua_raise_integ(L, s, "unknown framing '%s' (use ndjson, concat, json_array or list)",
                           framing);
    lua_pushstring(L, framing);
    info->framing = own(&in->framing, L, -1);
    lua_pop(L, 2);

    lua_getfield(L, mod, "batch");
    int batch = lua_gettop(L);
    info->max_events = field_num(L, batch, "max_events", 500, s, "M.batch");
    info->max_bytes = field_num(L, batch, "max_bytes", 1048576, s, "M.batch");
    info->linger_ms = field_num(L, batch, "linger_ms", 500, s, "M.batch");
    lua_pop(L, 1);
    info->max_events = field_num(L, ret, "max_events", info->max_events, s, "setup");
    info->max_bytes = field_num(L, ret, "max_bytes", info->max_bytes, s, "setup");
    info->linger_ms = field_num(L, ret, "linger_ms", info->linger_ms, s, "setup");
    info->max_events_limit = field_num(L, ret, "max_events_limit", 0, s, "setup");
    info->channels = in->channels;

    sr_lua_sink_settings(L, in, ret, host_keys);
}

static void describe_head(sr_buf *b, const sr_integration_spec *s, const char *transport,
                          unsigned channels) {
    sr_buf_reset(b);
    sr_buf_puts(b, "{\"name\":");
    sr_buf_json_string(b, s->name, strlen(s->name));
    sr_buf_puts(b, ",\"type\":");
    sr_buf_json_string(b, s->type, strlen(s->type));
    sr_buf_puts(b, ",\"transport\":");
    sr_buf_json_string(b, transport, strlen(transport));
    sr_buf_puts(b, ",\"channels\":[");
    const char *sep = "";
    for (unsigned bit = 1; bit <= SR_CH_MONITOR_EVENTS; bit <<= 1) {
        if (channels & bit) {
            sr_buf_printf(b, "%s\"%s\"", sep, sr_channel_name(bit));
            sep = ",";
        }
    }
    sr_buf_puts(b, "],\"configuration\":");
}

/* ---- One integration ---------------------------------------------------- */

/* Pushes the integration's record for event_loop.lua and the delivery calls. */
static void load_integration(lua_State *L, sr_lua_host *h, size_t i, int cache) {
    sr_lua_integ *in = &h->integs[i];
    const sr_integration_spec *s = in->spec;
    int first = !h->built;

    push_module(L, h->conf, s, cache);
    int mod = lua_gettop(L);
    unsigned channels = effective_channels(L, module_channels(L, mod, s), s);

    if (first) {
        lua_getfield(L, mod, "transport");
        describe_head(&in->describe, s, lua_tostring(L, -1), channels);
        lua_pop(L, 1);
    }
    sr_lua_options_check(L, mod, s, first ? &in->describe : NULL, first ? &in->secrets : NULL);
    int conf = lua_gettop(L);
    if (first)
        sr_buf_putc(&in->describe, '}');

    lua_getfield(L, mod, "setup");
    if (lua_isfunction(L, -1)) {
        char running[700];
        snprintf(running, sizeof running, "%s:%d: integration '%s' (%s): setup",
                 s->file ? s->file : "?", s->line, s->name, s->type);
        note_loading(L, running);
        lua_pushvalue(L, conf);
        if (lua_pcall(L, 1, 1, 0) != 0)
            sr_lua_setup_failed(L, mod, s, lua_tostring(L, -1));
        if (!lua_isnil(L, -1) && !lua_istable(L, -1))
            sr_lua_raise_integ(L, s, "setup returned a %s, expected a table or nothing",
                               luaL_typename(L, -1));
    } else {
        lua_pop(L, 1);
        lua_pushnil(L);
    }
    int ret = lua_gettop(L);
    if (first) {
        in->channels = channels;
        fill_info(L, in, mod, ret);
    }

    char where[512];
    snprintf(where, sizeof where, "%s:%d: integration '%s' (%s): ", s->file ? s->file : "?",
             s->line, s->name, s->type);
    int slot = (int)h->conf->nscripts;
    for (size_t k = 0; k < i; k++)
        slot += (int)h->conf->integrations[k].nscripts;
    push_scripts(L, h->conf, s->scripts, s->script_entries, s->nscripts, where, slot, s);
    int scripts = lua_gettop(L);

    lua_createtable(L, 0, 12);
    lua_pushinteger(L, (lua_Integer)i);
    lua_setfield(L, -2, "index");
    lua_pushstring(L, s->name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, s->type);
    lua_setfield(L, -2, "type");
    lua_pushvalue(L, mod);
    lua_setfield(L, -2, "module");
    lua_getfield(L, mod, "encode");
    lua_setfield(L, -2, "encode");
    lua_getfield(L, mod, "envelope");
    lua_setfield(L, -2, "envelope");
    lua_pushvalue(L, conf);
    lua_setfield(L, -2, "conf");
    lua_pushvalue(L, ret);
    lua_setfield(L, -2, "setup");
    lua_pushvalue(L, scripts);
    lua_setfield(L, -2, "scripts");
    lua_pushnumber(L, s->paused ? 0 : channels); /* paused: no channel routes to it */
    lua_setfield(L, -2, "mask");
    lua_pushinteger(L, s->min_severity);
    lua_setfield(L, -2, "min_severity");

    lua_replace(L, mod);
    lua_settop(L, mod);
}

/* ---- The build ---------------------------------------------------------- */

static int build(lua_State *L) {
    sr_lua_host *h = lua_touserdata(L, 1);
    const sr_lua_host_conf *c = h->conf;
    lua_settop(L, 0);
    lua_pushlightuserdata(L, h);
    lua_setfield(L, LUA_REGISTRYINDEX, HOST_KEY);

    open_libraries(L, lua_dir(c));
    require(L, "event");
    lua_pop(L, 1);
    require(L, "log"); /* before any script's setup can log */
    lua_getfield(L, -1, "attach");
    lua_pushlightuserdata(L, c->stats);
    lua_call(L, 1, 0);
    lua_pop(L, 1);
    require(L, "event_loop");
    int pipeline = lua_gettop(L);

    lua_newtable(L); /* the plan */
    int plan = lua_gettop(L);
    push_scripts(L, c, c->scripts, c->script_entries, c->nscripts, "", 0, NULL);
    lua_setfield(L, plan, "scripts");

    lua_newtable(L);
    int cache = lua_gettop(L);
    lua_createtable(L, (int)c->nintegrations, 0);
    int integs = lua_gettop(L);
    for (size_t i = 0; i < c->nintegrations; i++) {
        load_integration(L, h, i, cache);
        lua_rawseti(L, integs, (int)i + 1);
    }
    lua_pushvalue(L, integs);
    lua_setfield(L, plan, "integrations");
    lua_pushnumber(L, c->transmit_message_types);
    lua_setfield(L, plan, "transmit");
    lua_pushboolean(L, c->forwarder_enabled);
    lua_setfield(L, plan, "enabled");
    lua_pushboolean(L, c->trace);
    lua_setfield(L, plan, "trace");

    lua_getfield(L, pipeline, "new");
    lua_pushvalue(L, plan);
    lua_pushlightuserdata(L, &h->batch);
    lua_call(L, 2, 1);
    if (!lua_isfunction(L, -1))
        sr_lua_raise(L, "pipeline.new did not return a function");
    h->run_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushvalue(L, integs);
    h->integs_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

/* The build runs under a watchdog of its own with the load budget, as
 * events run under theirs: top-level code or a setup that never returns is
 * interrupted (compiled or not) and the build fails naming the file. The
 * interrupted state is abandoned and its heap released. */
int sr_lua_state_build(sr_lua_host *h, char *err, size_t errlen) {
    lua_State *L = NULL;
    sr_lua_watchdog *wd = NULL;
    sr_lua_batch still; /* progress never moves: the budget covers the whole build */
    unsigned long long budget =
        h->conf->load_timeout_ms ? h->conf->load_timeout_ms : SR_LUA_LOAD_TIMEOUT_MS;
    h->L = NULL;
    h->loading[0] = '\0';
    h->batch.mem_exceeded = 0;
    h->heap = sr_lua_heap_new();
    if (h->heap) {
        sr_lua_heap_limit(h->heap, h->conf->memory_limit, &h->batch.mem_exceeded);
        L = lua_newstate(sr_lua_alloc, h->heap);
    }
    if (!L) {
        snprintf(err, errlen, "cannot create a Lua state: out of memory");
        goto fail;
    }
    memset(&still, 0, sizeof still);
    if (!(wd = sr_lua_watchdog_new(&still, budget, 1, err, errlen)))
        goto fail;
    lua_pushcfunction(L, build);
    lua_pushlightuserdata(L, h);
    int rc = sr_lua_watched_pcall(wd, L, 1);
    sr_lua_watchdog_free(wd);
    if (rc == SR_LUA_INTERRUPTED) {
        snprintf(err, errlen,
                 "%s: still running after the load budget of %llu ms (a loop at load time?); "
                 "stopped, nothing of it was applied",
                 h->loading[0] ? h->loading : "loading the Lua state", budget);
        sr_script_stats_abandoned(h->conf->stats, sr_lua_heap_release(h->heap));
        h->heap = NULL;
        h->nabandoned++;
        return -1;
    }
    if (rc != 0) {
        const char *msg = lua_tostring(L, -1);
        if (h->batch.mem_exceeded)
            snprintf(err, errlen, "%s (the Lua state's memory limit is %zu bytes)",
                     msg ? msg : "not enough memory", h->conf->memory_limit);
        else
            snprintf(err, errlen, "%s", msg ? msg : "cannot build the Lua state");
        goto fail;
    }
    lua_settop(L, 0);
    lua_gc(L, LUA_GCCOLLECT, 0);
    h->batch.mem_exceeded = 0;
    h->L = L;
    h->built = 1;
    return 0;

fail:
    if (L)
        lua_close(L);
    sr_lua_heap_free(h->heap);
    h->heap = NULL;
    return -1;
}
