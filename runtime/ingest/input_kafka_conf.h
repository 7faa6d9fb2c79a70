/* input_kafka_conf.h - `inputs.kafka` (input_kafka.h) as librdkafka consumer
 * configuration, and copying it. Used by input_kafka.c.
 *
 * The input's own keys win over raw `properties`: the properties are applied
 * first, then brokers, group, client id, TLS, SASL, and what at-least-once
 * depends on (no automatic commit or offset store), so no property can
 * weaken the guarantees. Errors name the property, never its value. */
#ifndef SR_INPUT_KAFKA_CONF_H
#define SR_INPUT_KAFKA_CONF_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

#include "input_kafka.h"

/* A deep copy of `src`; -1 when out of memory (free `dst` either way). */
int sr_kafka_input_conf_copy(sr_kafka_input_conf *dst, const sr_kafka_input_conf *src);

/* A new librdkafka configuration, or NULL with `err` (missing brokers or
 * topics, an unknown property or a bad value). */
rd_kafka_conf_t *sr_kafka_input_rdconf(const sr_kafka_input_conf *k, char *err, size_t errlen);

#endif
