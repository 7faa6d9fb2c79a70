/* agent_files.c - dragent.yaml's sibling and -c DIR, as the agent reads them. */
#include "agent_files.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "node.h"
#include "yaml_load.h"

#define AGENT_FILE     "dragent.yaml"
#define FORWARDER_FILE "local_forwarder_config.yaml"

static int is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Whether `a` is already in the list (by real path, so "./x" is "x"). */
static int listed(const sr_agent_files *f, const char *a) {
    char ra[PATH_MAX], rb[PATH_MAX];
    if (!realpath(a, ra))
        return 0;
    for (size_t i = 0; i < f->n; i++)
        if (realpath(f->paths[i], rb) && strcmp(ra, rb) == 0)
            return 1;
    return 0;
}

static int add(sr_agent_files *f, const char *p) {
    if (listed(f, p))
        return 0;
    char **v = realloc(f->paths, (f->n + 1) * sizeof *v);
    if (!v)
        return -1;
    f->paths = v;
    if (!(f->paths[f->n] = strdup(p)))
        return -1;
    f->n++;
    return 0;
}

/* A dragent.yaml: forwarding settings, and no integrations of its own. */
static int is_agent_file(const char *path, char *err, size_t errlen) {
    sr_node *doc = sr_yaml_load_file(path, err, errlen);
    if (!doc)
        return -1;
    const sr_node *lf = sr_node_get(doc, "local_forwarder");
    const sr_node *helm = sr_node_get(doc, "localForwarder");
    int agent = (lf || helm) && !sr_node_get(doc, "integrations") &&
                !(helm && sr_node_get(helm, "integrations"));
    sr_node_free(doc);
    return agent;
}

static void sibling(const char *path, char *out, size_t outlen) {
    const char *slash = strrchr(path, '/');
    if (slash)
        snprintf(out, outlen, "%.*s/%s", (int)(slash - path), path, FORWARDER_FILE);
    else
        snprintf(out, outlen, "%s", FORWARDER_FILE);
}

static int expand_dir(sr_agent_files *f, const char *dir, char *err, size_t errlen) {
    char agent[PATH_MAX], fwd[PATH_MAX];
    snprintf(agent, sizeof agent, "%s/%s", dir, AGENT_FILE);
    snprintf(fwd, sizeof fwd, "%s/%s", dir, FORWARDER_FILE);
    int has_agent = is_file(agent), has_fwd = is_file(fwd);
    if (!has_agent && !has_fwd) {
        snprintf(err, errlen, "%s: a directory without %s or %s (the agent's files)", dir,
                 AGENT_FILE, FORWARDER_FILE);
        return -1;
    }
    sr_info("config", "%s: reading the agent's files in it:%s%s%s%s", dir, has_agent ? " " : "",
            has_agent ? AGENT_FILE : "", has_fwd ? " " : "", has_fwd ? FORWARDER_FILE : "");
    if ((has_agent && add(f, agent) != 0) || (has_fwd && add(f, fwd) != 0)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

int sr_agent_files_expand(const char *const *paths, size_t n, sr_agent_files *out, char *err,
                          size_t errlen) {
    char side[PATH_MAX];
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < n; i++) {
        if (is_dir(paths[i])) {
            if (expand_dir(out, paths[i], err, errlen) != 0)
                goto fail;
            continue;
        }
        if (add(out, paths[i]) != 0)
            goto oom;
        if (!is_file(paths[i]))
            continue; /* the loader says what is wrong with it */
        int agent = is_agent_file(paths[i], err, errlen);
        if (agent < 0)
            goto fail;
        if (!agent)
            continue;
        sibling(paths[i], side, sizeof side);
        if (!is_file(side)) {
            sr_warn("config",
                    "%s has local_forwarder settings but no integrations, and there is no %s "
                    "beside it: the agent would forward nothing from these files",
                    paths[i], side);
            continue;
        }
        sr_info("config", "%s is the agent's dragent.yaml: reading %s beside it, as the agent does",
                paths[i], side);
        if (add(out, side) != 0)
            goto oom;
    }
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
fail:
    sr_agent_files_free(out);
    return -1;
}

void sr_agent_files_free(sr_agent_files *f) {
    for (size_t i = 0; i < f->n; i++)
        free(f->paths[i]);
    free(f->paths);
    memset(f, 0, sizeof *f);
}
