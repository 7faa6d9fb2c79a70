/* w1.c - the W1 workload generator (see w1.h).
 *
 * Values come from small tables indexed by a per-event random stream, so
 * events look like real agent output (rules, hosts, pods, processes, IPs
 * vary) while any single event can be rebuilt from (seed, index) alone.
 * A few values carry JSON escapes and raw UTF-8 on purpose: the receiver's
 * byte-for-byte check then also covers them. */
#include "w1.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    char *p;
    size_t n;
} wbuf;

/* A generator bug, not an input problem: fail loudly. */
static void overflow(void) {
    fputs("w1: event exceeds W1_MAX_EVENT\n", stderr);
    abort();
}

static void put(wbuf *b, const char *s) {
    size_t l = strlen(s);
    if (b->n + l >= W1_MAX_EVENT)
        overflow();
    memcpy(b->p + b->n, s, l);
    b->n += l;
}

static void putf(wbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int l = vsnprintf(b->p + b->n, W1_MAX_EVENT - b->n, fmt, ap);
    va_end(ap);
    if (l < 0 || b->n + (size_t)l >= W1_MAX_EVENT)
        overflow();
    b->n += (size_t)l;
}

/* splitmix64: cheap, and good enough that neighbouring indexes differ. */
typedef struct {
    uint64_t s;
} rng;

static uint64_t next(rng *r) {
    uint64_t v = w1_mix(r->s);
    r->s += 0x9e3779b97f4a7c15ull;
    return v;
}

static unsigned pick(rng *r, unsigned n) { return (unsigned)(next(r) % n); }

#define COUNT(a)   (sizeof(a) / sizeof((a)[0]))
#define PICK(r, a) ((a)[pick((r), COUNT(a))])

/* ---- tables ------------------------------------------------------------- */

typedef struct {
    const char *policy, *rule, *description, *tags, *output;
} rule_def;

