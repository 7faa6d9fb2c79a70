"""The secrets canary: the whole gateway runs with a distinctive secret in
every secret option of every kind, against peers that fail (and echo the
credentials they got back in their error bodies), and nothing the gateway
produces may contain it, in any encoding a platform or a log might use.

Secrets set, each a different value that starts with CANARY:
  - inputs.http.token, the admin tokens (by hash; the token is what clients
    send), inputs.kafka.password and a secret-named librdkafka property;
  - every option an integration module marks `secret` (found from the
    modules' `M.options`; a new one fails test_every_secret_option_is_covered
    until it is added here): WEBHOOK (basic, bearer, HMAC), SPLUNK, ELASTIC
    (basic, API key), SENTINEL (client secret, shared key), CHRONICLE (API
    key, service account), PUBSUB and SCC (service accounts), MCM, SQS
    (secret key, session token), KAFKA (SASL password, keytab);
  - an integration created through the admin API, then replaced keeping
    "******", and sent a test event.
Every endpoint is the echo receiver below: it fails every request (400, or
503 under /retry/, 401 for token requests) with a body that repeats the
request's headers and body as they came, in base64 and url-encoded, so a
gateway that quotes a platform's error text leaks.

Then every output is searched: the log (text and JSON formats, one run
each), `--check`, `siemrelay status`, `replay` and `test` (text and JSON),
every admin API GET (integrations one by one, types,
audit, scripts, pipeline, inputs, whoami, /metrics, the page and its
files), the answers to refused requests, and every file under data_dir
(statuses, dead letters, the audit trail and a FILE copy of it; not the
store of API-defined integrations, which must keep their secrets: it is
checked to be private instead). Searched
for: each secret as set, the canary alone, their base64 (standard and
URL-safe, at every alignment, so a canary inside a longer encoded string is
found) and their URL-encoded forms.
"""

import base64
import glob
import hashlib
import http.server
import json
import os
import re
import subprocess
import threading
import urllib.parse

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from harness import Gateway, gateway_bin, repo_path, sample_bytes, samples, wait_until

CANARY = "CANARY-7f3a9c"


def secret(tag, plain=False):
    # '+', '/' and '=' make the URL-encoded and JSON forms differ from the
    # raw one; the canary prefix stays searchable in all of them. `plain`
    # for an option that takes only letters, digits, '-' and '_'.
    return "%s-%s%s" % (CANARY, tag, "" if plain else "+/=")


SECRETS = {}


def s(tag, plain=False):
    SECRETS[tag] = secret(tag, plain)
    return SECRETS[tag]


INGEST_TOKEN = s("ingest")
ADMIN_TOKEN = s("admin")
VIEWER_TOKEN = s("viewer")


def b64_forms(text):
    """Every base64 rendering that contains `text` somewhere inside a longer
    encoded string: encode it at the three alignments and keep the part
    that does not depend on the neighbouring bytes."""
    raw = text.encode()
    out = set()
    for pad in range(3):
        for enc in (base64.b64encode, base64.urlsafe_b64encode):
            e = enc(b"\0" * pad + raw).decode().rstrip("=")
            start = (pad * 4 + 2) // 3  # characters that mix in the padding bytes
            end = len(e) - (1 if (pad + len(raw)) % 3 else 0)
            if end - start >= 8:
                out.add(e[start:end])
    return out


def needles():
    out = {CANARY}
    for v in SECRETS.values():
        out |= {v, urllib.parse.quote(v, safe=""), urllib.parse.quote_plus(v), json.dumps(v)[1:-1]}
        out |= b64_forms(v)
    out |= b64_forms(CANARY)
    return sorted(out)


def find_leaks(text, where):
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    hits = []
    for n in needles():
        i = text.find(n)
        if i >= 0:
            hits.append("%s: %r in ...%s..." % (where, n, text[max(0, i - 120):i + len(n) + 40]))
    return hits


# ---- the failing, echoing peer --------------------------------------------

class EchoHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        seen = "".join("%s: %s\n" % kv for kv in self.headers.items()) + body.decode("utf-8", "replace")
        self.server.seen.append(seen)
        status = 400
        if "/retry/" in self.path:
            status = 503
        elif "token" in self.path or "oauth" in self.path or "identity" in self.path:
            status = 401
        # The credential first, in the forms platforms echo it in: as sent,
        # its value base64-encoded, percent-encoded; then the whole request.
        auth = self.headers.get("Authorization", "")
        value = auth.split(" ", 1)[-1]
        echo = json.dumps({
            "authorization": auth,
            "credential_b64": base64.b64encode(value.encode()).decode(),
            "credential_url": urllib.parse.quote(value, safe=""),
            "error": {"code": status, "message": "credentials refused: " + seen[:2000]},
            "body_url": urllib.parse.quote(body.decode("utf-8", "replace")[:500], safe=""),
        }).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(echo)))
        self.send_header("WWW-Authenticate", 'Basic realm="%s"' % self.headers.get("Authorization", ""))
        self.end_headers()
        self.wfile.write(echo)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer


