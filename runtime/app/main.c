/* main.c - command line. */
#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_auth.h"
#include "config.h"
#include "gateway.h"
#include "cmd_replay.h"
#include "cmd_status.h"
#include "cmd_test.h"
#include "version.h"

#define SR_MAX_CONFIGS 16

static void usage(FILE *out) {
    fprintf(out,
            "usage: siemrelay -c FILE [-c FILE ...]          run the gateway\n"
            "       siemrelay --check -c FILE [-c FILE ...]  validate and print the effective\n"
            "                                                configuration (secrets masked)\n"
            "       siemrelay status [-c FILE ...] [--admin HOST:PORT] [--json]\n"
            "                                                the running gateway's integrations\n"
            "       siemrelay replay -i NAME [--stage S] [--reason TEXT] [--since T] [--until T]\n"
            "                        [--reencode] [-c FILE ...] [--admin HOST:PORT]\n"
            "                                                resend an integration's dead letters\n"
            "       siemrelay replay --pipeline [--stage S] ...  run the pipeline's dead letters\n"
            "                                                through the pipeline again\n"
            "       siemrelay test -c FILE [-c FILE ...] [--json] [EVENTS ...]\n"
            "                                                run events through the scripts,\n"
            "                                                routing and encoders, offline\n"
            "       siemrelay test [-c FILE ...] --suite FILE  run script test files\n"
            "       siemrelay hash-token                     read an admin token on stdin,\n"
            "                                                print its SHA-256 for admin.tokens\n"
            "       siemrelay --print-config-reference       the key tables of\n"
            "                                                docs/configuration.md\n"
            "       siemrelay --version                      the version, and those of the\n"
            "                                                libraries it runs with\n"
            "       siemrelay --help\n"
            "\n"
            "Several -c files are merged in order: later files override settings, and\n"
            "their integration lists are concatenated. Sysdig's local_forwarder_config.yaml,\n"
            "dragent.yaml and Helm values.yaml are accepted as they are.\n"
            "See README.md and docs/configuration.md.\n");
}

/* The token comes on stdin, not argv, so it never shows in `ps`. One
 * trailing newline (from echo or a terminal) is not part of it. */
static int hash_token(int argc) {
    char token[4096], hex[65];
    if (argc != 2) {
        fprintf(stderr, "usage: siemrelay hash-token < token-file\n");
        return 2;
    }
    size_t n = fread(token, 1, sizeof token, stdin);
    if (n == sizeof token) {
        fprintf(stderr, "siemrelay: a token is at most %zu bytes\n", sizeof token - 1);
        return 2;
    }
    if (n && token[n - 1] == '\n')
        n--;
    if (n && token[n - 1] == '\r')
        n--;
    if (n == 0) {
        fprintf(stderr, "siemrelay: no token on stdin\n");
        return 2;
    }
    sr_admin_hash_token(token, n, hex);
    memset(token, 0, sizeof token);
    printf("%s\n", hex);
    return 0;
}

/* Generated from the key tables, so the docs can be checked against them. */
static int print_config_reference(void) {
    sr_buf out = SR_BUF_INIT;
    sr_config_reference(&out);
    int rc = out.len && fwrite(out.data, 1, out.len, stdout) == out.len ? 0 : 1;
    sr_buf_free(&out);
    return rc;
}

int main(int argc, char **argv) {
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check", no_argument, NULL, 'k'},
        {"print-config-reference", no_argument, NULL, 'r'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *paths[SR_MAX_CONFIGS];
    size_t npaths = 0;
    int check = 0, c;
    /* A subcommand with options of its own. */
    if (argc > 1 && strcmp(argv[1], "status") == 0)
        return sr_cmd_status(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "replay") == 0)
        return sr_cmd_replay(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "test") == 0)
        return sr_cmd_test(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "hash-token") == 0)
        return hash_token(argc);
    while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            if (npaths == SR_MAX_CONFIGS) {
                fprintf(stderr, "siemrelay: at most %d configuration files\n", SR_MAX_CONFIGS);
                return 2;
            }
            paths[npaths++] = optarg;
            break;
        case 'k': check = 1; break;
        case 'r': return print_config_reference();
        case 'V': return sr_version_print(stdout) == 0 ? 0 : 1;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "siemrelay: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (npaths == 0) {
        fprintf(stderr, "siemrelay: no configuration given; use -c FILE "
                        "(config/siemrelay.yaml is the default one)\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = check ? sr_gateway_check(paths, npaths) : sr_gateway_run(paths, npaths);
    curl_global_cleanup();
    return rc;
}