static const rule_def rules[] = {
    {"Notable Filesystem Changes", "Write below etc",
     "Identified notable filesystem activity that might change sensitive/important files. This "
     "differs from Suspicious Filesystem Changes in that it looks more broadly at filesystem "
     "activity, and might have more false positives as a result.",
     "\"NIST_800-190\",\"NIST_800-53\",\"ISO\",\"NIST_800-53_CA-9\",\"NIST_800-53_SC-4\",\"NIST\","
     "\"ISO_27001\",\"MITRE_T1552_unsecured_credentials\",\"MITRE_T1552.001_credentials_in_files\"",
     "File below /etc opened for writing"},
    {"Terminal shell in container", "Terminal shell in container",
     "A shell was used as the entrypoint/exec point into a container with an attached terminal. "
     "Interactive shells in production containers are rare and usually mean someone is "
     "debugging, or an intruder is exploring the workload.",
     "\"container\",\"shell\",\"mitre_execution\",\"MITRE_T1059_command_and_scripting_"
     "interpreter\","
     "\"NIST_800-53_AU-12\",\"PCI_DSS_10.2.2\"",
     "A shell was spawned in a container with an attached terminal"},
    {"Suspicious Network Activity", "Unexpected outbound connection destination",
     "Detect any outbound connection to a destination outside of an allowed set of IPs, networks, "
     "or domain names. Workloads that phone home to unknown hosts are a classic sign of a "
     "compromised image or a cryptominer.",
     "\"network\",\"mitre_command_and_control\",\"MITRE_T1071_application_layer_protocol\","
     "\"NIST_800-53_SC-7\"",
     "Disallowed outbound connection destination"},
    {"Access Sensitive Files", "Read sensitive file untrusted",
     "An attempt to read any sensitive file (e.g. files containing user/password/authentication "
     "information). Exceptions are made for known trusted programs such as login daemons and "
     "package managers.",
     "\"filesystem\",\"mitre_credential_access\",\"MITRE_T1555_credentials_from_password_stores\","
     "\"NIST_800-53_AC-6\",\"ISO_27001_A.9.4.1\"",
     "Sensitive file opened for reading by non-trusted program"},
    {"Privileged Containers", "Launch Privileged Container",
     "Detect the initial process started in a privileged container. Exceptions are made for known "
     "trusted images such as CNI plugins and storage drivers that legitimately need it.",
     "\"container\",\"cis\",\"mitre_privilege_escalation\",\"MITRE_T1610_deploy_container\"",
     "Privileged container started"},
    {"Kubernetes API From Container", "Contact K8S API Server From Container",
     "Detect attempts to contact the Kubernetes API Server from a container that is not expected "
     "to do so, which can indicate reconnaissance of the cluster.",
     "\"network\",\"k8s\",\"container\",\"mitre_discovery\",\"MITRE_T1565_data_manipulation\"",
     "Unexpected connection to K8s API Server from container"},
    {"Log Tampering", "Clear Log Activities",
     "Detect clearing of critical access log files, typically done to erase evidence that could "
     "be attributed to an adversary's actions.",
     "\"file\",\"mitre_defense_evasion\",\"MITRE_T1070_indicator_removal_on_host\",\"NIST_800-53_"
     "AU-9\"",
     "Log files were tampered"},
    {"Binary Directory Changes", "Modify binary dirs",
     "An attempt to modify any file below a set of binary directories. Package managers are "
     "excluded; anything else rewriting /usr/bin at runtime deserves a look.",
     "\"filesystem\",\"mitre_persistence\",\"MITRE_T1543_create_or_modify_system_process\"",
     "File below known binary directory renamed/removed"},
    {"Network Tools", "Launch Suspicious Network Tool in Container",
     "Detect network tools launched inside a container. Scanners and listeners have no business "
     "in an application image.",
     "\"network\",\"process\",\"mitre_discovery\",\"mitre_exfiltration\",\"MITRE_T1046_network_"
     "service_"
     "discovery\"",
     "Network tool launched in container"},
    {"Packet Sockets", "Packet socket created in container",
     "Detect new packet socket at the device driver (OSI Layer 2) level in a container. A packet "
     "socket can be used for ARP spoofing and privilege escalation (CVE-2020-14386).",
     "\"network\",\"mitre_discovery\",\"MITRE_T1040_network_sniffing\"",
     "Packet socket was created in a container"},
};

typedef struct {
    const char *name, *cmdline, *parent, *exe;
} proc_def;

/* JSON string contents: escapes (\" and \u) and raw UTF-8 appear on purpose. */
static const proc_def procs[] = {
    {"touch", "touch /etc/ard", "bash", "/usr/bin/touch"},
    {"curl", "curl -s https://get.example.com/install.sh", "sh", "/usr/bin/curl"},
    {"nc", "nc -lvp 4444", "bash", "/usr/bin/nc"},
    {"python3", "python3 -c \\\"import pty; pty.spawn('/bin/bash')\\\"", "bash",
     "/usr/bin/python3"},
    {"bash",
     "bash -c echo h\xc3\xa9llo w\xc3\xb6rld > /tmp/gr\xc3\xbc\xc3\x9f"
     "e",
     "containerd-shim", "/usr/bin/bash"},
    {"cat", "cat /etc/shadow", "sh", "/bin/cat"},
    {"kubectl", "kubectl get secrets -A", "bash", "/usr/local/bin/kubectl"},
    {"calico-node", "calico-node -felix-ready -bird-ready", "runsv", "/usr/bin/calico-node"},
    {"dpkg", "dpkg --configure -a", "apt-get", "/usr/bin/dpkg"},
    {"sh", "sh -c cp /tmp/snow\\u2603.bin /usr/local/bin/", "java", "/bin/sh"},
    {"nginx", "nginx -g daemon off;", "containerd-shim", "/usr/sbin/nginx"},
    {"tcpdump", "tcpdump -i eth0 -w /tmp/cap.pcap", "bash", "/usr/sbin/tcpdump"},
};

