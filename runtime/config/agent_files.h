/* agent_files.h - the Sysdig agent's file layout, followed as the agent
 * follows it.
 *
 * The agent reads its forwarding settings from dragent.yaml
 * (`local_forwarder: {enabled, transmit_message_types}`) and its
 * integrations from local_forwarder_config.yaml in the same directory. So:
 *   - a -c file that is a dragent.yaml (a top-level `local_forwarder` or
 *     `localForwarder`, and no `integrations` at the top or inside
 *     `localForwarder`) brings the local_forwarder_config.yaml beside it,
 *     read right after it (logged; a missing sibling is a warning);
 *   - a -c that names a directory reads its dragent.yaml and
 *     local_forwarder_config.yaml, in that order (at least one must exist).
 * A file named twice is read once. */
#ifndef SR_AGENT_FILES_H
#define SR_AGENT_FILES_H

#include <stddef.h>

typedef struct sr_agent_files {
    char **paths; /* the files to read, in order */
    size_t n;
} sr_agent_files;

/* Expands `paths` into out (freed with sr_agent_files_free). Returns 0, or
 * -1 with `err` ("DIR: ...", or a YAML error of a file it had to look
 * into). */
int sr_agent_files_expand(const char *const *paths, size_t n, sr_agent_files *out, char *err,
                          size_t errlen);
void sr_agent_files_free(sr_agent_files *f);

#endif
