/* test_certs.h - a throw-away PKI for TLS tests, made with the openssl CLI
 * in a fresh temporary directory: a CA, a server certificate for localhost
 * and 127.0.0.1 signed by it, and a client certificate (clientAuth). */
#ifndef SR_TEST_CERTS_H
#define SR_TEST_CERTS_H

#include <stdio.h>
#include <stdlib.h>

enum { CA_CRT, SRV_CRT, SRV_KEY, CLI_CRT, CLI_KEY, NCERTS };

typedef struct test_certs {
    char dir[64];
    char path[NCERTS][128];
} test_certs;

static int test_certs_make(test_certs *c) {
    static const char *names[NCERTS] = {"ca.crt", "server.crt", "server.key", "client.crt",
                                        "client.key"};
    snprintf(c->dir, sizeof c->dir, "/tmp/sr-certs-XXXXXX");
    if (!mkdtemp(c->dir))
        return -1;
    for (int i = 0; i < NCERTS; i++)
        snprintf(c->path[i], sizeof c->path[i], "%s/%s", c->dir, names[i]);
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cd %s && exec >/dev/null 2>&1 && "
             "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext && "
             "printf 'extendedKeyUsage=clientAuth\\n' > cli.ext && "
             "K='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes' && "
             "openssl req -x509 $K -keyout ca.key -out ca.crt -days 2 -subj /CN=test-ca && "
             "openssl req $K -keyout server.key -out server.csr -subj /CN=localhost && "
             "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
             "-days 2 -extfile san.ext -out server.crt && "
             "openssl req $K -keyout client.key -out client.csr -subj /CN=client && "
             "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
             "-days 2 -extfile cli.ext -out client.crt",
             c->dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_certs_remove(test_certs *c) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", c->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", c->dir);
}

#endif
