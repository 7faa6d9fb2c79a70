/* insecure.h - integrations that skip TLS verification (`isInsecure: true`).
 *
 * Outbound TLS verifies the destination's certificate chain and host name
 * unless an integration sets isInsecure; such an integration can be
 * impersonated by anyone on the path, so it is never silent: it is logged
 * as a warning naming it at start and at every reload, flagged in --check
 * and shown in the admin API's integration objects ("insecure": true).
 *
 * What counts is what the transport was given: the `insecure` key of the
 * settings the module's setup produced (sink.h), whichever option name
 * the module read it from.
 *
 * The Kafka input's `tls_verify: false` is the same hole on the way in (a
 * broker impersonated feeds the gateway its events) and is reported the
 * same way. */
#ifndef SR_INSECURE_H
#define SR_INSECURE_H

#include <stddef.h>
#include <stdio.h>

#include "input_kafka.h"
#include "lua_host.h"

/* 1 when integration `i` of host `h` skips TLS verification. */
int sr_integration_insecure(sr_lua_host *h, size_t i);

/* Logs a warning for each such integration among the first `n` of `h`,
 * `names` their names; returns how many there are. `stream` non-NULL:
 * writes "siemrelay: warning: ..." lines there instead (--check). */
size_t sr_insecure_warn(sr_lua_host *h, const char *const *names, size_t n, FILE *stream);

/* Warns (as sr_insecure_warn) when the Kafka input `k` uses TLS without
 * verifying the brokers; returns 1 then, else 0. */
int sr_insecure_warn_kafka_input(const sr_kafka_input_conf *k, FILE *stream);

#endif
