/* admin_conf.c - the `admin:` section (admin.h's sr_admin_conf) as a key
 * table (conf_table.h), with its tokens. */
#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin.h"
#include "admin_auth.h"
#include "auth_guard.h"
#include "listener_conf.h"

static const char *const roles[] = {"admin", "viewer", NULL};
static const int role_values[] = {SR_ROLE_ADMIN, SR_ROLE_VIEWER};

static int hex_digit(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The hash is not a secret, but a token pasted here by mistake is: a value
 * that is not a hash is never echoed. */
static int read_sha256(sr_conf_ctx *ctx, const sr_conf_item *it, void *field) {
    unsigned char *sha256 = field;
    const char *s = it->v->kind == SR_NODE_SCALAR ? it->v->text : "";
    if (strlen(s) != 64)
        goto bad;
    for (int i = 0; i < 32; i++) {
        int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            goto bad;
        sha256[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
bad:
    return sr_conf_wrong_value(ctx, it,
                               "the token's SHA-256 as 64 hex digits (printf %s TOKEN | "
                               "sha256sum, or siemrelay hash-token); never the token itself",
                               1);
}

static const sr_conf_key token_keys[] = {
    {.name = "name", .type = SR_CONF_STRING, SR_CONF_AT(sr_admin_token_conf, name)},
    {.name = "role",
     .type = SR_CONF_ENUM,
     SR_CONF_AT(sr_admin_token_conf, role),
     .names = roles,
     .values = role_values,
     .expected = "admin or viewer"},
    {.name = "sha256",
     .type = SR_CONF_CUSTOM,
     SR_CONF_AT(sr_admin_token_conf, sha256),
     .apply = read_sha256},
    {.name = NULL},
};

static void free_tokens(sr_admin_token_conf *t, size_t n) {
    for (size_t i = 0; i < n; i++)
        sr_conf_free(token_keys, &t[i]);
    free(t);
}

static void drop_tokens(void *field) {
    sr_admin_conf *admin = field;
    free_tokens(admin->tokens, admin->ntokens);
    admin->tokens = NULL;
    admin->ntokens = 0;
}

/* `tokens:` replaces an earlier file's list as a whole. */
static int read_tokens(sr_conf_ctx *ctx, const sr_conf_item *it, void *field) {
    sr_admin_conf *admin = field;
    const sr_node *v = it->v;
    if (v->kind != SR_NODE_SEQ)
        return sr_conf_wrong_value(ctx, it, "a list of {name, role, sha256}", 0);
    sr_admin_token_conf *list = calloc(v->n ? v->n : 1, sizeof *list);
    if (!list)
        return sr_conf_fail(ctx, it->file, it->line, "out of memory");
    for (size_t i = 0; i < v->n; i++) {
        const sr_node *el = v->items[i];
        if (el->kind != SR_NODE_MAP) {
            sr_conf_wrong_element(ctx, it, el, "a token (a map with name, role and sha256)");
            goto fail;
        }
        if (sr_conf_apply_map(ctx, el, token_keys, &list[i]) != 0)
            goto fail;
        const char *missing = !list[i].name ? "name" : !list[i].role ? "role" : NULL;
        const sr_node *hash = sr_node_get(el, "sha256");
        if (!missing && (!hash || sr_conf_is_unset(hash)))
            missing = "sha256";
        if (missing) {
            sr_conf_fail(ctx, el->file, el->line, "key '%s': a token is missing required key '%s'",
                         it->key, missing);
            goto fail;
        }
        for (size_t j = 0; j < i; j++)
            if (strcasecmp(list[j].name, list[i].name) == 0) {
                sr_conf_fail(ctx, el->file, el->line, "key '%s': token name '%s' is used twice",
                             it->key, list[i].name);
                goto fail;
            }
    }
    free_tokens(admin->tokens, admin->ntokens);
    admin->tokens = list;
    admin->ntokens = v->n;
    return 0;
fail:
    free_tokens(list, v->n);
    return -1;
}

/* Who may use the API, never their hashes. */
static void print_tokens(sr_buf *out, const void *field) {
    const sr_admin_conf *admin = field;
    sr_buf_putc(out, '[');
    for (size_t i = 0; i < admin->ntokens; i++) {
        sr_buf_puts(out, i ? ",{\"name\":" : "{\"name\":");
        sr_buf_json_string(out, admin->tokens[i].name, strlen(admin->tokens[i].name));
        sr_buf_printf(out, ",\"role\":\"%s\"}", sr_admin_role_name(admin->tokens[i].role));
    }
    sr_buf_putc(out, ']');
}

const sr_conf_key sr_admin_conf_keys[] = {
    {.name = "enabled",
     .type = SR_CONF_BOOL,
     SR_CONF_AT(sr_admin_conf, enabled),
     .dflt = "true",
     .doc = "the admin API listener ([admin.md](admin.md))"},
    {.name = "listen",
     .type = SR_CONF_LISTEN,
     SR_CONF_AT(sr_admin_conf, host),
     .aux = offsetof(sr_admin_conf, port),
     .dflt = "127.0.0.1:9090",
     .expected = "host:port such as 127.0.0.1:9090 (port 1-65535)",
     .doc = "`host:port`"},
    {.name = "tokens",
     .type = SR_CONF_CUSTOM,
     .apply = read_tokens,
     .print = print_tokens,
     .drop = drop_tokens,
     .doc = "a list of `{name, role, sha256}`: who may use the admin API, `role` `admin` or "
            "`viewer`, `sha256` the token's SHA-256 in hex (never the token); replaced as a "
            "whole by a later file, re-read on reload "
            "([admin.md](admin.md#roles-and-tokens))"},
    {.name = "script_dir",
     .type = SR_CONF_STRING,
     SR_CONF_AT(sr_admin_conf, script_dir),
     .doc_default = "none",
     .doc = "the directory whose scripts integrations defined through the admin API may name; "
            "unset: they may name none ([admin.md](admin.md#what-an-admin-can-and-cannot-do))"},
    {.name = "credentials_dir",
     .type = SR_CONF_STRING,
     SR_CONF_AT(sr_admin_conf, credentials_dir),
     .doc_default = "none",
     .doc = "the directory whose files (`caFile`, `certFile`, `keyFile`) integrations defined "
            "through the admin API may name; unset: they may name none "
            "([admin.md](admin.md#what-an-admin-can-and-cannot-do))"},
    {.name = "files_dir",
     .type = SR_CONF_STRING,
     SR_CONF_AT(sr_admin_conf, files_dir),
     .doc_default = "`data_dir/files`",
     .doc = "the directory the FILE paths of integrations defined through the admin API are "
            "confined to ([admin.md](admin.md#what-an-admin-can-and-cannot-do))"},
    {.name = "failed_auth",
     .type = SR_CONF_SECTION,
     SR_CONF_AT(sr_admin_conf, failed_auth),
     .sub = sr_auth_guard_conf_keys},
    {.name = "tls",
     .type = SR_CONF_SECTION,
     SR_CONF_AT(sr_admin_conf, tls),
     .sub = sr_tls_listen_conf_keys,
     .apply = sr_tls_listen_conf_check,
     .doc = "the API over TLS, as for the inputs: see [TLS](#tls)"},
    {.name = "allowed_hosts",
     .type = SR_CONF_STRINGS,
     SR_CONF_AT(sr_admin_conf, allowed_hosts),
     .aux = offsetof(sr_admin_conf, nallowed_hosts),
     .doc = "host names the API answers to besides its listen address (and `localhost` on "
            "loopback); any other `Host` gets 421; `*` turns the check off; re-read on reload "
            "([admin.md](admin.md#host-names))"},
    SR_CONF_CONN_LIMITS(sr_admin_conf, limits, "4096", "64"),
    SR_CONF_IDLE_TIMEOUT(
        sr_admin_conf, "10s",
        "a request must arrive completely within it; an idle connection is closed after it"),
    SR_CONF_HEADER_TIMEOUT(sr_admin_conf, "5s"),
    SR_CONF_PROGRESS(sr_admin_conf, "5s", "a request body (else 408)"),
    {.name = NULL},
};
