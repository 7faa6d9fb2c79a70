/* tls_listen_conf.c - a listener's `tls:` section (listener_conf.h). */
#include "listener_conf.h"

#include "tls_engine.h"

/* Checked on the merged result, so a later file may add to an earlier
 * file's TLS settings (a CA, say) without repeating them. */
int sr_tls_listen_conf_check(sr_conf_ctx *ctx, const sr_conf_item *it, void *field) {
    const sr_tls_listen_conf *tls = field;
    if (tls->cert_file && !tls->key_file)
        return sr_conf_fail(ctx, it->file, it->line,
                            "key '%s': 'cert' needs 'key' (the private key file)", it->key);
    if (tls->key_file && !tls->cert_file)
        return sr_conf_fail(ctx, it->file, it->line,
                            "key '%s': 'key' needs 'cert' (the certificate file)", it->key);
    if (tls->client_ca_file && !tls->cert_file)
        return sr_conf_fail(ctx, it->file, it->line,
                            "key '%s': 'client_ca' needs 'cert' and 'key': client certificates "
                            "are only checked over TLS",
                            it->key);
    if (tls->require_client_cert && !tls->client_ca_file)
        return sr_conf_fail(ctx, it->file, it->line,
                            "key '%s': 'require_client_cert' needs 'client_ca' to verify them "
                            "against",
                            it->key);
    char why[400];
    if (tls->ciphers && sr_tls_ciphers_check(tls->ciphers, why, sizeof why) != 0)
        return sr_conf_fail(ctx, it->file, it->line, "key '%s': %s", it->key, why);
    return 0;
}

static const char *const tls_versions[] = {"1.2", "1.3", "TLSv1.2", "TLSv1.3", NULL};
static const int tls_version_values[] = {SR_TLS_MIN_1_2, SR_TLS_MIN_1_3, SR_TLS_MIN_1_2,
                                         SR_TLS_MIN_1_3};

/* The *_file spellings match the field names (and docs/inputs.md). */
const sr_conf_key sr_tls_listen_conf_keys[] = {
    {.name = "cert", .type = SR_CONF_STRING, SR_CONF_AT(sr_tls_listen_conf, cert_file)},
    {.name = "key", .type = SR_CONF_STRING, SR_CONF_AT(sr_tls_listen_conf, key_file)},
    {.name = "client_ca", .type = SR_CONF_STRING, SR_CONF_AT(sr_tls_listen_conf, client_ca_file)},
    {.name = "require_client_cert",
     .type = SR_CONF_BOOL,
     SR_CONF_AT(sr_tls_listen_conf, require_client_cert)},
    {.name = "min_version",
     .type = SR_CONF_ENUM,
     SR_CONF_AT(sr_tls_listen_conf, min_version),
     .dflt = "1.2",
     .names = tls_versions,
     .values = tls_version_values,
     .expected = "1.2 or 1.3"},
    {.name = "ciphers", .type = SR_CONF_STRING, SR_CONF_AT(sr_tls_listen_conf, ciphers)},
    {.name = "cert_file", .alias_of = "cert"},
    {.name = "key_file", .alias_of = "key"},
    {.name = "client_ca_file", .alias_of = "client_ca"},
    {.name = NULL},
};
