/* script_entries.c - the `scripts:` value, global or per integration: each
 * element a path, or a map {path, params, sandbox} whose params the script
 * checks against its own schema when its Lua state is built (lua_options.c)
 * and whose sandbox (a boolean) the Lua host reads (lua_state.c). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_loader.h"

static void free_paths(char **v, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* The element's path, checking a map's keys; NULL after an error. */
static const sr_node *entry_path(sr_conf_ctx *ctx, const sr_conf_item *it, const sr_node *el) {
    static const char *const keys[] = {"path", "params", "sandbox", NULL};
    if (el->kind == SR_NODE_SCALAR)
        return el;
    if (el->kind != SR_NODE_MAP) {
        sr_conf_wrong_element(ctx, it, el, "a path or a map with path and params");
        return NULL;
    }
    for (size_t k = 0; k < el->n; k++) {
        if (strcasecmp(el->keys[k], "path") != 0 && strcasecmp(el->keys[k], "params") != 0 &&
            strcasecmp(el->keys[k], "sandbox") != 0) {
            const char *near = sr_suggest(el->keys[k], keys);
            sr_conf_fail(ctx, el->file, el->key_lines[k],
                         "key '%s': unknown key '%s' in a script entry (use path, params and "
                         "sandbox)%s%s%s",
                         it->key, el->keys[k], near ? "; did you mean '" : "", near ? near : "",
                         near ? "'?" : "");
            return NULL;
        }
    }
    int on;
    const sr_node *sandbox = sr_node_get(el, "sandbox");
    if (sandbox && sr_node_bool(sandbox, &on) != 0) {
        sr_conf_fail(ctx, sandbox->file, sandbox->line,
                     "key '%s': a script entry's sandbox must be true or false", it->key);
        return NULL;
    }
    const sr_node *path = sr_node_get(el, "path");
    if (!path) {
        sr_conf_fail(ctx, el->file, el->line, "key '%s': a script entry needs a path", it->key);
        return NULL;
    }
    return path;
}

int sr_config_read_scripts(sr_conf_ctx *ctx, const sr_conf_item *it, char ***paths,
                           const sr_node ***entries, size_t *n) {
    const sr_node *v = it->v;
    size_t count = v->kind == SR_NODE_SEQ ? v->n : 1;
    if (v->kind == SR_NODE_MAP)
        return sr_conf_wrong_value(ctx, it, "a path or a list of paths and {path, params}", 0);
    char **list = calloc(count ? count : 1, sizeof *list);
    const sr_node **els = calloc(count ? count : 1, sizeof *els);
    if (!list || !els) {
        sr_conf_fail(ctx, it->file, it->line, "key '%s': out of memory", it->key);
        goto fail;
    }
    for (size_t i = 0; i < count; i++) {
        const sr_node *el = v->kind == SR_NODE_SEQ ? v->items[i] : v;
        const sr_node *path = entry_path(ctx, it, el);
        if (!path)
            goto fail;
        if (path->kind != SR_NODE_SCALAR || path->len == 0) {
            sr_conf_wrong_element(ctx, it, path, "a non-empty path");
            goto fail;
        }
        els[i] = el;
        if (!(list[i] = strdup(path->text))) {
            sr_conf_fail(ctx, it->file, it->line, "key '%s': out of memory", it->key);
            goto fail;
        }
    }
    sr_config_free_scripts(paths, entries, n);
    *paths = list;
    *entries = els;
    *n = count;
    return 0;
fail:
    free_paths(list, list ? count : 0);
    free(els);
    return -1;
}

void sr_config_free_scripts(char ***paths, const sr_node ***entries, size_t *n) {
    free_paths(*paths, *n);
    free(*entries);
    *paths = NULL;
    *entries = NULL;
    *n = 0;
}

void sr_config_print_scripts(sr_buf *out, char *const *paths, size_t n) {
    sr_buf_putc(out, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            sr_buf_putc(out, ',');
        sr_buf_json_string(out, paths[i], strlen(paths[i]));
    }
    sr_buf_putc(out, ']');
}
