/* test_run.c - a body through the worker's calls, then each event's fate
 * explained from the records, failures and trace notes it left. */
#include "test_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"

struct sr_test_run {
    sr_gateway *gw;
    sr_lua_host_conf conf;             /* the gateway's, with tracing (and the suite's scripts) */
    sr_integration_spec *integrations; /* conf's, owned when a suite swaps their scripts */
    sr_lua_host *host;
    unsigned *channels; /* effective channel mask per integration */
};

/* Points the global list or one integration's at the suite's scripts. */
static int apply_swap(sr_test_run *r, const sr_test_scripts *sw, char *err, size_t errlen) {
    if (!sw->integration) {
        r->conf.scripts = sw->paths;
        r->conf.script_entries = sw->entries;
        r->conf.nscripts = sw->n;
        return 0;
    }
    for (size_t i = 0; i < r->conf.nintegrations; i++) {
        if (strcmp(r->integrations[i].name, sw->integration) != 0)
            continue;
        r->integrations[i].scripts = sw->paths;
        r->integrations[i].script_entries = sw->entries;
        r->integrations[i].nscripts = sw->n;
        return 0;
    }
    snprintf(err, errlen, "integration_scripts: the configuration has no integration '%s'",
             sw->integration);
    return -1;
}

sr_test_run *sr_test_run_new(const char *const *paths, size_t npaths, const sr_test_scripts *swap,
                             size_t nswap, char *err, size_t errlen) {
    sr_test_run *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->gw = sr_gateway_load(paths, npaths, err, errlen);
    if (!r->gw)
        goto fail;
    r->conf = *sr_gateway_host_conf(r->gw);
    r->conf.trace = 1;
    size_t ni = r->conf.nintegrations;
    r->integrations = calloc(ni ? ni : 1, sizeof *r->integrations);
    if (!r->integrations) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (ni)
        memcpy(r->integrations, r->conf.integrations, ni * sizeof *r->integrations);
    r->conf.integrations = r->integrations;
    for (size_t i = 0; i < nswap; i++)
        if (apply_swap(r, &swap[i], err, errlen) != 0)
            goto fail;
    r->host = sr_lua_host_new(&r->conf, err, errlen);
    if (!r->host)
        goto fail;
    r->channels = calloc(r->conf.nintegrations ? r->conf.nintegrations : 1, sizeof *r->channels);
    if (!r->channels) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < r->conf.nintegrations; i++) {
        sr_integration_info info;
        memset(&info, 0, sizeof info);
        sr_lua_host_info(r->host, i, &info);
        r->channels[i] = info.channels;
    }
    return r;

fail:
    sr_test_run_free(r);
    return NULL;
}

void sr_test_run_free(sr_test_run *r) {
    if (!r)
        return;
    sr_lua_host_free(r->host);
    sr_gateway_free(r->gw);
    free(r->integrations);
    free(r->channels);
    free(r);
}

size_t sr_test_run_count(const sr_test_run *r) { return r->conf.nintegrations; }

const sr_integration_spec *sr_test_run_integration(const sr_test_run *r, size_t i) {
    return &r->conf.integrations[i];
}

sr_lua_host *sr_test_run_host(sr_test_run *r) { return r->host; }

const char *sr_test_status_name(sr_test_status s) {
    static const char *const names[] = {"accepted", "dropped", "failed", "rejected"};
    return names[s];
}

const char *sr_test_target_name(sr_test_target_kind k) {
    static const char *const names[] = {"record",  "no_record", "unrouted",
                                        "dropped", "failed",    "not_reached"};
    return names[k];
}

/* ---- Reasons ------------------------------------------------------------ */

static const char *msg_type_name(unsigned bit) {
    switch (bit) {
    case SR_MT_POLICY_EVENTS: return "POLICY_EVENTS";
    case SR_MT_SECURE_AUDIT: return "SECURE_AUDIT";
    case SR_MT_MONITOR_EVENTS: return "MONITOR_EVENTS";
    default: return "none";
    }
}

static void channel_list(char *out, size_t len, unsigned mask) {
    size_t used = 0;
    out[0] = '\0';
    for (unsigned bit = 1; bit <= SR_CH_MONITOR_EVENTS; bit <<= 1)
        if (mask & bit)
            used += (size_t)snprintf(out + used, used < len ? len - used : 0, "%s%s",
                                     used ? ", " : "", sr_channel_name(bit));
}