static const char *const files[] = {
    "/etc/ard",
    "/etc/shadow",
    "/etc/passwd",
    "/usr/bin/ls",
    "/var/log/auth.log",
    "/root/.ssh/authorized_keys",
    "/etc/pam.d/common-auth",
    "/tmp/snow\\u2603.bin",
    "/var/lib/dpkg/updates/tmp.i",
    "/etc/kubernetes/admin.conf",
};

static const char *const users[] = {"root", "www-data", "ubuntu", "postgres", "nobody", "app"};

static const char *const clusters[] = {
    "prod-eu-west-1", "prod-us-east-1", "staging-eu",  "k8s-onprem",
    "demo-env-prom",  "payments-prod",  "dev-sandbox", "ci-runners",
};

static const char *const namespaces[] = {"default",    "kube-system", "payments", "frontend",
                                         "monitoring", "nginx",       "ci"};

typedef struct {
    const char *deployment, *repo, *tag;
} app_def;

static const app_def apps[] = {
    {"nginx-deployment", "docker.io/library/nginx", "1.21.6"},
    {"api-gateway", "ghcr.io/acme/api-gateway", "v3.14.2"},
    {"billing-worker", "ghcr.io/acme/billing-worker", "2024.05.1"},
    {"prometheus", "quay.io/prometheus/prometheus", "v2.45.0"},
    {"coredns", "registry.k8s.io/coredns/coredns", "v1.10.1"},
    {"redis-cache", "docker.io/library/redis", "7.2.4-alpine"},
    {"ingest", "docker.io/library/ubuntu", "22.04"},
};

static const char *const regions[] = {"us-east-1", "eu-west-1", "eu-central-1", "ap-south-1"};

static const char *const domains[] = {"api.openai.com", "github.com", "pool.minexmr.com",
                                      "registry-1.docker.io", "s3.amazonaws.com"};

/* ---- pieces ------------------------------------------------------------- */

typedef struct {
    char host[64], mac[18], container_id[13], pod[64], node[80], image_id[13];
    char digest[65];
    const app_def *app;
    const char *ns, *cluster, *region;
    const proc_def *proc;
    const char *user;
    uint64_t account;
    uint32_t instance;
} ctx;

static void hex(rng *r, char *out, size_t n) {
    static const char digits[] = "0123456789abcdef";
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if ((i & 15) == 0)
            v = next(r);
        out[i] = digits[v & 15];
        v >>= 4;
    }
    out[n] = 0;
}

static void make_ctx(rng *r, ctx *c) {
    unsigned a = pick(r, 64), b = pick(r, 256), d = 1 + pick(r, 254);
    snprintf(c->host, sizeof c->host, "ip-10-%u-%u-%u", a, b, d);
    snprintf(c->node, sizeof c->node, "%s.ec2.internal", c->host);
    uint64_t m = next(r);
    snprintf(c->mac, sizeof c->mac, "12:%02x:%02x:%02x:%02x:%02x", (unsigned)(m & 255),
             (unsigned)(m >> 8 & 255), (unsigned)(m >> 16 & 255), (unsigned)(m >> 24 & 255),
             (unsigned)(m >> 32 & 255));
    hex(r, c->container_id, 12);
    hex(r, c->image_id, 12);
    hex(r, c->digest, 64);
    c->app = &PICK(r, apps);
    c->ns = PICK(r, namespaces);
    char rs[11], suffix[6];
    hex(r, rs, 10);
    hex(r, suffix, 5);
    snprintf(c->pod, sizeof c->pod, "%s-%s-%s", c->app->deployment, rs, suffix);
    /* Most events run in a known cluster; 15% lack the label, which the
     * transform turns into "unknown". */
    c->cluster = pick(r, 100) < 85 ? PICK(r, clusters) : NULL;
    c->region = PICK(r, regions);
    c->proc = &PICK(r, procs);
    c->user = PICK(r, users);
    c->account = 100000000000ull + next(r) % 900000000000ull;
    c->instance = (uint32_t)next(r);
}