class Echo:
    def __init__(self):
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), EchoHandler)
        self.httpd.daemon_threads = True
        self.httpd.seen = []
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path=""):
        return "http://127.0.0.1:%d%s" % (self.httpd.server_address[1], path)

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def echo():
    e = Echo()
    yield e
    e.stop()


# ---- the configuration: every secret option ---------------------------------

def service_account(echo, tag):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return json.dumps({"type": "service_account", "project_id": "canary-project",
                       "private_key_id": s(tag), "private_key": pem,
                       "client_email": "canary@canary-project.iam.gserviceaccount.com",
                       "client_id": "1234567890", "token_uri": echo.url("/token")})


# Integration type -> its secret options, as the modules declare them.
COVERED = {
    "WEBHOOK": {"secret"}, "SPLUNK": {"ServiceToken"}, "ELASTIC": {"secret"},
    "SENTINEL": {"clientSecret", "secret"}, "CHRONICLE": {"apiKey", "credentialsOAuth2"},
    "PUBSUB": {"credentialsJson"}, "SCC": {"credentialsJson"}, "MCM": {"apiKey"},
    "SQS": {"accessSecret", "sessionToken"}, "KAFKA": {"keytab", "password"},
}


def entry(name, type_, configuration):
    """Every channel the type takes (its default)."""
    return {"name": name, "type": type_, "batch": {"max_events": 10, "linger": "20ms"},
            "configuration": configuration}


def integrations(echo, data_dir):
    u = echo.url
    keytab = base64.b64encode(b"\x05\x02" + s("keytab").encode() + b"\0" * 8).decode()
    SECRETS["keytab-b64"] = keytab
    shared_key = base64.b64encode(s("sentinel-key").encode()).decode()
    SECRETS["sentinel-key-b64"] = shared_key
    return [
        entry("hook-basic", "WEBHOOK", {"endpoint": u("/hook"), "auth": "BASIC_AUTH",
                                         "secret": "alice:" + s("webhook-basic")}),
        entry("hook-bearer", "WEBHOOK", {"endpoint": u("/retry/hook"), "auth": "BEARER_TOKEN",
                                          "secret": s("webhook-bearer"), "output": "ndjson"}),
        entry("hook-hmac", "WEBHOOK", {"endpoint": u("/hook?sig=1"), "auth": "SIGNATURE",
                                        "secret": s("webhook-hmac")}),
        entry("hec", "SPLUNK", {"ServiceURL": u("/services/collector/event"),
                                "ServiceToken": s("splunk")}),
        entry("es-basic", "ELASTIC", {"endpoint": u("/"), "index": "canary", "auth": "BASIC_AUTH",
                                      "secret": "elastic:" + s("elastic-basic")}),
        entry("es-key", "ELASTIC", {"endpoint": u("/retry/"), "index": "canary", "auth": "APIKEY",
                                    "secret": s("elastic-apikey")}),
        entry("sentinel-dcr", "SENTINEL", {"endpoint": u(""), "dcrImmutableId": "dcr-1",
                                           "streamName": "Custom-Canary_CL", "tenantId": "tenant",
                                           "clientId": "client", "clientSecret": s("sentinel-client"),
                                           "authorityHost": u("/oauth")}),
        entry("sentinel-legacy", "SENTINEL", {"workspaceId": "ws", "secret": shared_key,
                                              "endpoint": u("")}),
        entry("chronicle-v1", "CHRONICLE", {"region": "europe", "apiKey": s("chronicle-key", plain=True),
                                            "endpoint": u("")}),
        entry("chronicle-v2", "CHRONICLE", {"region": "europe-west2",
                                            "chronicleCustomerId": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
                                            "namespace": "canary",
                                            "credentialsOAuth2": service_account(echo, "chronicle-sa"),
                                            "tokenUri": u("/token"), "endpoint": u("")}),
        entry("pubsub", "PUBSUB", {"project": "canary-project", "topic": "canary-topic",
                                   "credentialsJson": service_account(echo, "pubsub-sa"),
                                   "tokenUri": u("/token"), "endpoint": u("")}),
        entry("scc", "SCC", {"organization": "123456", "source": "organizations/123456/sources/1",
                             "credentialsJson": service_account(echo, "scc-sa"),
                             "tokenUri": u("/token"), "endpoint": u("")}),
        entry("mcm", "MCM", {"endpoint": u(""), "accountId": "acct", "apiKey": s("mcm"),
                             "iamUrl": u("/identity/token")}),
        entry("sqs", "SQS", {"ownerAccount": "123456789012", "region": "eu-west-1", "queue": "q",
                             "accessKey": "AKIDCANARYTEST", "accessSecret": s("sqs-secret"),
                             "sessionToken": s("sqs-session"), "endpoint": u("/")}),
        entry("kafka-sasl", "KAFKA", {"brokers": "127.0.0.1:1", "topic": "t", "saslMechanism": "PLAIN",
                                      "username": "u", "password": s("kafka-password")}),
        entry("kafka-gssapi", "KAFKA", {"brokers": "127.0.0.1:1", "topic": "t", "auth": "gssapi",
                                        "principal": "svc", "realm": "EXAMPLE.COM", "keytab": keytab,
                                        "properties": {"sasl.kerberos.kinit.cmd": "true"}}),
        {"name": "audit-copy", "type": "FILE", "channels": ["PLATFORM_AUDIT"],
         "batch": {"max_events": 10, "linger": "20ms"},
         "configuration": {"path": os.path.join(data_dir, "audit-copy.jsonl")}},
    ]


