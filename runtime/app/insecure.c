/* insecure.c - finding and reporting integrations with isInsecure. */
#include "insecure.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "sink.h"

int sr_integration_insecure(sr_lua_host *h, size_t i) {
    sr_integration_info info;
    memset(&info, 0, sizeof info);
    if (sr_lua_host_info(h, i, &info) != 0 || !info.sink || !info.settings)
        return 0;
    const sr_sink_key *k = sr_sink_key_find(info.sink, "insecure");
    if (!k || k->type != SR_SINK_KEY_BOOL)
        return 0; /* a transport without TLS (file, udp) */
    return *(const int *)((const char *)info.settings + k->offset) != 0;
}

size_t sr_insecure_warn(sr_lua_host *h, const char *const *names, size_t n, FILE *stream) {
    static const char what[] = "isInsecure is set: the destination's TLS certificate and host "
                               "name are not verified, so anyone on the path can impersonate it";
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        if (!sr_integration_insecure(h, i))
            continue;
        count++;
        if (stream)
            fprintf(stream, "siemrelay: warning: integration '%s': %s\n", names[i], what);
        else
            sr_warn("config", "integration '%s': %s", names[i], what);
    }
    return count;
}

int sr_insecure_warn_kafka_input(const sr_kafka_input_conf *k, FILE *stream) {
    static const char what[] =
        "tls_verify is false: the brokers' TLS certificates and host names "
        "are not verified, so anyone on the path can feed the gateway events";
    if (!k->enabled || !k->tls || k->tls_verify)
        return 0;
    if (stream)
        fprintf(stream, "siemrelay: warning: inputs.kafka: %s\n", what);
    else
        sr_warn("config", "inputs.kafka: %s", what);
    return 1;
}
