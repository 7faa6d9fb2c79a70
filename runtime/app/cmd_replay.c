/* cmd_replay.c - `siemrelay replay`: ask the running gateway to replay
 * dead letters, print what it did. */
#include "cmd_replay.h"

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "admin_client.h"
#include "buf.h"
#include "json.h"

#define REPLAY_MAX_CONFIGS 16

static void usage(FILE *out) {
    fprintf(out, "usage: siemrelay replay -i NAME [--stage S] [--reason TEXT] [--since TIME]\n"
                 "                        [--until TIME] [--reencode] [-c FILE ...]\n"
                 "                        [--admin HOST:PORT]\n"
                 "       siemrelay replay --pipeline [--stage S] [--reason TEXT] [--since TIME]\n"
                 "                        [--until TIME] [-c FILE ...] [--admin HOST:PORT]\n"
                 "\n"
                 "Has the running gateway send an integration's dead-lettered records again,\n"
                 "from all of its dead-letter files, oldest first (needs an admin token in\n"
                 "SIEMRELAY_ADMIN_TOKEN when admin.tokens is set); with --pipeline, run the\n"
                 "events a global site script failed on (_pipeline.jsonl) through the whole\n"
                 "current pipeline again, to every integration they are routed to.\n"
                 "  -i, --integration NAME  whose dead letters\n"
                 "      --pipeline          the pipeline's dead letters instead\n"
                 "      --stage S           only lines of that stage (rejected, script, ...)\n"
                 "      --reason TEXT       only lines whose reason contains TEXT\n"
                 "      --since TIME        only lines at or after TIME (RFC 3339 with a zone\n"
                 "                          offset, or seconds since the epoch)\n"
                 "      --until TIME        only lines before TIME\n"
                 "      --reencode          rebuild the records from the stored original events\n"
                 "                          through the current scripts and encoder (after a\n"
                 "                          script or mapping fix), instead of resending them\n"
                 "  -c, --config FILE       the gateway's configuration (for admin.listen)\n"
                 "      --admin ADDR        the admin API's [https://]HOST:PORT (overrides -c)\n"
                 "Environment: for HTTPS SIEMRELAY_ADMIN_CACERT, SIEMRELAY_ADMIN_CERT,\n"
                 "SIEMRELAY_ADMIN_KEY (docs/admin.md).\n");
}

/* Appends `s` percent-encoded (everything but unreserved characters). */
static int put_encoded(sr_buf *b, const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    int rc = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~", *p))
            rc |= sr_buf_putc(b, (char)*p);
        else
            rc |= sr_buf_printf(b, "%%%c%c", hex[*p >> 4], hex[*p & 15]);
    }
    return rc;
}

static int count_of(const char *json, size_t n, const char *key, int64_t *out) {
    sr_json_member m;
    if (!sr_json_object_get(json, n, key, strlen(key), &m) || m.type != SR_JSON_NUMBER)
        return -1;
    return sr_json_to_int64(json + m.val_off, m.val_len, out);
}

/* What an integration's replay did; -1 when the answer is not one. */
static int print_integration(const sr_buf *body, const char *name, int reencode) {
    int64_t replayed, reencoded, kept, events, records, nread;
    if (count_of(body->data, body->len, "replayed", &replayed) ||
        count_of(body->data, body->len, "reencoded", &reencoded) ||
        count_of(body->data, body->len, "kept", &kept) ||
        count_of(body->data, body->len, "events", &events) ||
        count_of(body->data, body->len, "records", &records) ||
        count_of(body->data, body->len, "files", &nread))
        return -1;
    printf("replayed %lld record(s) of integration '%s'; %lld line(s) kept (%lld event(s) with "
           "no record",
           (long long)replayed, name, (long long)(kept + events + records), (long long)events);
    if (reencode)
        printf(", %lld stored record(s) with no event to re-encode", (long long)records);
    printf("); %lld dead-letter file(s) read\n", (long long)nread);
    if (reencode)
        printf("re-encoded %lld record(s) from their original event\n", (long long)reencoded);
    return 0;
}

/* What the pipeline's replay did; -1 when the answer is not one. */
static int print_pipeline(const sr_buf *body) {
    int64_t replayed, queued, moved, failed, kept, nread;
    if (count_of(body->data, body->len, "replayed", &replayed) ||
        count_of(body->data, body->len, "queued", &queued) ||
        count_of(body->data, body->len, "dead_lettered", &moved) ||
        count_of(body->data, body->len, "failed", &failed) ||
        count_of(body->data, body->len, "kept", &kept) ||
        count_of(body->data, body->len, "files", &nread))
        return -1;
    printf("replayed %lld event(s) of the pipeline's dead letters: %lld record(s) queued, %lld "
           "failure(s) of integrations' own scripts or encoders dead-lettered there; %lld line(s) "
           "kept (%lld failing again or giving no record); %lld dead-letter file(s) read\n",
           (long long)replayed, (long long)queued, (long long)moved, (long long)(kept + failed),
           (long long)failed, (long long)nread);
    return 0;
}

