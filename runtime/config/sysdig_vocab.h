/* sysdig_vocab.h - the names Sysdig's agent chart accepts that siemrelay
 * does not handle, each with the reason and what to use instead.
 *
 * The chart's JSON schema (AgentLocalForwarderIntegrations) lists more
 * integration types and channels than the agent's documentation: types
 * such as LOCAL, S3 and KINESIS_*, channels such as SECURE_EVENTS_SCANNING.
 * A values file copied from a cluster may name them. Left to the generic
 * checks, they would be "unknown" with a misleading nearest match ("did
 * you mean 'SECURE_EVENTS_POLICIES'?"); the loader asks here first and
 * says precisely that siemrelay does not forward that data, and why.
 *
 * The answers are static strings. */
#ifndef SR_SYSDIG_VOCAB_H
#define SR_SYSDIG_VOCAB_H

/* Why siemrelay has no integration type `type` (case-insensitive) of the
 * chart's list, and what to use instead; NULL when it is not one of them. */
const char *sr_sysdig_type_unsupported(const char *type);

/* The same for a channel of the chart's list; NULL when not one of them. */
const char *sr_sysdig_channel_unsupported(const char *channel);

/* The chart-only types, NULL-terminated (for tests that keep the list and
 * the built-in modules apart). */
extern const char *const sr_sysdig_unsupported_types[];

#endif