static const char *severity_word(int sev) {
    const char *s = sr_severity_label(sev);
    return s ? s : "?";
}

/* Routing's verdict (event_loop.lua's unrouted()) in words. */
static void unrouted_reason(const sr_test_run *r, size_t integ, const sr_event *ev,
                            const char *test, char *out, size_t len) {
    const sr_integration_spec *s = &r->conf.integrations[integ];
    if (strcmp(test, "channel") == 0) {
        char list[160];
        channel_list(list, sizeof list, r->channels[integ]);
        snprintf(out, len, "channel %s is not among the integration's channels [%s]",
                 sr_channel_name(ev->channel), list);
    } else if (strcmp(test, "message_type") == 0) {
        snprintf(out, len, "message type %s is not in local_forwarder.transmit_message_types",
                 msg_type_name(ev->msg_type));
    } else if (strcmp(test, "severity") == 0) {
        snprintf(out, len, "severity %d (%s) is less severe than min_severity %d (%s)",
                 ev->severity, severity_word(ev->severity), s->min_severity,
                 severity_word(s->min_severity));
    } else if (strcmp(test, "script_route") == 0) {
        snprintf(out, len, "a global script routed the event to other integrations (ev:route)");
    } else if (strcmp(test, "script_unroute") == 0) {
        snprintf(out, len, "a global script excluded this integration (ev:unroute)");
    } else {
        snprintf(out, len, "%s", test);
    }
}

static void drop_reason(const sr_test_run *r, int32_t integ, const char *detail, char *out,
                        size_t len) {
    size_t k = (size_t)strtoul(detail, NULL, 10);
    const char *const *list = integ < 0 ? r->conf.scripts : r->conf.integrations[integ].scripts;
    size_t n = integ < 0 ? r->conf.nscripts : r->conf.integrations[integ].nscripts;
    snprintf(out, len, "dropped by %s script %s", integ < 0 ? "global" : "the integration's",
             k < n ? list[k] : detail);
}

/* A failure's message, followed by where it happened (the innermost site
 * script or module line) unless the message starts with it already. */
static void failure_reason(const sr_emit_fail *f, char *out, size_t len) {
    if (f->where[0] && strncmp(f->msg, f->where, strlen(f->where)) != 0)
        snprintf(out, len, "%s (at %s)", f->msg, f->where);
    else
        snprintf(out, len, "%s", f->msg);
}

/* ---- Explaining a body -------------------------------------------------- */

