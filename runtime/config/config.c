/* config.c - siemrelay's configuration: the defaults, then each file's
 * sections applied on top, in order.
 *
 * What every key means, its type, limits and default are rows of the key
 * tables (config_keys.c, integration_keys.c, and the owners' tables they
 * include, see conf_table.h); this file only walks the documents. A later
 * file's scalar simply overwrites an earlier one; integration lists append.
 *
 * The parsed documents stay in cfg->docs because each integration's
 * `configuration` points into them; it is checked later against the
 * type's Lua option schema, which knows its keys. */
#include "config.h"
#include "agent_files.h"
#include "config_loader.h"
#include "sysdig_vocab.h"
#include "yaml_load.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "array.h"
#include "event.h"
#include "input_http.h"
#include "log.h"

#define COMPONENT    "config"
#define MAX_NAME_LEN 64

/* ---- integrations ------------------------------------------------------- */

void sr_config_integration_free(sr_integration_conf *ic) {
    sr_conf_free(sr_integration_conf_keys, ic);
    memset(ic, 0, sizeof *ic);
}

static int default_name(sr_integration_conf *ic, size_t position) {
    char name[MAX_NAME_LEN + 32];
    snprintf(name, sizeof name, "%s-%zu", ic->type, position);
    for (char *c = name; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    return (ic->name = strdup(name)) ? 0 : -1;
}

static const sr_integration_conf *find_integration(const sr_config *cfg, const char *name) {
    for (size_t i = 0; i < cfg->nintegrations; i++)
        if (strcasecmp(cfg->integrations[i].name, name) == 0)
            return &cfg->integrations[i];
    return NULL;
}

static int append_integration(sr_config_loader *ld, sr_integration_conf *ic) {
    sr_config *cfg = ld->cfg;
    sr_integration_conf *v = sr_array_grow(cfg->integrations, &ld->integrations_cap,
                                           cfg->nintegrations + 1, sizeof *v, 8);
    if (!v)
        return -1;
    cfg->integrations = v;
    cfg->integrations[cfg->nintegrations++] = *ic;
    return 0;
}

int sr_config_add_integration(sr_conf_ctx *ctx, const sr_node *map) {
    sr_config_loader *ld = ctx->ud;
    /* -1: "not set", the type's batch settings or every severity apply. */
    sr_integration_conf ic = {
        .min_severity = SR_SEVERITY_NONE,
        .max_events = -1,
        .max_bytes = -1,
        .linger_ms = -1,
        .file = map->file,
        .line = map->line,
    };
    if (sr_conf_set_defaults(sr_integration_conf_keys, &ic, ctx->err, ctx->errlen) != 0)
        goto fail;
    if (sr_conf_apply_map(ctx, map, sr_integration_conf_keys, &ic) != 0)
        goto fail;
    if (!ic.type) {
        sr_conf_fail(ctx, map->file, map->line, "integration is missing required key 'type'");
        goto fail;
    }
    if (!ic.name && default_name(&ic, ld->cfg->nintegrations + 1) != 0) {
        sr_conf_fail(ctx, map->file, map->line, "out of memory");
        goto fail;
    }
    const sr_integration_conf *other = find_integration(ld->cfg, ic.name);
    if (other) {
        sr_conf_fail(ctx, map->file, map->line,
                     "integration name '%s' is already used by the integration at %s:%d", ic.name,
                     other->file, other->line);
        goto fail;
    }
    if (append_integration(ld, &ic) != 0) {
        sr_conf_fail(ctx, map->file, map->line, "out of memory");
        goto fail;
    }
    return 0;
fail:
    sr_config_integration_free(&ic);
    return -1;
}

/* Whether a site module <type>.lua lies in one of the directories searched
 * for types besides the built-in ones (lua_dir's integrations/ and
 * integration_paths): a site may write a module for a name the chart uses. */
static int site_module(const sr_config *cfg, const char *type) {
    char lower[MAX_NAME_LEN + 1], path[4200];
    size_t n = 0;
    for (; type[n] && n < MAX_NAME_LEN; n++)
        lower[n] = (char)tolower((unsigned char)type[n]);
    lower[n] = '\0';
    for (size_t i = 0; i < cfg->nintegration_paths; i++) {
        snprintf(path, sizeof path, "%s/%s.lua", cfg->integration_paths[i], lower);
        if (access(path, R_OK) == 0)
            return 1;
    }
    if (cfg->lua_dir) {
        snprintf(path, sizeof path, "%s/integrations/%s.lua", cfg->lua_dir, lower);
        if (access(path, R_OK) == 0)
            return 1;
    }
    return 0;
}

/* The chart's types siemrelay has no module for get their own answer
 * rather than "unknown type" and a nearest match. Checked once every file
 * is read, since integration_paths may come from a later file. */
static int check_chart_types(sr_conf_ctx *ctx, const sr_config *cfg) {
    for (size_t i = 0; i < cfg->nintegrations; i++) {
        const sr_integration_conf *ic = &cfg->integrations[i];
        const char *why = sr_sysdig_type_unsupported(ic->type);
        if (why && !site_module(cfg, ic->type))
            return sr_conf_fail(ctx, ic->file, ic->type_line ? ic->type_line : ic->line,
                                "integration '%s': siemrelay does not forward to type '%s' of "
                                "the Sysdig chart: %s",
                                ic->name, ic->type, why);
    }
    return 0;
}

/* ---- Documents ---------------------------------------------------------- */

/* dragent.yaml and Helm values hold much besides the forwarder; those keys
 * belong to the agent. A near miss of one of ours is still worth a word,
 * since siemrelay's own sections are honoured in such a file. */
static void ignore_agent_key(const sr_node *root, size_t k) {
    const char *near = sr_conf_suggest(sr_config_keys, root->keys[k]);
    if (near)
        sr_warn(COMPONENT, "%s:%d: ignoring Sysdig agent key '%s' (did you mean '%s'?)", root->file,
                root->key_lines[k], root->keys[k], near);
    else
        sr_debug(COMPONENT, "%s:%d: ignoring Sysdig agent key '%s'", root->file, root->key_lines[k],
                 root->keys[k]);
}

/* The line of `key` in `map`, or the map's own line. */
static int line_of(const sr_node *map, int k) {
    return k >= 0 && map->key_lines ? map->key_lines[k] : map->line;
}

/* A message-type list as a mask; -1 when it holds something else (the
 * reader reports that itself). AUDIT_TAP has no data and counts as nothing. */
static long msg_types_mask(const sr_node *v) {
    unsigned mask = 0;
    if (v->kind == SR_NODE_MAP)
        return -1;
    size_t n = v->kind == SR_NODE_SEQ ? v->n : 1;
    for (size_t i = 0; i < n; i++) {
        const sr_node *el = v->kind == SR_NODE_SEQ ? v->items[i] : v;
        if (el->kind != SR_NODE_SCALAR)
            return -1;
        unsigned bit = sr_msg_type_parse(el->text);
        if (!bit && strcasecmp(el->text, "AUDIT_TAP") != 0)
            return -1;
        mask |= bit;
    }
    return (long)mask;
}

/* One file with both dragent.yaml's `local_forwarder` and Helm's
 * `localForwarder` that disagree: whichever came last would win silently,
 * and the file reads as saying both. Agreeing spellings are fine. */
static int forwarder_spellings_agree(sr_conf_ctx *ctx, const sr_node *root) {
    int ia = sr_node_index(root, "local_forwarder"), ib = sr_node_index(root, "localForwarder");
    if (ia < 0 || ib < 0)
        return 0;
    const sr_node *a = root->items[ia], *b = root->items[ib];
    if (a->kind != SR_NODE_MAP || b->kind != SR_NODE_MAP)
        return 0; /* the section readers say what is wrong */
    int ea = sr_node_index(a, "enabled"), eb = sr_node_index(b, "enabled");
    int va, vb;
    if (ea >= 0 && eb >= 0 && sr_node_bool(a->items[ea], &va) == 0 &&
        sr_node_bool(b->items[eb], &vb) == 0 && va != vb)
        return sr_conf_fail(ctx, root->file, line_of(b, eb),
                            "'localForwarder.enabled: %s' contradicts "
                            "'local_forwarder.enabled: %s' on line %d; the file has both the "
                            "Helm and the dragent.yaml spelling: keep one",
                            vb ? "true" : "false", va ? "true" : "false", line_of(a, ea));
    int ta = sr_node_index(a, "transmit_message_types");
    int tb = sr_node_index(b, "transmitMessageTypes");
    if (ta < 0 || tb < 0)
        return 0;
    long ma = msg_types_mask(a->items[ta]), mb = msg_types_mask(b->items[tb]);
    if (ma >= 0 && mb >= 0 && ma != mb)
        return sr_conf_fail(ctx, root->file, line_of(b, tb),
                            "'localForwarder.transmitMessageTypes' contradicts "
                            "'local_forwarder.transmit_message_types' on line %d; the file has "
                            "both the Helm and the dragent.yaml spelling: keep one",
                            line_of(a, ta));
    return 0;
}

static int apply_document(sr_conf_ctx *ctx, sr_config *cfg, const sr_node *root) {
    if (sr_conf_is_unset(root))
        return 0; /* an empty file */
    if (root->kind != SR_NODE_MAP)
        return sr_conf_fail(ctx, root->file, root->line,
                            "expected a map of settings at the top level");
    if (sr_node_index(root, "local_forwarder") < 0 && sr_node_index(root, "localForwarder") < 0)
        return sr_conf_apply_map(ctx, root, sr_config_keys, cfg);
    if (forwarder_spellings_agree(ctx, root) != 0)
        return -1;
    /* An agent file: only our own keys are read. */
    sr_node ours = *root;
    ours.n = 0;
    ours.keys = malloc(root->n * sizeof *ours.keys);
    ours.key_lines = malloc(root->n * sizeof *ours.key_lines);
    ours.items = malloc(root->n * sizeof *ours.items);
    int rc = -1;
    if (!ours.keys || !ours.key_lines || !ours.items) {
        sr_conf_fail(ctx, root->file, root->line, "out of memory");
        goto done;
    }
    for (size_t k = 0; k < root->n; k++) {
        if (!sr_conf_find(sr_config_keys, root->keys[k])) {
            ignore_agent_key(root, k);
            continue;
        }
        ours.keys[ours.n] = root->keys[k];
        ours.key_lines[ours.n] = root->key_lines[k];
        ours.items[ours.n++] = root->items[k];
    }
    rc = sr_conf_apply_map(ctx, &ours, sr_config_keys, cfg);
done:
    free(ours.keys);
    free(ours.key_lines);
    free(ours.items);
    return rc;
}

static int add_doc(sr_config *cfg, sr_node *doc) {
    sr_node **v = realloc(cfg->docs, (cfg->ndocs + 1) * sizeof *v);
    if (!v)
        return -1;
    cfg->docs = v;
    cfg->docs[cfg->ndocs++] = doc;
    return 0;
}

int sr_config_load(sr_config *cfg, const char *const *paths, size_t npaths, char *err,
                   size_t errlen) {
    sr_config_loader ld = {.cfg = cfg};
    sr_conf_ctx ctx = {.err = err, .errlen = errlen, .ud = &ld};
    sr_agent_files files;
    memset(cfg, 0, sizeof *cfg);
    if (sr_conf_set_defaults(sr_config_keys, cfg, err, errlen) != 0)
        return -1;
    if (sr_agent_files_expand(paths, npaths, &files, err, errlen) != 0)
        return -1;
    for (size_t i = 0; i < files.n; i++) {
        sr_node *doc = sr_yaml_load_file(files.paths[i], err, errlen);
        if (!doc)
            goto fail;
        if (add_doc(cfg, doc) != 0) {
            sr_node_free(doc);
            snprintf(err, errlen, "%s: out of memory", files.paths[i]);
            goto fail;
        }
        if (apply_document(&ctx, cfg, doc) != 0)
            goto fail;
    }
    sr_agent_files_free(&files);
    if (check_chart_types(&ctx, cfg) != 0)
        return -1;
    /* An `inputs:` section lists the inputs wanted: one it leaves out is off
     * (both are on only when no file says anything about inputs). */
    if (ld.inputs_seen) {
        cfg->http.enabled &= ld.http_seen;
        cfg->tcp.enabled &= ld.tcp_seen;
    }
    cfg->kafka.enabled &= ld.kafka_seen; /* never on by default */
    if (!cfg->http.max_body_total_bytes) /* --check shows the budget in effect */
        cfg->http.max_body_total_bytes = sr_input_http_body_budget(cfg->http.max_body_bytes);
    if (sr_kafka_input_conf_validate(&cfg->kafka, err, errlen) != 0)
        return -1;
    return 0;
fail:
    sr_agent_files_free(&files);
    return -1;
}

void sr_config_free(sr_config *cfg) {
    if (!cfg)
        return;
    sr_conf_free(sr_config_keys, cfg);
    for (size_t i = 0; i < cfg->nintegrations; i++)
        sr_config_integration_free(&cfg->integrations[i]);
    free(cfg->integrations);
    for (size_t i = 0; i < cfg->ndocs; i++)
        sr_node_free(cfg->docs[i]);
    free(cfg->docs);
    memset(cfg, 0, sizeof *cfg);
}

/* ---- Output ------------------------------------------------------------- */

void sr_config_print_settings(const sr_config *cfg, sr_buf *out) {
    sr_config effective = *cfg; /* shallow: only the queue differs */
    const sr_queue_conf none = {0};
    sr_queue_conf_resolve(&none, &cfg->queue, &effective.queue);
    sr_conf_print_json(out, sr_config_keys, &effective);
}

static const char table_head[] = "| key | default | meaning |\n| --- | --- | --- |\n";

void sr_config_reference(sr_buf *out) {
    sr_buf_puts(out, table_head);
    sr_conf_reference(out, sr_config_keys, NULL);
    sr_buf_putc(out, '\n');
    sr_buf_puts(out, table_head);
    sr_conf_reference(out, sr_integration_conf_keys, NULL);
}
