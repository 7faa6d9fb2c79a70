/* admin_client.c - the command line's side of the admin API: where it
 * listens, and one blocking request with libcurl. */
#include "admin_client.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define CLIENT_TIMEOUT_S    5
#define CLIENT_MAX_ANSWER   (64u << 20)
#define CLIENT_DEFAULT_HOST "127.0.0.1"
#define CLIENT_DEFAULT_PORT 9090

static int has_env(const char *name) {
    const char *v = getenv(name);
    return v && *v;
}

/* "host:port" or "[v6]:port", parsed as the configuration does, after an
 * optional scheme. */
int sr_admin_address_parse(const char *s, sr_admin_address *a) {
    char *host = NULL;
    int port, tls = 0;
    if (strncmp(s, "https://", 8) == 0) {
        s += 8;
        tls = 1;
    } else if (strncmp(s, "http://", 7) == 0) {
        s += 7;
    }
    if (sr_parse_listen(s, &host, &port) != 0 || strlen(host) >= sizeof a->host) {
        free(host);
        return -1;
    }
    sr_admin_address_set(a, host, port);
    a->tls = tls;
    free(host);
    return 0;
}

void sr_admin_address_set(sr_admin_address *a, const char *host, int port) {
    /* A gateway bound to every address is reachable on loopback. */
    if (strcmp(host, "0.0.0.0") == 0 || *host == '\0')
        host = "127.0.0.1";
    else if (strcmp(host, "::") == 0)
        host = "::1";
    snprintf(a->host, sizeof a->host, "%s", host);
    snprintf(a->port, sizeof a->port, "%d", port);
    a->tls = 0;
    a->pin[0] = '\0';
}

void sr_admin_address_format(const sr_admin_address *a, char *out, size_t n) {
    const char *scheme = a->tls ? "https://" : "";
    if (strchr(a->host, ':')) /* IPv6 */
        snprintf(out, n, "%s[%s]:%s", scheme, a->host, a->port);
    else
        snprintf(out, n, "%s%s:%s", scheme, a->host, a->port);
}

/* "sha256//<base64>" of the public key in `cert_file` (PEM), the form
 * CURLOPT_PINNEDPUBLICKEY takes. */
static int pin_of(const char *cert_file, char *out, size_t n, char *err, size_t errlen) {
    unsigned char md[SHA256_DIGEST_LENGTH], b64[4 * ((SHA256_DIGEST_LENGTH + 2) / 3) + 1];
    unsigned char *der = NULL;
    X509 *x = NULL;
    int rc = -1, len;
    FILE *f = fopen(cert_file, "r");
    if (!f) {
        snprintf(err, errlen,
                 "cannot read admin.tls.cert %s to verify the admin API: %s (or name the CA that "
                 "signed it in SIEMRELAY_ADMIN_CACERT)",
                 cert_file, strerror(errno));
        return -1;
    }
    if (!(x = PEM_read_X509(f, NULL, NULL, NULL)) ||
        (len = i2d_PUBKEY(X509_get0_pubkey(x), &der)) <= 0) {
        snprintf(err, errlen, "admin.tls.cert %s: no PEM certificate in it", cert_file);
        goto done;
    }
    SHA256(der, (size_t)len, md);
    EVP_EncodeBlock(b64, md, SHA256_DIGEST_LENGTH);
    snprintf(out, n, "sha256//%s", (const char *)b64);
    rc = 0;
done:
    OPENSSL_free(der);
    X509_free(x);
    fclose(f);
    return rc;
}

/* How an https request verifies the server and proves itself: see the
 * header. -1 with `err` when the settings cannot be used. */
