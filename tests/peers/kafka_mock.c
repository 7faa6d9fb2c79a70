/* kafka_mock.c - librdkafka's mock Kafka cluster as a test peer.
 *
 *   kafka_mock [-b BROKERS] [-t TOPIC:PARTITIONS]...
 *
 * Starts a mock cluster of BROKERS brokers (default 1) listening on loopback
 * TCP, creates the given topics (replication factor: all brokers, at most 3),
 * prints "bootstrap HOST:PORT,..." on stdout, then reads commands on stdin,
 * one per line, each answered with "ok" or "error <why>":
 *
 *   topic NAME PARTITIONS          create a topic
 *   errors API ERR [ERR...]        the next requests of type API fail, in order
 *   broker_errors ID API ERR RTT   broker ID answers its next API request with
 *                                  ERR after RTT ms (ERR may be NO_ERROR: a
 *                                  slow answer to a request that succeeded)
 *   clear API                      drop pending injected errors for API
 *   topic_error NAME ERR           metadata reports ERR for the topic
 *   down ID | up ID                take broker ID down (connections refused
 *                                  and closed) or bring it back
 *   leader TOPIC PARTITION ID      move a partition's leadership
 *   quit                           exit
 *
 * API is a request type name (produce, fetch, metadata, initproducerid,
 * listoffsets, apiversion) or number; ERR a Kafka error name as librdkafka
 * spells it without the prefix (NOT_LEADER_FOR_PARTITION, _TRANSPORT, ...)
 * or number. The peer exits at EOF on stdin, "quit", SIGTERM or SIGINT,
 * destroying the cluster cleanly. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig) {
    (void)sig;
    stop = 1;
}

static const struct {
    const char *name;
    int key;
} apis[] = {
    {"produce", 0},     {"fetch", 1},        {"listoffsets", 2},     {"metadata", 3},
    {"apiversion", 18}, {"apiversions", 18}, {"initproducerid", 22},
};

static int parse_api(const char *s, int16_t *out) {
    for (size_t i = 0; i < sizeof apis / sizeof apis[0]; i++)
        if (strcasecmp(s, apis[i].name) == 0) {
            *out = (int16_t)apis[i].key;
            return 0;
        }
    char *end;
    long v = strtol(s, &end, 10);
    if (*s && !*end && v >= 0 && v < 100) {
        *out = (int16_t)v;
        return 0;
    }
    return -1;
}

static int parse_err(const char *s, rd_kafka_resp_err_t *out) {
    const struct rd_kafka_err_desc *descs;
    size_t n;
    rd_kafka_get_err_descs(&descs, &n);
    for (size_t i = 0; i < n; i++)
        if (descs[i].name && strcasecmp(s, descs[i].name) == 0) {
            *out = descs[i].code;
            return 0;
        }
    char *end;
    long v = strtol(s, &end, 10);
    if (*s && !*end) {
        *out = (rd_kafka_resp_err_t)v;
        return 0;
    }
    return -1;
}

static int parse_int(const char *s, int *out) {
    char *end;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || *end || v < -1 || v > 1000000)
        return -1;
    *out = (int)v;
    return 0;
}

#define MAX_ARGS 64

/* Runs one command; writes the answer into `why` on failure. */
static int run(rd_kafka_mock_cluster_t *mc, int nbrokers, char **argv, int argc, char *why,
               size_t whylen) {
    const char *cmd = argv[0];
    int a, b, c;
    int16_t api;
    rd_kafka_resp_err_t err;
    if (strcmp(cmd, "topic") == 0 && argc == 3 && parse_int(argv[2], &a) == 0 && a > 0) {
        err = rd_kafka_mock_topic_create(mc, argv[1], a, nbrokers < 3 ? nbrokers : 3);
    } else if (strcmp(cmd, "errors") == 0 && argc >= 3 && parse_api(argv[1], &api) == 0) {
        rd_kafka_resp_err_t errs[MAX_ARGS];
        for (int i = 2; i < argc; i++)
            if (parse_err(argv[i], &errs[i - 2]) != 0) {
                snprintf(why, whylen, "unknown error '%s'", argv[i]);
                return -1;
            }
        rd_kafka_mock_push_request_errors_array(mc, api, (size_t)(argc - 2), errs);
        err = RD_KAFKA_RESP_ERR_NO_ERROR;
    } else if (strcmp(cmd, "broker_errors") == 0 && argc == 5 && parse_int(argv[1], &a) == 0 &&
               parse_api(argv[2], &api) == 0 && parse_err(argv[3], &err) == 0 &&
               parse_int(argv[4], &b) == 0) {
        err = rd_kafka_mock_broker_push_request_error_rtts(mc, a, api, 1, err, b);
    } else if (strcmp(cmd, "clear") == 0 && argc == 2 && parse_api(argv[1], &api) == 0) {
        rd_kafka_mock_clear_request_errors(mc, api);
        err = RD_KAFKA_RESP_ERR_NO_ERROR;
    } else if (strcmp(cmd, "topic_error") == 0 && argc == 3 && parse_err(argv[2], &err) == 0) {
        rd_kafka_mock_topic_set_error(mc, argv[1], err);
        err = RD_KAFKA_RESP_ERR_NO_ERROR;
    } else if (strcmp(cmd, "down") == 0 && argc == 2 && parse_int(argv[1], &a) == 0) {
        err = rd_kafka_mock_broker_set_down(mc, a);
    } else if (strcmp(cmd, "up") == 0 && argc == 2 && parse_int(argv[1], &a) == 0) {
        err = rd_kafka_mock_broker_set_up(mc, a);
    } else if (strcmp(cmd, "leader") == 0 && argc == 4 && parse_int(argv[2], &b) == 0 &&
               parse_int(argv[3], &c) == 0) {
        err = rd_kafka_mock_partition_set_leader(mc, argv[1], b, c);
    } else {
        snprintf(why, whylen, "bad command or arguments");
        return -1;
    }
    if (err) {
        snprintf(why, whylen, "%s", rd_kafka_err2str(err));
        return -1;
    }
    return 0;
}

