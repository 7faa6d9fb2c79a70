/* sysdig_vocab.c - the chart's types and channels siemrelay does not
 * handle, with the reasons (sysdig_vocab.h). The lists are the chart's
 * JSON schema enums minus what siemrelay takes. */
#include "sysdig_vocab.h"

#include <stddef.h>
#include <strings.h>

typedef struct vocab {
    const char *name;
    const char *why;
} vocab;

static const char no_kinesis[] =
    "siemrelay has no Kinesis transport; forward to KAFKA or SQS and feed Kinesis from there";

static const vocab types[] = {
    {"LOCAL", "it is the chart's test type that prints events to the agent's own output; use "
              "FILE to write events to a local file"},
    {"S3", "siemrelay has no object-store transport; forward to SQS, KAFKA or FILE and load S3 "
           "from there"},
    {"KINESIS_DATA_STREAMS", no_kinesis},
    {"KINESIS_FIREHOSE", no_kinesis},
};

const char *const sr_sysdig_unsupported_types[] = {"LOCAL", "S3", "KINESIS_DATA_STREAMS",
                                                   "KINESIS_FIREHOSE", NULL};

static const char backend_results[] =
    "Sysdig's backend produces these results, not the agent's event stream siemrelay receives; "
    "forward them with Sysdig Secure's standard event forwarding";

static const vocab channels[] = {
    {"AUDIT_TAP", "the agent's audit tap goes to the Sysdig backend only and has no data in "
                  "siemrelay"},
    {"SECURE_EVENTS_SCANNING", backend_results},
    {"SECURE_EVENTS_HOSTSCANNING", backend_results},
    {"SECURE_EVENTS_BENCHMARK", backend_results},
    {"SECURE_EVENTS_COMPLIANCE", backend_results},
    {"SECURE_OBJECT_STORE_RUNTIME", backend_results},
    {"SECURE_OBJECT_STORE_REGISTRY", backend_results},
    {"SECURE_OBJECT_STORE_PIPELINE", backend_results},
};

static const char *find(const vocab *v, size_t n, const char *name) {
    for (size_t i = 0; name && i < n; i++)
        if (strcasecmp(v[i].name, name) == 0)
            return v[i].why;
    return NULL;
}

const char *sr_sysdig_type_unsupported(const char *type) {
    return find(types, sizeof types / sizeof *types, type);
}

const char *sr_sysdig_channel_unsupported(const char *channel) {
    return find(channels, sizeof channels / sizeof *channels, channel);
}
