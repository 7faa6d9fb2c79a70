/* kafka_mock_cluster.h - librdkafka's mock cluster in process, for the unit
 * tests of the Kafka sink and the Kafka input. Header-only: each test is
 * one executable. */
#ifndef SR_TEST_KAFKA_MOCK_CLUSTER_H
#define SR_TEST_KAFKA_MOCK_CLUSTER_H

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h> /* after rdkafka.h */

typedef struct mock {
    rd_kafka_t *rk;
    rd_kafka_mock_cluster_t *mc;
    const char *bootstrap;
} mock;

/* `brokers` brokers and `topic` with `partitions` partitions, replicated
 * on up to three of them. */
static inline int mock_start(mock *m, int brokers, const char *topic, int partitions) {
    char errstr[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "log_level", "3", errstr, sizeof errstr);
    m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, errstr, sizeof errstr);
    if (!m->rk)
        return -1;
    m->mc = rd_kafka_mock_cluster_new(m->rk, brokers);
    if (!m->mc)
        return -1;
    m->bootstrap = rd_kafka_mock_cluster_bootstraps(m->mc);
    return rd_kafka_mock_topic_create(m->mc, topic, partitions, brokers < 3 ? brokers : 3) ? -1
                                                                                          : 0;
}

static inline void mock_stop(mock *m) {
    if (m->mc)
        rd_kafka_mock_cluster_destroy(m->mc);
    if (m->rk)
        rd_kafka_destroy(m->rk);
}

#endif