def gateway_conf(log_format):
    return {
        "logging": {"level": "debug", "format": log_format},
        "delivery": {"backoff": "100ms", "backoff_max": "500ms", "inhibit": "2s"},
        "local_forwarder": {"enabled": True, "transmit_message_types": ["POLICY_EVENTS", "SECURE_AUDIT"]},
        "inputs": {
            "http": {"token": INGEST_TOKEN},
            "kafka": {"brokers": "127.0.0.1:1", "topics": "canary", "sasl_mechanism": "PLAIN",
                      "username": "u", "password": s("kafka-input"),
                      "key_password": s("kafka-input-key"),
                      "properties": {"ssl.key.password": s("kafka-input-prop")}},
        },
        "admin": {"tokens": [
            {"name": "alice", "role": "admin", "sha256": hashlib.sha256(ADMIN_TOKEN.encode()).hexdigest()},
            {"name": "victor", "role": "viewer", "sha256": hashlib.sha256(VIEWER_TOKEN.encode()).hexdigest()},
        ]},
    }


def module_secret_options():
    """{TYPE: {option, ...}} for every option an integration module marks secret."""
    out = {}
    for path in glob.glob(repo_path("lua", "integrations", "*.lua")):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        names = set(re.findall(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*\{[^{}]*\bsecret\s*=\s*true", text, re.M))
        if names:
            out[os.path.basename(path)[:-4].upper()] = names
    return out


# Configuration keys marked SR_CONF_SECRET in the key tables, by file.
COVERED_KEYS = {
    "runtime/ingest/input_conf.c": {"token"},  # inputs.http.token
    "runtime/ingest/input_kafka_conf.c": {"key_password", "password"},  # inputs.kafka
}


def table_secret_keys():
    out = {}
    for path in glob.glob(repo_path("runtime", "*", "*.c")) + glob.glob(repo_path("sinks", "*.c")):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        names = set(re.findall(r'\{\s*\.name\s*=\s*"(\w+)"[^{}]*?SR_CONF_SECRET', text))
        if names:
            out[os.path.relpath(path, repo_path())] = names
    return out


def test_every_secret_key_is_covered():
    declared = table_secret_keys()
    assert declared, "no SR_CONF_SECRET rows found: the pattern is stale"
    assert declared == COVERED_KEYS, ("secret configuration keys changed; set the new ones in "
                                      "gateway_conf(): declared %r, covered %r" % (declared, COVERED_KEYS))


def test_every_secret_option_is_covered():
    declared = module_secret_options()
    assert declared, "no secret options found in lua/integrations: the pattern is stale"
    assert declared == COVERED, ("secret options changed; cover the new ones in integrations(): "
                                 "declared %r, covered %r" % (declared, COVERED))


# ---- the run ------------------------------------------------------------------

def admin(gw, method, path, token=ADMIN_TOKEN, **kw):
    h = kw.pop("headers", {})
    if token:
        h["Authorization"] = "Bearer " + token
    return requests.request(method, gw.admin_url(path), headers=h, timeout=30, **kw)


def drive(gw, echo, outputs):
    """Produces everything the gateway says about its secrets: deliveries
    that fail, refused requests, admin writes, a test event."""
    body = b"\n".join(raw.replace(b"\n", b"") for name, raw, parsed in samples()
                      if parsed.get("type") != "audittrail") + b"\n"
    r = gw.post(body, content_type="application/x-ndjson", token=INGEST_TOKEN)
    assert r.status_code == 200, r.text
    # Refused: a wrong token, a token in the query string.
    for hdrs, path in (({"Authorization": "Bearer " + s("wrong-ingest")}, "/v1/events"),
                       ({}, "/v1/events?token=" + urllib.parse.quote(INGEST_TOKEN)),
                       ({"Authorization": "Basic " + base64.b64encode(
                           ("x:" + INGEST_TOKEN).encode()).decode()}, "/v1/events")):
        r = requests.post(gw.url(path), data=body, headers=hdrs, timeout=15)
        assert r.status_code in (401, 403, 429), r.status_code
        outputs.append(("ingest refusal %s" % path, r.text + "".join("%s: %s\n" % kv for kv in r.headers.items())))
    for hdrs, path in (({"Authorization": "Bearer " + s("wrong-admin")}, "/api/integrations"),
                       ({}, "/api/audit?token=" + urllib.parse.quote(ADMIN_TOKEN))):
        r = requests.get(gw.admin_url(path), headers=hdrs, timeout=15)
        assert r.status_code in (401, 403, 429), r.status_code
        outputs.append(("admin refusal %s" % path, r.text))

    # Admin writes: create with a secret, replace keeping it masked, test, reload.
    api_hook = {"name": "api-hook", "type": "WEBHOOK", "channels": ["SECURE_EVENTS_POLICIES"],
                "configuration": {"endpoint": echo.url("/api-hook"), "auth": "BEARER_TOKEN",
                                  "secret": s("api-webhook")}}
    r = admin(gw, "POST", "/api/integrations", json=api_hook)
    assert r.status_code in (200, 201), r.text
    outputs.append(("POST /api/integrations", r.text))
    current = admin(gw, "GET", "/api/integrations/api-hook").json()
    assert current["configuration"]["secret"] == "******", current
    api_hook["configuration"]["secret"] = "******"
    api_hook["configuration"]["output"] = "ndjson"
    r = admin(gw, "PUT", "/api/integrations/api-hook", json=api_hook)
    assert r.status_code == 200, r.text
    outputs.append(("PUT /api/integrations/api-hook", r.text))
    for name in ("api-hook", "hook-basic", "hec", "sentinel-dcr", "mcm", "chronicle-v2"):
        r = admin(gw, "POST", "/api/integrations/%s/test" % name)
        outputs.append(("POST /api/integrations/%s/test" % name, r.text))
    r = admin(gw, "POST", "/api/reload")
    outputs.append(("POST /api/reload", r.text))
    r = gw.post(body, content_type="application/x-ndjson", token=INGEST_TOKEN)
    assert r.status_code == 200, r.text

    # Every HTTP integration has met its failing peer.
    http_types = {"WEBHOOK", "SPLUNK", "ELASTIC", "SENTINEL", "CHRONICLE", "PUBSUB", "SCC", "MCM", "SQS"}

    def all_failed():
        items = admin(gw, "GET", "/api/integrations").json()
        pending = [i["name"] for i in items if i["type"] in http_types and i.get("status") == "Not Connected"]
        return not pending

    wait_until(all_failed, 60, interval=0.2, message="some integrations never tried their peer")
    wait_until(lambda: glob.glob(os.path.join(gw.data_dir, "deadletter", "*.jsonl")), 30,
               message="no dead letters were written")
    # The peer really was handed the secrets: the search below is not vacuous.
    seen = "\n".join(echo.httpd.seen)
    handed = [tag for tag in ("webhook-bearer", "splunk", "elastic-apikey", "api-webhook", "sqs-session")
              if SECRETS[tag] in seen]
    assert len(handed) == 5, "the echo peer saw only %r" % handed
    assert base64.b64encode(("alice:" + SECRETS["webhook-basic"]).encode()).decode() in seen


def run_commands(gw, outputs):
    """The command line's views of the same gateway and configuration."""
    env = dict(os.environ, SIEMRELAY_ADMIN_TOKEN=ADMIN_TOKEN)
    admin_addr = "127.0.0.1:%d" % gw.admin_port
    sample = os.path.join(gw.workdir, "policy.json")
    with open(sample, "wb") as f:
        f.write(sample_bytes("policy_event.json"))
    commands = [
        ["status", "-c", gw.config_path, "--admin", admin_addr],
        ["status", "-c", gw.config_path, "--admin", admin_addr, "--json"],
        ["replay", "-i", "hook-basic", "-c", gw.config_path, "--admin", admin_addr],
        ["test", "-c", gw.config_path, sample],
        ["test", "-c", gw.config_path, "--json", sample],
    ]
    for args in commands:
        r = subprocess.run([gateway_bin()] + args, capture_output=True, timeout=120, cwd=gw.workdir, env=env)
        assert r.returncode == 0 or args[0] == "replay", "%s: %s" % (args, r.stderr.decode())
        if args[0] != "replay":
            assert b"hook-basic" in r.stdout, "%s printed no integration: %s" % (args, r.stdout[:500])
        outputs.append(("siemrelay " + " ".join(args[:1] + args[-1:]), r.stdout + r.stderr))


def collect_admin(gw, outputs):
    names = [i["name"] for i in admin(gw, "GET", "/api/integrations").json()]
    assert "api-hook" in names and "hook-basic" in names
    paths = ["/api/integrations", "/api/types", "/api/audit?limit=1000", "/api/scripts", "/api/pipeline",
             "/api/inputs/kafka", "/api/whoami", "/metrics", "/healthz", "/readyz", "/"]
    paths += ["/api/integrations/" + urllib.parse.quote(n, safe="") for n in names]
    for p in paths:
        for token in (ADMIN_TOKEN, VIEWER_TOKEN):
            r = admin(gw, "GET", p, token=token)
            outputs.append(("GET %s (%s)" % (p, "admin" if token == ADMIN_TOKEN else "viewer"),
                            r.text + "".join("%s: %s\n" % kv for kv in r.headers.items())))
    audit = admin(gw, "GET", "/api/audit?limit=1000").json()
    assert audit, "the audit trail is empty: the admin writes were not recorded"
    page = admin(gw, "GET", "/").text
    for ref in sorted(set(re.findall(r'(?:src|href)="(/ui/[^"]+)"', page))):
        r = admin(gw, "GET", ref)
        assert r.status_code == 200, ref
        outputs.append(("GET " + ref, r.text))


# The one file under data_dir that must hold secrets: the API-defined
# integrations, kept to be loaded again at start (admin.md), readable by the
# gateway's user alone.
STORE = "api-integrations.yaml"


def collect_files(data_dir, outputs):
    store = os.path.join(data_dir, STORE)
    assert os.stat(store).st_mode & 0o077 == 0, "%s is readable by others" % STORE
    with open(store, encoding="utf-8") as f:
        assert SECRETS["api-webhook"] in f.read(), "the store lost the API integration's secret"
    count = 0
    for root, _dirs, files in os.walk(data_dir):
        for f in files:
            p = os.path.join(root, f)
            if p == store:
                continue
            with open(p, "rb") as fh:
                outputs.append((os.path.relpath(p, data_dir), fh.read()))
            count += 1
    return count


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_no_output_holds_a_secret(tmp_path, echo, log_format):
    SECRETS.clear()
    for tag in ("ingest", "admin", "viewer"):
        s(tag)
    gw = Gateway(tmp_path / "gw", conf=gateway_conf(log_format))
    gw.integrations = integrations(echo, gw.data_dir)
    outputs = []
    gw.start()
    try:
        # --check on the very configuration the gateway runs.
        check = subprocess.run([gateway_bin(), "--check", "-c", gw.config_path], capture_output=True,
                               timeout=120, cwd=gw.workdir)
        assert check.returncode == 0, check.stderr.decode()
        assert b"******" in check.stdout
        outputs.append(("--check stdout", check.stdout))
        outputs.append(("--check stderr", check.stderr))
        drive(gw, echo, outputs)
        run_commands(gw, outputs)
        collect_admin(gw, outputs)
    finally:
        gw.stop(check=False)
    # What a stop writes (statuses, the audit trail) is searched too.
    outputs.append(("log (%s)" % log_format, gw.stderr()))
    outputs.append(("stdout", open(gw.stdout_path, "rb").read()))
    if log_format == "json":
        lines = [l for l in gw.stderr().splitlines() if l.strip()]
        assert lines and all(l.startswith("{") for l in lines[:5]), lines[:5]
    assert collect_files(gw.data_dir, outputs) >= 3
    leaks = []
    for where, text in outputs:
        leaks += find_leaks(text, where)
    assert not leaks, "secrets leaked:\n" + "\n".join(leaks[:40])
    assert gw.exit_code == 0, gw.stderr()[-4000:]