static void put_ts(wbuf *b, uint64_t ts) {
    time_t secs = (time_t)(ts / 1000000000ull);
    struct tm tm;
    gmtime_r(&secs, &tm);
    putf(b, "\"timestamp\":%llu,\"timestampRFC3339Nano\":\"%04d-%02d-%02dT%02d:%02d:%02d.%09uZ\"",
         (unsigned long long)ts, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
         tm.tm_min, tm.tm_sec, (unsigned)(ts % 1000000000ull));
}

static void put_labels(wbuf *b, const ctx *c, int with_process) {
    putf(b,
         ",\"labels\":{\"aws.accountId\":\"%llu\",\"aws.instanceId\":\"i-0%08x%08x\","
         "\"aws.region\":\"%s\",\"container.image.digest\":\"sha256:%s\","
         "\"container.image.id\":\"%s\",\"container.image.repo\":\"%s\","
         "\"container.image.tag\":\"%s\",\"container.name\":\"%s\",\"host.hostName\":\"%s\","
         "\"host.mac\":\"%s\"",
         (unsigned long long)c->account, c->instance, c->instance ^ 0x5bd1e995u, c->region,
         c->digest, c->image_id, c->app->repo, c->app->tag, c->app->deployment, c->host, c->mac);
    if (c->cluster)
        putf(b, ",\"kubernetes.cluster.name\":\"%s\"", c->cluster);
    putf(b,
         ",\"kubernetes.deployment.name\":\"%s\",\"kubernetes.namespace.name\":\"%s\","
         "\"kubernetes.node.name\":\"%s\",\"kubernetes.pod.name\":\"%s\"",
         c->app->deployment, c->ns, c->node, c->pod);
    if (with_process)
        putf(b, ",\"process.name\":\"%s\"", c->proc->cmdline);
    put(b, "}}");
}

/* The dotted form of `ip`. */
static const char *ip_text(uint32_t ip, char out[16]) {
    snprintf(out, 16, "%u.%u.%u.%u", ip >> 24, ip >> 16 & 255, ip >> 8 & 255, ip & 255);
    return out;
}

/* A pod or client address inside the cluster network. */
static uint32_t pod_ip(rng *r) { return (10u << 24) | (uint32_t)(next(r) & 0xffffff); }

/* ---- event kinds -------------------------------------------------------- */

