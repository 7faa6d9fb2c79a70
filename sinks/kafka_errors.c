/* kafka_errors.c - what a failed Kafka message means for the delivery engine.
 *
 * librdkafka already retries what is transient (leader changes, broker
 * restarts, request timeouts) inside the producer, for up to
 * message.timeout.ms, and the idempotent producer keeps those retries free of
 * duplicates. An error that reaches a delivery report is therefore either
 * about this record (it can never be written: reject, dead letter) or about
 * the destination (retry: the engine's attempts, backoff and Error status
 * make the outage visible while the events stay queued).
 *
 * Authorization and authentication failures are deliberately retried, not
 * rejected, although no quick retry will fix them: they concern every event
 * alike and are fixed by an operator (an ACL, a credential), after which the
 * queued events must still go. Rejecting would move the whole stream to the
 * dead-letter files instead. The same holds for an unknown or invalid topic. */
#include <stdio.h>

#include "kafka.h"

sr_sink_item sr_kafka_classify(rd_kafka_resp_err_t err) {
    switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR: return SR_SINK_ITEM_OK;
    /* The record itself: larger than the broker (or message.max.bytes)
     * accepts, or refused as malformed. Sending it again cannot help. */
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_INVALID_TIMESTAMP:
    case RD_KAFKA_RESP_ERR__BAD_MSG:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__KEY_SERIALIZATION:
    case RD_KAFKA_RESP_ERR__VALUE_SERIALIZATION: return SR_SINK_ITEM_REJECT;
    /* Everything else, known or not, is retried: an unknown code must never
     * lose events. */
    default: return SR_SINK_ITEM_RETRY;
    }
}

void sr_kafka_describe(rd_kafka_resp_err_t err, char *buf, size_t len) {
    snprintf(buf, len, "%s: %s", rd_kafka_err2name(err), rd_kafka_err2str(err));
}
