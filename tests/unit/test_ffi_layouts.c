/* test_ffi_layouts.c - the structs the Lua side declares through ffi.cdef
 * have the layout of their C definitions.
 *
 * tests/unit/lua/ffi_layouts.lua loads every module of lua/lib and
 * lua/integrations in a real LuaJIT state set up as the host sets one up,
 * collects the text they pass to ffi.cdef and returns, per struct it
 * declares, ffi.sizeof and each field's ffi.offsetof and size. Here each is
 * compared with sizeof/offsetof of the C definition, field by field in
 * declaration order (Lua may rename a field, e.g. sr_event.raw is raw_bytes
 * there, because a field hides a method of the same name). A struct the Lua
 * side declares that the table below does not know fails too, so a new cdef
 * cannot go unchecked. The second half feeds the loader altered cdef text and
 * checks that each alteration is reported by struct and field name. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "check.h"
#include "event.h"
#include "json.h"
#include "lua_host.h"
#include "lua_host_impl.h"
#include "lua_test_state.h"

typedef struct c_field {
    const char *name;
    const char *lua_name; /* the name in the cdef */
    size_t offset, size;
} c_field;

typedef struct c_struct {
    const char *name;
    size_t size;
    const c_field *fields;
    size_t nfields;
} c_struct;

#define FIELD_AS(T, f, lua)                                                                        \
    { #f, lua, offsetof(T, f), sizeof(((T *)0)->f) }
#define FIELD(T, f) FIELD_AS(T, f, #f)
#define STRUCT(T, fields)                                                                          \
    { #T, sizeof(T), fields, sizeof fields / sizeof fields[0] }

static const c_field buf_fields[] = {FIELD(sr_buf, data), FIELD(sr_buf, len), FIELD(sr_buf, cap)};
static const c_field json_error_fields[] = {FIELD(sr_json_error, offset),
                                            FIELD(sr_json_error, msg)};
static const c_field event_fields[] = {
    /* event.lua names these differently: a field would hide its method */
    FIELD_AS(sr_event, raw, "raw_bytes"),
    FIELD_AS(sr_event, data_type, "data_type_id"),
    FIELD_AS(sr_event, channel, "channel_bit"),
    FIELD_AS(sr_event, msg_type, "msg_type_bit"),
    FIELD(sr_event, raw_len),
    FIELD(sr_event, nmembers),
    FIELD(sr_event, members),
    FIELD(sr_event, edits),
    FIELD(sr_event, nedits),
    FIELD(sr_event, edits_cap),
    FIELD(sr_event, arena),
    FIELD(sr_event, severity),
    FIELD(sr_event, flags),
    FIELD(sr_event, seq),
};
static const c_field json_member_fields[] = {
    FIELD(sr_json_member, key_off),    FIELD(sr_json_member, key_len),
    FIELD(sr_json_member, val_off),    FIELD(sr_json_member, val_len),
    FIELD(sr_json_member, type),       FIELD(sr_json_member, key_escaped),
    FIELD(sr_json_member, val_has_ws),
};
static const c_field emit_fields[] = {
    FIELD(sr_emit, data),      FIELD(sr_emit, recs),
    FIELD(sr_emit, nrecs),     FIELD(sr_emit, recs_cap),
    FIELD(sr_emit, fails),     FIELD(sr_emit, nfails),
    FIELD(sr_emit, fails_cap), FIELD(sr_emit, ndropped),
    FIELD(sr_emit, traces),    FIELD(sr_emit, notes),
    FIELD(sr_emit, nnotes),    FIELD(sr_emit, notes_cap),
    FIELD(sr_emit, unrouted),  FIELD(sr_emit, unrouted_channels),
};
static const c_field batch_fields[] = {
    FIELD(sr_lua_batch, evs),       FIELD(sr_lua_batch, n),
    FIELD(sr_lua_batch, start),     FIELD(sr_lua_batch, out),
    FIELD(sr_lua_batch, progress),  FIELD(sr_lua_batch, integ),
    FIELD(sr_lua_batch, timed_out), FIELD(sr_lua_batch, timeout_ms),
    FIELD(sr_lua_batch, counts),    FIELD(sr_lua_batch, script),
    FIELD(sr_lua_batch, nslots),    FIELD(sr_lua_batch, script_t0),
    FIELD(sr_lua_batch, stats),     FIELD(sr_lua_batch, mem_exceeded),
    FIELD(sr_lua_batch, rebuild),   FIELD(sr_lua_batch, memory_limit),
    FIELD(sr_lua_batch, disabled),
};

/* Every C struct the Lua side may declare. */
static const c_struct c_structs[] = {
    STRUCT(sr_buf, buf_fields),         STRUCT(sr_json_error, json_error_fields),
    STRUCT(sr_event, event_fields),     STRUCT(sr_emit, emit_fields),
    STRUCT(sr_lua_batch, batch_fields), STRUCT(sr_json_member, json_member_fields),
};
#define NSTRUCTS (sizeof c_structs / sizeof c_structs[0])

/* Types of the Lua side's own, never passed to C: event_view.lua's view of
 * the event, which must have no fields (a sandboxed script reaches none). */
static const char *const lua_only[] = {"sr_event_view"};

static int is_lua_only(const char *name) {
    for (size_t i = 0; i < sizeof lua_only / sizeof lua_only[0]; i++)
        if (strcmp(lua_only[i], name) == 0)
            return 1;
    return 0;
}

static const c_struct *c_struct_named(const char *name) {
    for (size_t i = 0; i < NSTRUCTS; i++)
        if (strcmp(c_structs[i].name, name) == 0)
            return &c_structs[i];
    return NULL;
}

/* Runs ffi_layouts.lua (with an edit of one file's cdef text when `file` is
 * not NULL) and leaves its array of structs on the stack; 0, or -1 with the
 * error printed. */
static int lua_layouts(lua_State *L, const char *file, const char *from, const char *to) {
    if (luaL_loadfile(L, SR_SOURCE_DIR "/tests/unit/lua/ffi_layouts.lua") != 0)
        goto fail;
    lua_pushstring(L, SR_SOURCE_DIR);
    if (file) {
        lua_createtable(L, 0, 3);
        lua_pushstring(L, file);
        lua_setfield(L, -2, "file");
        lua_pushstring(L, from);
        lua_setfield(L, -2, "from");
        lua_pushstring(L, to);
        lua_setfield(L, -2, "to");
    }
    if (lua_pcall(L, file ? 2 : 1, 1, 0) != 0)
        goto fail;
    return 0;

fail:
    fprintf(stderr, "ffi_layouts.lua: %s\n", lua_tostring(L, -1));
    return -1;
}

static size_t num_field(lua_State *L, int t, const char *key) {
    lua_getfield(L, t, key);
    size_t v = (size_t)lua_tonumber(L, -1);
    lua_pop(L, 1);
    return v;
}

/* Appends one difference to `report`, a line each. */
static int differ(sr_buf *report, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int differ(sr_buf *report, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    sr_buf_vprintf(report, fmt, ap);
    va_end(ap);
    sr_buf_putc(report, '\n');
    return 1;
}

/* Compares the Lua field at the top of the stack with the C field of the
 * same (Lua) name, marking it in `matched`. */
static int compare_field(lua_State *L, const c_struct *cs, const char *file, char *matched,
                         sr_buf *report) {
    int f = lua_gettop(L);
    lua_getfield(L, f, "name");
    const char *name = lua_tostring(L, -1);
    size_t off = num_field(L, f, "offset"), size = num_field(L, f, "size");
    const c_field *c = NULL;
    for (size_t i = 0; i < cs->nfields && !c; i++)
        if (strcmp(cs->fields[i].lua_name, name) == 0) {
            c = &cs->fields[i];
            matched[i] = 1;
        }
    int n = 0;
    if (!c)
        n = differ(report, "%s.%s (%s): no such field in C", cs->name, name, file);
    else if (off != c->offset || size != c->size)
        n = differ(report, "%s.%s (%s): offset %zu size %zu, but C %s.%s has offset %zu size %zu",
                   cs->name, name, file, off, size, cs->name, c->name, c->offset, c->size);
    lua_pop(L, 1);
    return n;
}

/* Compares the array ffi_layouts.lua returned (top of the stack) with the C
 * table. Returns the number of differences, described in `report`; `seen`
 * counts the C structs the Lua side declared. */
static int compare(lua_State *L, sr_buf *report, size_t *seen) {
    int all = lua_gettop(L), diffs = 0;
    *seen = 0;
    for (size_t k = 1; k <= lua_objlen(L, all); k++) {
        lua_rawgeti(L, all, (int)k);
        int s = lua_gettop(L);
        lua_getfield(L, s, "name");
        lua_getfield(L, s, "file");
        const char *name = lua_tostring(L, -2), *file = lua_tostring(L, -1);
        size_t size = num_field(L, s, "size");
        const c_struct *cs = c_struct_named(name);
        lua_getfield(L, s, "fields");
        int fields = lua_gettop(L);
        size_t nfields = lua_objlen(L, fields);
        if (!cs && is_lua_only(name)) {
            if (nfields != 0 || size != 0)
                diffs += differ(report,
                                "%s (%s): the Lua side's own type has %zu fields, size %zu; "
                                "it must have none",
                                name, file, nfields, size);
            lua_settop(L, all);
            continue;
        }
        if (!cs) {
            diffs += differ(report, "%s (%s): declared through ffi.cdef but unknown to C here",
                            name, file);
            lua_settop(L, all);
            continue;
        }
        (*seen)++;
        if (size != cs->size)
            diffs +=
                differ(report, "%s (%s): sizeof %zu, but C says %zu", name, file, size, cs->size);
        char matched[64] = {0};
        CHECK(cs->nfields <= sizeof matched);
        for (size_t i = 0; i < nfields; i++) {
            lua_rawgeti(L, fields, (int)i + 1);
            diffs += compare_field(L, cs, file, matched, report);
        }
        for (size_t i = 0; i < cs->nfields; i++)
            if (!matched[i])
                diffs += differ(report, "%s.%s (%s): C field missing on the Lua side", name,
                                cs->fields[i].name, file);
        lua_settop(L, all);
    }
    return diffs;
}

/* The real tree: every declared struct matches, and every C entry here is
 * declared by some Lua file (else the table has gone stale). */
static void real_tree(void) {
    lua_State *L = sr_test_lua_state();
    sr_buf report = SR_BUF_INIT;
    size_t seen = 0;
    CHECK_INT(lua_layouts(L, NULL, NULL, NULL), 0);
    if (lua_istable(L, -1)) {
        CHECK_INT(compare(L, &report, &seen), 0);
        CHECK_INT(seen, NSTRUCTS);
    }
    if (report.len)
        fprintf(stderr, "%.*s", (int)report.len, report.data);
    sr_buf_free(&report);
    lua_close(L);
}

/* One alteration of a file's real cdef text must be reported, naming
 * `expect` (e.g. "sr_lua_batch.timed_out"). */
static void altered(const char *file, const char *from, const char *to, const char *expect) {
    lua_State *L = sr_test_lua_state();
    sr_buf report = SR_BUF_INIT;
    size_t seen = 0;
    CHECK_INT(lua_layouts(L, file, from, to), 0);
    if (lua_istable(L, -1)) {
        CHECK(compare(L, &report, &seen) > 0);
        sr_buf_putc(&report, '\0');
        if (!strstr(report.data, expect))
            fprintf(stderr, "altering %s: expected a report naming %s, got:\n%s", file, expect,
                    report.data);
        CHECK(strstr(report.data, expect) != NULL);
    }
    sr_buf_free(&report);
    lua_close(L);
}

int main(void) {
    real_tree();
    /* A field whose type changed. */
    altered("lua/lib/event_loop.lua", "uint32_t timed_out;", "uint64_t timed_out;",
            "sr_lua_batch.timed_out (lua/lib/event_loop.lua): offset 32 size 8");
    /* Two fields of one type in the wrong order (a renamed one is reported
     * with its C name). */
    altered("lua/lib/event.lua", "uint16_t channel_bit;\n    uint16_t msg_type_bit;",
            "uint16_t msg_type_bit;\n    uint16_t channel_bit;",
            "sr_event.msg_type_bit (lua/lib/event.lua): offset 54 size 2, but C "
            "sr_event.msg_type has offset 56 size 2");
    /* A field C does not have. */
    altered("lua/lib/event.lua", "size_t cap; }", "size_t cap; int spare; }", "sr_buf.spare");
    /* A C field the Lua side lacks. */
    altered("lua/lib/event.lua", "char msg[120];", "", "sr_json_error.msg");
    /* A new struct the table does not know. */
    altered("lua/lib/time.lua", "int sr_lua_ns_seconds9",
            "typedef struct sr_new { int x; } sr_new;\nint sr_lua_ns_seconds9",
            "sr_new (lua/lib/time.lua): declared through ffi.cdef but unknown to C here");
    /* A field in the event's view, which must have none. */
    altered("lua/lib/event_view.lua", "sr_event_view {}", "sr_event_view { void *p; }",
            "sr_event_view (lua/lib/event_view.lua): the Lua side's own type has 1 fields");
    return CHECK_DONE();
}