static void policy(wbuf *b, rng *r, const ctx *c, uint64_t ts, int severity) {
    const rule_def *rd = &PICK(r, rules);
    const char *file = PICK(r, files);
    int in_container = pick(r, 4) != 0;
    put(b, "\"type\":\"policy\",");
    put_ts(b, ts);
    putf(b,
         ",\"originator\":\"policy\",\"category\":\"runtime\",\"source\":\"syscall\","
         "\"rawEventOriginator\":\"linuxAgent\",\"rawEventCategory\":\"runtime\","
         "\"sourceDetails\":{\"sourceType\":\"workload\",\"sourceSubType\":\"%s\"},"
         "\"engine\":\"falco\",\"name\":\"%s\",\"description\":\"%s\",\"severity\":%d,"
         "\"agentId\":%u,\"containerId\":\"%s\",\"machineId\":\"%s\",\"actions\":",
         in_container ? "container" : "host", rd->policy, rd->description, severity,
         1000 + pick(r, 60000), in_container ? c->container_id : "", c->mac);
    /* Empty arrays must stay arrays: a third of the events carry one. */
    if (pick(r, 3) == 0)
        put(b, "[]");
    else
        putf(b,
             "[{\"type\":\"POLICY_ACTION_CAPTURE\",\"successful\":true,"
             "\"token\":\"%08x-%04x-%04x-%04x-%012llx\",\"afterEventNs\":5000000000,"
             "\"beforeEventNs\":5000000000}]",
             (unsigned)next(r), pick(r, 65536), pick(r, 65536), pick(r, 65536),
             (unsigned long long)(next(r) & 0xffffffffffffull));
    putf(b,
         ",\"content\":{\"policyId\":%u,\"baselineId\":\"\",\"ruleName\":\"%s\","
         "\"ruleType\":\"RULE_TYPE_FALCO\",\"ruleTags\":[%s],"
         "\"output\":\"%s (user=%s command=%s parent=%s file=%s container_id=%s image=%s)\","
         "\"fields\":{\"container.id\":\"%s\",\"container.image.repository\":\"%s\","
         "\"falco.rule\":\"%s\",\"fd.name\":\"%s\",\"group.gid\":\"8589935592\","
         "\"group.name\":\"sysdig\",\"proc.aname[2]\":\"su\",\"proc.aname[3]\":\"sudo\","
         "\"proc.cmdline\":\"%s\",\"proc.name\":\"%s\",\"proc.pname\":\"%s\","
         "\"user.name\":\"%s\"},\"falsePositive\":false,\"matchedOnDefault\":%s,"
         "\"policyVersion\":%u,\"policyOrigin\":\"Sysdig\"}",
         100 + pick(r, 900), rd->rule, rd->tags, rd->output, c->user, c->proc->cmdline,
         c->proc->parent, file, in_container ? c->container_id : "host",
         in_container ? c->app->repo : "<NA>", in_container ? c->container_id : "host",
         in_container ? c->app->repo : "<NA>", rd->rule, file, c->proc->cmdline, c->proc->name,
         c->proc->parent, c->user, pick(r, 2) ? "true" : "false", 1 + pick(r, 9));
    put_labels(b, c, 1);
}

static void audit_head(wbuf *b, rng *r) { putf(b, "\"agentId\":%u,", 1000 + pick(r, 60000)); }

static void command(wbuf *b, rng *r, const ctx *c, uint64_t ts) {
    audit_head(b, r);
    unsigned pid = 100 + pick(r, 4000000);
    putf(b,
         "\"cmdline\":\"%s\",\"comm\":\"%s\",\"pcomm\":\"%s\",\"containerId\":\"%s\","
         "\"count\":1,\"customerId\":1,\"cwd\":\"/\",\"hostname\":\"%s\","
         "\"loginShellDistance\":%u,\"loginShellId\":%u,\"pid\":%u,\"ppid\":%u,"
         "\"procExepath\":\"%s\",\"rxTimestamp\":%llu,",
         c->proc->cmdline, c->proc->name, c->proc->parent, c->container_id, c->host, pick(r, 3),
         pick(r, 2) ? 0 : pid - 7, pid, pid - 3, c->proc->exe,
         (unsigned long long)(ts + 888795232ull));
    put_ts(b, ts);
    putf(b,
         ",\"tty\":%u,\"type\":\"command\",\"uid\":%u,\"username\":\"%s\","
         "\"userLoginUid\":4294967295,\"userLoginName\":\"<NA>\"",
         pick(r, 2) ? 34816u : 0u, pick(r, 2) ? 0u : 1000u, c->user);
    put_labels(b, c, 0);
}