static void explain_event(const sr_test_run *r, const sr_ingest_batch *b, uint32_t i,
                          sr_test_event *te) {
    const sr_emit *em = &b->emit;
    size_t n = r->conf.nintegrations;
    const sr_event *ev = &b->events[i];
    te->ev = ev;
    te->status = SR_TEST_ACCEPTED;
    te->line = b->framing == SR_FRAME_NDJSON ? ev->seq : 0;
    te->index = b->framing == SR_FRAME_ARRAY ? (int32_t)ev->seq : -1;
    for (size_t k = 0; k < n; k++)
        te->targets[k].kind = SR_TARGET_NOT_REACHED;
    for (size_t f = 0; f < em->nfails; f++) {
        const sr_emit_fail *fl = &em->fails[f];
        if (fl->ev != i)
            continue;
        if (fl->integ < 0) {
            te->status = SR_TEST_FAILED;
            snprintf(te->stage, sizeof te->stage, "%s", fl->stage);
            failure_reason(fl, te->why, sizeof te->why);
        } else if ((size_t)fl->integ < n) {
            sr_test_target *t = &te->targets[fl->integ];
            t->kind = SR_TARGET_FAILED;
            snprintf(t->stage, sizeof t->stage, "%s", fl->stage);
            failure_reason(fl, t->why, sizeof t->why);
        }
    }
    for (size_t k = 0; k < em->nnotes; k++) {
        const sr_emit_note *nt = &em->notes[k];
        if (nt->ev != i)
            continue;
        if (strcmp(nt->kind, "unknown") == 0) {
            size_t used = strlen(te->warning);
            snprintf(te->warning + used, sizeof te->warning - used, "%s'%s'",
                     used ? ", " : "ev:route/ev:unroute names no integration: ", nt->detail);
        } else if (strcmp(nt->kind, "drop") == 0 && nt->integ < 0) {
            te->status = SR_TEST_DROPPED;
            drop_reason(r, -1, nt->detail, te->why, sizeof te->why);
        } else if (nt->integ >= 0 && (size_t)nt->integ < n) {
            sr_test_target *t = &te->targets[nt->integ];
            int drop = strcmp(nt->kind, "drop") == 0;
            t->kind = drop ? SR_TARGET_DROPPED : SR_TARGET_UNROUTED;
            if (drop)
                drop_reason(r, nt->integ, nt->detail, t->why, sizeof t->why);
            else
                unrouted_reason(r, (size_t)nt->integ, ev, nt->detail, t->why, sizeof t->why);
        }
    }
    for (size_t k = 0; k < em->nrecs; k++) {
        const sr_emit_rec *rec = &em->recs[k];
        if (rec->ev != i || rec->integ >= n)
            continue;
        sr_test_target *t = &te->targets[rec->integ];
        t->kind = SR_TARGET_RECORD;
        t->rec = em->data.data + rec->off;
        t->rec_len = rec->len;
    }
    const char *stopped = te->status == SR_TEST_DROPPED  ? "the event was dropped"
                          : te->status == SR_TEST_FAILED ? "the event failed in a global script"
                          : !r->conf.forwarder_enabled   ? "local_forwarder.enabled is off"
                                                         : NULL;
    for (size_t k = 0; k < n; k++) {
        sr_test_target *t = &te->targets[k];
        if (t->kind != SR_TARGET_NOT_REACHED)
            continue;
        if (stopped) {
            snprintf(t->why, sizeof t->why, "%s", stopped);
        } else {
            /* routed, not dropped, not failed, and no record: encode said nil */
            t->kind = SR_TARGET_NO_RECORD;
            snprintf(t->why, sizeof t->why, "encode returned nil: the type skips this event");
        }
    }
}

static void explain_reject(const sr_reject *rj, sr_test_event *te) {
    te->status = SR_TEST_REJECTED;
    te->line = rj->line;
    te->index = rj->index;
    snprintf(te->stage, sizeof te->stage, "parse");
    snprintf(te->why, sizeof te->why, "offset %zu: %s", rj->offset, rj->msg);
    /* targets stay NOT_REACHED with an empty reason */
}

sr_test_body *sr_test_run_body(sr_test_run *r, const char *data, size_t len, char *err,
                               size_t errlen) {
    static const sr_event_limits limits = {.max_depth = SR_JSON_DEFAULT_MAX_DEPTH,
                                           .max_fields = 1024};
    size_t n = r->conf.nintegrations;
    sr_test_body *tb = calloc(1, sizeof *tb);
    char *copy = malloc(len + 1);
    if (!tb || !copy) {
        free(copy);
        goto oom;
    }
    memcpy(copy, data, len);
    tb->batch = sr_ingest_batch_new(copy, len, SR_BODY_AUTO, 1, "siemrelay test", NULL, NULL);
    if (!tb->batch) {
        free(copy);
        goto oom;
    }
    sr_ingest_batch *b = tb->batch;
    sr_ingest_batch_parse(b, &limits);
    if (sr_lua_host_process(r->host, b->events, b->nevents, &b->emit) != 0) {
        snprintf(err, errlen, "the Lua state could not be rebuilt");
        goto fail;
    }
    size_t total = b->nevents + b->nrejects;
    tb->events = calloc(total ? total : 1, sizeof *tb->events);
    if (!tb->events)
        goto oom;
    for (size_t i = 0; i < total; i++) {
        tb->events[i].targets = calloc(n ? n : 1, sizeof *tb->events[i].targets);
        if (!tb->events[i].targets)
            goto oom;
        tb->nevents++;
        if (i < b->nevents)
            explain_event(r, b, (uint32_t)i, &tb->events[i]);
        else
            explain_reject(&b->rejects[i - b->nevents], &tb->events[i]);
    }
    return tb;

oom:
    snprintf(err, errlen, "out of memory");
fail:
    sr_test_body_free(tb);
    return NULL;
}

void sr_test_body_free(sr_test_body *b) {
    if (!b)
        return;
    for (size_t i = 0; i < b->nevents; i++)
        free(b->events[i].targets);
    free(b->events);
    sr_ingest_batch_free(b->batch);
    free(b);
}