static int set_tls(CURL *e, const sr_admin_address *a, char *pin, size_t pinlen, char *err,
                   size_t errlen) {
    const char *ca = getenv("SIEMRELAY_ADMIN_CACERT");
    const char *cert = getenv("SIEMRELAY_ADMIN_CERT"), *key = getenv("SIEMRELAY_ADMIN_KEY");
    int ok = 1;
    if (has_env("SIEMRELAY_ADMIN_CACERT")) {
        ok = curl_easy_setopt(e, CURLOPT_CAINFO, ca) == CURLE_OK;
    } else if (a->pin[0]) {
        if (pin_of(a->pin, pin, pinlen, err, errlen) != 0)
            return -1;
        /* The configured certificate is the trust anchor and its key the
         * pin; the name is not checked (see the header). */
        ok = curl_easy_setopt(e, CURLOPT_CAINFO, a->pin) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_PINNEDPUBLICKEY, pin) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L) == CURLE_OK;
    }
    if (has_env("SIEMRELAY_ADMIN_CERT") != has_env("SIEMRELAY_ADMIN_KEY")) {
        snprintf(err, errlen, "SIEMRELAY_ADMIN_CERT and SIEMRELAY_ADMIN_KEY go together");
        return -1;
    }
    if (has_env("SIEMRELAY_ADMIN_CERT"))
        ok = ok && curl_easy_setopt(e, CURLOPT_SSLCERT, cert) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_SSLKEY, key) == CURLE_OK;
    if (!ok) {
        snprintf(err, errlen, "cannot configure libcurl for TLS");
        return -1;
    }
    return 0;
}

typedef struct answer {
    sr_buf *body;
    int too_large;
} answer;

/* Collects the body, refusing more than CLIENT_MAX_ANSWER. */
static size_t on_body(char *p, size_t size, size_t n, void *ud) {
    answer *ans = ud;
    size_t len = size * n;
    if (ans->body->len + len > CLIENT_MAX_ANSWER) {
        ans->too_large = 1;
        return 0; /* curl stops with CURLE_WRITE_ERROR */
    }
    return sr_buf_append(ans->body, p, len) == 0 ? len : 0;
}

/* Why a transfer failed, in the words the command has always used: the
 * system's reason for a refused or timed-out connection. */
static void failure(CURL *e, CURLcode rc, const answer *ans, int pinned, const char *curl_err,
                    char *err, size_t errlen) {
    long os_errno = 0;
    curl_off_t connected = 0;
    curl_easy_getinfo(e, CURLINFO_OS_ERRNO, &os_errno);
    curl_easy_getinfo(e, CURLINFO_CONNECT_TIME_T, &connected);
    if (rc == CURLE_WRITE_ERROR)
        snprintf(err, errlen, "%s", ans->too_large ? "the answer is too large" : "out of memory");
    else if (rc == CURLE_WEIRD_SERVER_REPLY)
        snprintf(err, errlen, "the answer is not HTTP");
    else if (rc == CURLE_OPERATION_TIMEDOUT)
        snprintf(err, errlen, "%s",
                 connected ? "reading the answer: timed out" : strerror(ETIMEDOUT));
    else if (rc == CURLE_COULDNT_CONNECT && os_errno)
        snprintf(err, errlen, "%s", strerror((int)os_errno));
    else if (pinned &&
             (rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH || rc == CURLE_PEER_FAILED_VERIFICATION))
        snprintf(err, errlen, "its certificate is not the one admin.tls.cert names (%s)",
                 *curl_err ? curl_err : curl_easy_strerror(rc));
    else if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE)
        snprintf(err, errlen, "%s (SIEMRELAY_ADMIN_CACERT names the CA bundle to trust)",
                 *curl_err ? curl_err : curl_easy_strerror(rc));
    else if (strstr(curl_err, "certificate required") && !has_env("SIEMRELAY_ADMIN_CERT"))
        snprintf(err, errlen,
                 "%s (it wants a client certificate: SIEMRELAY_ADMIN_CERT and "
                 "SIEMRELAY_ADMIN_KEY)",
                 curl_err);
    else
        snprintf(err, errlen, "%s", *curl_err ? curl_err : curl_easy_strerror(rc));
}

/* Sends `method` `path` (an empty body unless GET) with libcurl; on success returns the HTTP status
 * with the body in `body`, else -1 with the reason in `err`. HTTP, or HTTPS as the header says; no
 * proxy (the admin API is local, and a proxy from the environment must not see the token), the
 * token from $SIEMRELAY_ADMIN_TOKEN. A connection attempt and any stall of the answer are each cut
 * at CLIENT_TIMEOUT_S. */