static void connection(wbuf *b, rng *r, const ctx *c, uint64_t ts) {
    audit_head(b, r);
    char dot[16];
    /* The numeric and dotted forms must agree, so each address is drawn once. */
    uint32_t cli = pod_ip(r);
    putf(b, "\"clientIpv4\":%u,\"clientIpv4Dot\":\"%s\",\"clientPort\":%u,", cli, ip_text(cli, dot),
         32768 + pick(r, 28000));
    putf(b,
         "\"comm\":\"%s\",\"containerId\":\"%s\",\"customerId\":1,\"direction\":\"%s\","
         "\"dnsDomains\":",
         c->proc->name, c->container_id, pick(r, 2) ? "out" : "in");
    if (pick(r, 4) == 0)
        put(b, "[]");
    else
        putf(b, "[\"%s\"]", PICK(r, domains));
    uint32_t srv = (uint32_t)next(r);
    putf(b,
         ",\"errorCode\":0,\"hostname\":\"%s\",\"l4protocol\":%u,\"pid\":%u,"
         "\"processName\":\"%s\",\"rxTimestamp\":0,\"serverIpv4\":%u,"
         "\"serverIpv4Dot\":\"%s\",\"serverPort\":%u,",
         c->host, pick(r, 4) ? 6u : 17u, 100 + pick(r, 4000000), c->proc->name, srv,
         ip_text(srv, dot), pick(r, 2) ? 443u : 1 + pick(r, 65535));
    put_ts(b, ts);
    putf(b, ",\"type\":\"connection\",\"tty\":%u", pick(r, 2) ? 34816u : 0u);
    put_labels(b, c, 0);
}

static void fileaccess(wbuf *b, rng *r, const ctx *c, uint64_t ts) {
    audit_head(b, r);
    const char *path = PICK(r, files);
    const char *slash = strrchr(path, '/');
    putf(b,
         "\"containerId\":\"%s\",\"directory\":\"%.*s\",\"filename\":\"%s\",\"hostname\":\"%s\","
         "\"permissions\":\"%s\",\"pid\":%u,\"comm\":\"%s\",",
         c->container_id, (int)(slash - path + 1), path, slash + 1, c->host, pick(r, 2) ? "w" : "r",
         100 + pick(r, 4000000), c->proc->name);
    put_ts(b, ts);
    put(b, ",\"type\":\"fileaccess\"");
    put_labels(b, c, 0);
}

static void kubernetes(wbuf *b, rng *r, const ctx *c, uint64_t ts) {
    audit_head(b, r);
    char audit_id[37];
    hex(r, audit_id, 36);
    audit_id[8] = audit_id[13] = audit_id[18] = audit_id[23] = '-';
    char dot[16];
    putf(b,
         "\"args\":{\"command\":\"%s\",\"container\":\"%s\"},\"auditId\":\"%s\","
         "\"containerId\":\"%s\",\"hostname\":\"%s\",\"name\":\"%s\",\"namespace\":\"%s\","
         "\"resource\":\"pods\",\"sourceAddresses\":[\"%s\"],",
         c->proc->name, c->app->deployment, audit_id, c->container_id, c->host, c->pod, c->ns,
         ip_text(pod_ip(r), dot));
    uint64_t started = ts - 800000000ull - pick(r, 100000000);
    putf(b, "\"stages\":{\"started\":%llu,\"completed\":%llu},\"subResource\":\"exec\",",
         (unsigned long long)started, (unsigned long long)(started + 133925000ull));
    put_ts(b, ts);
    putf(b,
         ",\"type\":\"kubernetes\",\"user\":{\"username\":\"system:serviceaccount:%s:%s\","
         "\"groups\":[\"system:serviceaccounts\",\"system:serviceaccounts:%s\","
         "\"system:authenticated\"]},\"userAgent\":\"kubectl/v1.%u.%u (linux/amd64) "
         "kubernetes/%.7s\"",
         c->ns, c->user, c->ns, 16 + pick(r, 14), pick(r, 10), c->digest);
    put_labels(b, c, 0);
}

/* ---- public ------------------------------------------------------------- */

const char *w1_kind_name(w1_kind k) {
    static const char *const names[] = {"policy", "command", "connection", "fileaccess",
                                        "kubernetes"};
    return k < W1_NKINDS ? names[k] : "?";
}

