/* test_batch.c - body framing, per-event rejects and the sender's summary. */
#include <stdlib.h>
#include <string.h>

#include "ingest_batch.h"
#include "check.h"

static sr_ingest_batch *parse(const char *body, sr_body_format fmt, uint32_t first_line) {
    char *copy = strdup(body);
    sr_ingest_batch *b =
        sr_ingest_batch_new(copy, strlen(copy), fmt, first_line, "test", NULL, NULL);
    sr_ingest_batch_parse(b, NULL);
    return b;
}

static char *summary(sr_ingest_batch *b, int *status) {
    sr_buf out = SR_BUF_INIT;
    *status = sr_ingest_batch_summary(b, &out);
    return sr_buf_steal(&out, NULL);
}

static void test_single_object(void) {
    sr_ingest_batch *b = parse(
        "{\"type\":\"policy\",\"severity\":3,\"timestamp\":1606322948648718268}", SR_BODY_AUTO, 1);
    CHECK_INT(b->framing, SR_FRAME_SINGLE);
    CHECK_INT(b->nevents, 1);
    CHECK_INT(b->nrejects, 0);
    CHECK_INT(b->events[0].data_type, SR_DT_POLICY);
    int status;
    char *s = summary(b, &status);
    CHECK_INT(status, 200);
    CHECK_STR(
        s,
        "{\"accepted\":1,\"rejected\":0,\"dropped\":0,\"failed\":0,\"unrouted\":0,\"errors\":[]}");
    free(s);
    sr_ingest_batch_free(b);
}

static void test_array(void) {
    sr_ingest_batch *b =
        parse(" [ {\"type\":\"command\"}, {\"type\":\"nope\"}, {\"type\":\"audittrail\"} ] ",
              SR_BODY_AUTO, 1);
    CHECK_INT(b->framing, SR_FRAME_ARRAY);
    CHECK_INT(b->nevents, 2);
    CHECK_INT(b->nrejects, 1);
    CHECK_INT(b->rejects[0].index, 1);
    CHECK(strstr(b->rejects[0].msg, "nope") != NULL);
    int status;
    char *s = summary(b, &status);
    CHECK_INT(status, 200);
    CHECK(strstr(s, "\"accepted\":2,\"rejected\":1") != NULL);
    CHECK(strstr(s, "\"index\":1,") != NULL);
    free(s);
    sr_ingest_batch_free(b);
}

static void test_broken_array_is_one_reject(void) {
    sr_ingest_batch *b = parse("[{\"type\":\"command\"},\n{\"type\":\"command\"", SR_BODY_AUTO, 1);
    CHECK_INT(b->nevents, 0);
    CHECK_INT(b->nrejects, 1);
    CHECK_INT(b->rejects[0].line, 2);
    int status;
    char *s = summary(b, &status);
    CHECK_INT(status, 400);
    free(s);
    sr_ingest_batch_free(b);
}

static void test_ndjson_partial(void) {
    const char *body = "{\"type\":\"policy\"}\n"
                       "{\"type\":\"policy\",}\n"
                       "\n"
                       "{\"type\":\"connection\"}\r\n"
                       "not json\n";
    sr_ingest_batch *b = parse(body, SR_BODY_AUTO, 1);
    CHECK_INT(b->framing, SR_FRAME_NDJSON);
    CHECK_INT(b->nevents, 2);
    CHECK_INT(b->nrejects, 2);
    CHECK_INT(b->rejects[0].line, 2);
    CHECK_INT(b->rejects[1].line, 5);
    CHECK_INT(b->events[1].seq, 4);
    int status;
    char *s = summary(b, &status);
    CHECK_INT(status, 200);
    CHECK(strstr(s, "\"line\":2,") != NULL);
    CHECK(strstr(s, "\"line\":5,") != NULL);
    free(s);
    sr_ingest_batch_free(b);
}

static void test_tcp_chunk_line_numbers(void) {
    sr_ingest_batch *b = parse("{\"type\":\"policy\"}\n{bad\n", SR_BODY_NDJSON, 41);
    CHECK_INT(b->nevents, 1);
    CHECK_INT(b->events[0].seq, 41);
    CHECK_INT(b->nrejects, 1);
    CHECK_INT(b->rejects[0].line, 42);
    sr_ingest_batch_free(b);
}

static void test_pretty_printed_sample(void) {
    char *body = check_read_file(SR_TEST_DATA "/policy_event.json", NULL);
    CHECK(body != NULL);
    if (!body)
        return;
    sr_ingest_batch *b =
        sr_ingest_batch_new(body, strlen(body), SR_BODY_AUTO, 1, "test", NULL, NULL);
    sr_ingest_batch_parse(b, NULL);
    CHECK_INT(b->framing, SR_FRAME_SINGLE);
    CHECK_INT(b->nevents, 1);
    CHECK_INT(b->nrejects, 0);
    sr_ingest_batch_free(b);
}

/* The sample Sysdig published without a comma must be one precise 400, at
 * the line where the comma is missing, not a reject per line. */
static void test_invalid_published_sample(void) {
    char *body = check_read_file(SR_TEST_DATA "/audit_network.invalid-as-published.json", NULL);
    CHECK(body != NULL);
    if (!body)
        return;
    const char *after = strstr(body, "\"type\": \"connection\"");
    uint32_t want_line = 1;
    for (const char *q = body; q < after; q++)
        want_line += *q == '\n';
    sr_ingest_batch *b =
        sr_ingest_batch_new(body, strlen(body), SR_BODY_AUTO, 1, "test", NULL, NULL);
    sr_ingest_batch_parse(b, NULL);
    CHECK_INT(b->nevents, 0);
    CHECK_INT(b->nrejects, 1);
    /* The error is found at the token after the missing comma. */
    CHECK_INT(b->rejects[0].line, want_line + 1);
    int status;
    char *s = summary(b, &status);
    CHECK_INT(status, 400);
    free(s);
    sr_ingest_batch_free(b);
}

static void test_empty_body(void) {
    sr_ingest_batch *b = parse("  \n ", SR_BODY_AUTO, 1);
    CHECK_INT(b->nrejects, 1);
    CHECK_STR(b->rejects[0].msg, "empty body");
    sr_ingest_batch_free(b);
}

int main(void) {
    test_single_object();
    test_array();
    test_broken_array_is_one_reject();
    test_ndjson_partial();
    test_tcp_chunk_line_numbers();
    test_pretty_printed_sample();
    test_invalid_published_sample();
    test_empty_body();
    return CHECK_DONE();
}