int sr_cmd_replay(int argc, char **argv) {
    static const struct option opts[] = {
        {"integration", required_argument, NULL, 'i'},
        {"stage", required_argument, NULL, 's'},
        {"reason", required_argument, NULL, 'r'},
        {"since", required_argument, NULL, 'S'},
        {"until", required_argument, NULL, 'U'},
        {"reencode", no_argument, NULL, 'R'},
        {"pipeline", no_argument, NULL, 'P'},
        {"config", required_argument, NULL, 'c'},
        {"admin", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const char *const keys[] = {"stage", "reason", "since", "until", "reencode"};
    const char *files[REPLAY_MAX_CONFIGS], *filter[5] = {NULL, NULL, NULL, NULL, NULL};
    const char *name = NULL, *admin = NULL;
    size_t nfiles = 0;
    int c, rc = 1, pipeline = 0;
    char err[1024] = "", addr[300];
    sr_admin_address a;

    optind = 0;
    while ((c = getopt_long(argc, argv, "i:c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'i': name = optarg; break;
        case 's': filter[0] = optarg; break;
        case 'r': filter[1] = optarg; break;
        case 'S': filter[2] = optarg; break;
        case 'U': filter[3] = optarg; break;
        case 'R': filter[4] = "true"; break;
        case 'P': pipeline = 1; break;
        case 'c':
            if (nfiles == REPLAY_MAX_CONFIGS) {
                fprintf(stderr, "siemrelay replay: at most %d configuration files\n",
                        REPLAY_MAX_CONFIGS);
                return 2;
            }
            files[nfiles++] = optarg;
            break;
        case 'a': admin = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    const char *wrong = optind < argc           ? "unexpected argument"
                        : pipeline && name      ? "-i and --pipeline exclude each other"
                        : pipeline && filter[4] ? "--pipeline always runs the events through the "
                                                  "pipeline: --reencode does not apply"
                        : !pipeline && (!name || !*name) ? "which integration? (-i NAME)"
                                                         : NULL;
    if (wrong) {
        if (optind < argc)
            fprintf(stderr, "siemrelay replay: %s '%s'\n", wrong, argv[optind]);
        else
            fprintf(stderr, "siemrelay replay: %s\n", wrong);
        usage(stderr);
        return 2;
    }
    int where = sr_admin_address_resolve(admin, files, nfiles, &a, err, sizeof err);
    if (where != 0) {
        fprintf(stderr, "siemrelay replay: %s\n", err);
        return where == 1 ? 1 : 2;
    }
    sr_admin_address_format(&a, addr, sizeof addr);

    sr_buf path = SR_BUF_INIT, body = SR_BUF_INIT;
    int oom = pipeline ? sr_buf_puts(&path, "/api/replay")
                       : sr_buf_puts(&path, "/api/integrations/") || put_encoded(&path, name) ||
                             sr_buf_puts(&path, "/replay");
    for (int k = 0, first = 1; k < 5; k++) {
        if (!filter[k])
            continue;
        oom |= sr_buf_printf(&path, "%c%s=", first ? '?' : '&', keys[k]) ||
               put_encoded(&path, filter[k]);
        first = 0;
    }
    if (oom) {
        fprintf(stderr, "siemrelay replay: out of memory\n");
        goto done;
    }
    int status = sr_admin_call(&a, "POST", path.data, "replay", &body, err, sizeof err);
    if (status < 0) {
        fprintf(stderr, "siemrelay replay: cannot reach the gateway's admin API at %s: %s\n", addr,
                err);
        goto done;
    }
    if (status != 200 || !body.data ||
        (pipeline ? print_pipeline(&body) : print_integration(&body, name, filter[4] != NULL)) !=
            0) {
        fprintf(stderr, "siemrelay replay: the admin API at %s answered HTTP %d: %.*s\n", addr,
                status, (int)(body.len > 300 ? 300 : body.len), body.data ? body.data : "");
        goto done;
    }
    sr_json_member m;
    sr_buf why = SR_BUF_INIT;
    if (sr_json_object_get(body.data, body.len, "error", 5, &m) && m.type == SR_JSON_STRING &&
        sr_json_unescape(body.data + m.val_off, m.val_len, 1, &why) == 0)
        printf("first event with no record: %.*s\n", (int)why.len, why.data ? why.data : "");
    sr_buf_free(&why);
    rc = 0;
done:
    sr_buf_free(&path);
    sr_buf_free(&body);
    return fflush(stdout) == 0 ? rc : 1;
}