int sr_admin_call(const sr_admin_address *a, const char *method, const char *path, const char *tool,
                  sr_buf *body, char *err, size_t errlen) {
    char url[512], addr[300], auth[4200] = "", agent[64], curl_err[CURL_ERROR_SIZE] = "";
    char pin[128];
    struct curl_slist *headers = NULL, *h;
    answer ans = {body, 0};
    int status = -1;
    long code = 0;
    sr_admin_address_format(a, addr, sizeof addr);
    snprintf(url, sizeof url, "%s%s%s", a->tls ? "" : "http://", addr, path);
    snprintf(agent, sizeof agent, "siemrelay-%s/%s", tool, SR_VERSION);
    /* An admin API with admin.tokens wants a token (docs/admin.md). */
    const char *token = getenv("SIEMRELAY_ADMIN_TOKEN");
    if (token && *token && strlen(token) < 4096 && !strpbrk(token, "\r\n"))
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "cannot initialise libcurl");
        return -1;
    }
    CURL *e = curl_easy_init();
    if (!e || !(h = curl_slist_append(NULL, "Accept: application/json")))
        goto oom;
    headers = h;
    if (*auth) {
        if (!(h = curl_slist_append(headers, auth)))
            goto oom;
        headers = h;
    }
    if (curl_easy_setopt(e, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, a->tls ? "https" : "http") != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_NOPROXY, "*") != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_USERAGENT, agent) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)CLIENT_TIMEOUT_S) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)CLIENT_TIMEOUT_S) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, curl_err) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &ans) != CURLE_OK ||
        (strcmp(method, "GET") != 0 &&
         (curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method) != CURLE_OK ||
          curl_easy_setopt(e, CURLOPT_POSTFIELDS, "") != CURLE_OK))) {
        snprintf(err, errlen, "cannot configure libcurl");
        goto done;
    }
    if (a->tls && set_tls(e, a, pin, sizeof pin, err, errlen) != 0)
        goto done;
    CURLcode rc = curl_easy_perform(e);
    if (rc != CURLE_OK)
        failure(e, rc, &ans, a->pin[0] && !has_env("SIEMRELAY_ADMIN_CACERT"), curl_err, err,
                errlen);
    else if (curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK || code <= 0)
        snprintf(err, errlen, "the answer is not HTTP");
    else
        status = (int)code;
    goto done;

oom:
    snprintf(err, errlen, "out of memory");
done:
    curl_slist_free_all(headers);
    if (e)
        curl_easy_cleanup(e);
    curl_global_cleanup();
    return status;
}

int sr_admin_address_resolve(const char *admin, const char *const *files, size_t n,
                             sr_admin_address *a, char *err, size_t errlen) {
    sr_admin_address_set(a, CLIENT_DEFAULT_HOST, CLIENT_DEFAULT_PORT);
    if (admin) {
        if (sr_admin_address_parse(admin, a) == 0)
            return 0;
        snprintf(err, errlen,
                 "--admin '%s': expected [https://]HOST:PORT such as 127.0.0.1:9090, [::1]:9090 "
                 "or https://siemrelay.example.com:9443",
                 admin);
        return -2;
    }
    if (!n)
        return 0;
    sr_config cfg;
    int rc = sr_config_load(&cfg, files, n, err, errlen);
    if (rc == 0) {
        if (!cfg.admin.enabled) {
            snprintf(err, errlen,
                     "the admin API is disabled in the configuration (admin.enabled: false)");
            rc = 1;
        } else {
            sr_admin_address_set(a, cfg.admin.host ? cfg.admin.host : CLIENT_DEFAULT_HOST,
                                 cfg.admin.port);
            const char *cert = cfg.admin.tls.cert_file;
            a->tls = cert != NULL;
            if (cert && strlen(cert) < sizeof a->pin)
                snprintf(a->pin, sizeof a->pin, "%s", cert);
            else if (cert) {
                snprintf(err, errlen, "admin.tls.cert: the path is too long");
                rc = -1;
            }
        }
    } else {
        size_t k = strlen(err);
        snprintf(err + k, errlen - k, " (--admin HOST:PORT skips the configuration)");
    }
    sr_config_free(&cfg);
    return rc;
}