size_t w1_event(uint64_t seed, uint64_t index, char *out, w1_info *info) {
    rng r = {w1_mix(seed) ^ w1_mix(index ^ 0x57315731ull)};
    wbuf b = {out, 0};
    unsigned roll = pick(&r, 10);
    w1_kind kind = roll < 6 ? W1_POLICY : (w1_kind)(roll - 5);
    int severity = kind == W1_POLICY ? (int)pick(&r, 8) : -1;
    /* Roughly one event per millisecond of agent time, in index order. */
    uint64_t ts = 1606322948648718268ull + index * 1000003ull + pick(&r, 1000);
    ctx c;
    make_ctx(&r, &c);

    char idtail[9];
    hex(&r, idtail, 8);
    putf(&b, "{\"id\":\"%016llx%08x%s\",\"bench_ts_ns\":\"%0*d\",", (unsigned long long)(ts / 1000),
         (unsigned)index, idtail, W1_TS_DIGITS, 0);
    switch (kind) {
    case W1_POLICY: policy(&b, &r, &c, ts, severity); break;
    case W1_COMMAND: command(&b, &r, &c, ts); break;
    case W1_CONNECTION: connection(&b, &r, &c, ts); break;
    case W1_FILEACCESS: fileaccess(&b, &r, &c, ts); break;
    default: kubernetes(&b, &r, &c, ts); break;
    }
    out[b.n] = 0;

    info->kind = kind;
    info->severity = severity;
    info->timestamp = ts;
    /* SPLUNK's host: the event's "hostname" (audit), else label host.hostName
     * (policy events have no hostname); both are c.host here. */
    snprintf(info->host, sizeof info->host, "%s", c.host);
    info->has_cluster = c.cluster != NULL;
    snprintf(info->cluster, sizeof info->cluster, "%s", c.cluster ? c.cluster : "");
    return b.n;
}

size_t w1_expected(const char *ev, size_t n, const w1_info *info, int transformed, char *out) {
    static const char *const labels[] = {"High",   "High",   "High", "High",
                                         "Medium", "Medium", "Low",  "Info"};
    memcpy(out, ev, n);
    if (!transformed)
        return n;
    size_t len = n - 1; /* over the closing brace */
    if (info->severity >= 0 && info->severity <= 7)
        len += (size_t)sprintf(out + len, ",\"severity_label\":\"%s\"", labels[info->severity]);
    len += (size_t)sprintf(out + len, ",\"cluster\":\"%s\",\"gateway\":\"bench\"}",
                           info->has_cluster ? info->cluster : "unknown");
    return len;
}

size_t w1_redact(char *ev, size_t n) {
    static const char key[] = "\"labels\":{\"aws.accountId\":\"";
    static const char with[] = "[redacted]";
    const size_t klen = sizeof key - 1, wlen = sizeof with - 1;
    for (size_t i = 0; i + klen <= n; i++) {
        if (ev[i] != '"' || memcmp(ev + i, key, klen) != 0)
            continue;
        char *v = ev + i + klen;
        char *end = memchr(v, '"', n - (size_t)(v - ev));
        if (!end)
            return n;
        size_t old = (size_t)(end - v), tail = n - (size_t)(end - ev);
        memmove(v + wlen, end, tail);
        memcpy(v, with, wlen);
        return n - old + wlen;
    }
    return n;
}

void w1_stamp(char *ev, size_t n, uint64_t t) {
    static const char head[] = "{\"id\":\"";
    if (n < W1_TS_POS + W1_TS_DIGITS || memcmp(ev, head, sizeof head - 1) != 0)
        return;
    char *d = ev + W1_TS_POS + W1_TS_DIGITS;
    for (int i = 0; i < W1_TS_DIGITS; i++, t /= 10)
        *--d = (char)('0' + t % 10);
}

size_t w1_time_text(uint64_t timestamp, char out[32]) {
    return (size_t)snprintf(out, 32, "%llu.%09llu", (unsigned long long)(timestamp / 1000000000ull),
                            (unsigned long long)(timestamp % 1000000000ull));
}