static int add_topic(rd_kafka_mock_cluster_t *mc, int nbrokers, const char *spec) {
    char name[256];
    int parts = 1;
    const char *colon = strrchr(spec, ':');
    size_t len = colon ? (size_t)(colon - spec) : strlen(spec);
    if (len == 0 || len >= sizeof name || (colon && parse_int(colon + 1, &parts) != 0) || parts < 1)
        return -1;
    memcpy(name, spec, len);
    name[len] = '\0';
    return rd_kafka_mock_topic_create(mc, name, parts, nbrokers < 3 ? nbrokers : 3) ? -1 : 0;
}

int main(int argc, char **argv) {
    int nbrokers = 1;
    const char *topics[MAX_ARGS];
    int ntopics = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-b") == 0 && i + 1 < argc && parse_int(argv[i + 1], &nbrokers) == 0 &&
            nbrokers > 0) {
            i++;
        } else if (strcmp(argv[i], "-t") == 0 && i + 1 < argc && ntopics < MAX_ARGS) {
            topics[ntopics++] = argv[++i];
        } else {
            fprintf(stderr, "usage: kafka_mock [-b BROKERS] [-t TOPIC:PARTITIONS]...\n");
            return 2;
        }
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: a blocked read returns */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* The handle only hosts the cluster; keep it quiet. */
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "kafka_mock: %s\n", errstr);
        return 1;
    }
    int rc = 1;
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, nbrokers);
    if (!mc) {
        fprintf(stderr, "kafka_mock: cannot create the mock cluster\n");
        goto done;
    }
    for (int i = 0; i < ntopics; i++)
        if (add_topic(mc, nbrokers, topics[i]) != 0) {
            fprintf(stderr, "kafka_mock: bad topic '%s'\n", topics[i]);
            goto done;
        }
    printf("bootstrap %s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);

    char line[4096];
    while (!stop && fgets(line, sizeof line, stdin)) {
        char *args[MAX_ARGS], *save = NULL;
        int n = 0;
        for (char *t = strtok_r(line, " \t\r\n", &save); t && n < MAX_ARGS;
             t = strtok_r(NULL, " \t\r\n", &save))
            args[n++] = t;
        if (n == 0)
            continue;
        if (strcmp(args[0], "quit") == 0)
            break;
        char why[512];
        if (run(mc, nbrokers, args, n, why, sizeof why) == 0)
            printf("ok\n");
        else
            printf("error %s\n", why);
        fflush(stdout);
    }
    rc = 0;
done:
    if (mc)
        rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return rc;
}
