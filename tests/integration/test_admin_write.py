"""The admin API's write side: roles (401/403), create/replace/delete/test
with a real effect on delivery, validation errors that name the field,
secrets that never come back, the audit trail (forwarded through the
pipeline to a FILE integration on PLATFORM_AUDIT, and in /api/audit),
persistence across a restart, and `--check` reading the API file."""

import json
import os
import socket
import signal
import stat
import subprocess
import threading

import requests

from admin_util import (ADMIN_TOKEN, VIEWER_TOKEN, Admin, audit_sink, read_jsonl, sha256_hex, tokens_conf,
                        wait_audit)
from harness import Gateway, gateway_bin, run_cli, sample_bytes, strict_loads, summary_of, wait_until, webhook
from receivers.controlled import ControlledReceiver

HOOK_SECRET = "hook-secret-41d7be90a2"
FAST = {"delivery": {"backoff": "100ms", "backoff_max": "200ms", "inhibit": "1s", "shutdown_timeout": "2s"}}


def policy_events(n, prefix):
    base = json.loads(sample_bytes("policy_event.json"))
    return [dict(base, id="%s-%d" % (prefix, i)) for i in range(n)]


def start(gateway_factory, tmp_path, extra=(), conf=None, **kw):
    sink, audit_path = audit_sink(tmp_path)
    c = {"admin": tokens_conf()}
    c.update(FAST)
    c.update(conf or {})
    gw = gateway_factory([sink] + list(extra), conf=c, **kw)
    return gw, audit_path


def hook_entry(name, url, **configuration):
    e = webhook(name, url, channels=["SECURE_EVENTS_POLICIES"], auth="BEARER_TOKEN", secret=HOOK_SECRET)
    e["configuration"].update(configuration)
    return e


def post(gw, events):
    r = gw.post_ndjson(events)
    assert r.status_code == 200, r.text
    assert summary_of(r)["accepted"] == len(events)


def receiver():
    return ControlledReceiver().start()


# ---- roles -------------------------------------------------------------------


def test_tokens_roles_401_403_and_failed_auth_audited(gateway_factory, tmp_path):
    gw, audit_path = start(gateway_factory, tmp_path)
    nobody, wrong = Admin(gw, None), Admin(gw, "not-a-token")
    viewer, admin = Admin(gw, VIEWER_TOKEN), Admin(gw, ADMIN_TOKEN)

    for path in ("/api/integrations", "/api/integrations/audit-archive", "/metrics", "/api/types",
                 "/api/whoami", "/api/audit"):
        r = nobody.get(path)
        assert r.status_code == 401, path
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
        r = wrong.get(path)
        assert r.status_code == 401, path
        assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]
    # a malformed header is no token
    r = requests.get(gw.admin_url("/api/integrations"), headers={"Authorization": "Basic eDp5"}, timeout=10)
    assert r.status_code == 401

    for path in ("/api/integrations", "/api/integrations/audit-archive", "/metrics", "/api/types"):
        assert viewer.get(path).status_code == 200, path
        assert admin.get(path).status_code == 200, path
    assert strict_loads(viewer.get("/api/whoami").content) == {
        "name": "victor", "role": "viewer", "tokens": True, "writable": False}
    assert strict_loads(admin.get("/api/whoami").content)["writable"] is True

    # viewers read, never write; the audit trail is for admins
    assert viewer.get("/api/audit").status_code == 403
    r = viewer.create(hook_entry("x", "http://127.0.0.1:1/x"))
    assert r.status_code == 403 and "admin role" in r.json()["error"]
    assert viewer.delete("audit-archive").status_code == 403
    assert viewer.test("audit-archive").status_code == 403
    assert viewer.call("POST", "/api/reload").status_code == 403
    assert nobody.create(hook_entry("x", "http://127.0.0.1:1/x")).status_code == 401

    # open: health, readiness and the page itself
    for path in ("/healthz", "/readyz", "/", "/ui/app.js"):
        assert requests.get(gw.admin_url(path), timeout=10).status_code == 200, path

    # every failed authentication is an audit event, forwarded and kept
    fails = wait_audit(audit_path, lambda e: e["content"]["responseStatusCode"] == 401, timeout=10)
    e = fails[0]
    assert e["type"] == "audittrail" and e["source"] == "auditTrail"
    assert len(e["id"]) == 32 and int(e["id"], 16) >= 0
    assert isinstance(e["timestamp"], int) and e["timestamp"] > 10 ** 18
    c = e["content"]
    assert c["requestMethod"] == "GET" and c["requestUri"].startswith("/")
    assert c["userOriginIP"] == "127.0.0.1" and c["timestampNs"] == e["timestamp"]
    assert c["entityType"] and c["username"] in ("unknown",)
    wait_audit(audit_path, lambda e: e["content"]["responseStatusCode"] == 403
               and e["content"]["username"] == "victor")
    kept = admin.audit(1000)
    assert any(k["content"]["responseStatusCode"] == 401 for k in kept)
    assert kept == sorted(kept, key=lambda k: -k["timestamp"])  # newest first
    assert len(admin.audit(2)) == 2
    assert admin.get("/api/audit?limit=0").status_code == 400
    assert os.path.exists(os.path.join(gw.data_dir, "audit.jsonl"))

    # `siemrelay status` takes a token from the environment
    where = "127.0.0.1:%d" % gw.admin_port
    p = run_cli(["status", "--admin", where])
    assert p.returncode == 1 and "401" in p.stderr, p.stderr
    p = run_cli(["status", "--admin", where], env={"SIEMRELAY_ADMIN_TOKEN": VIEWER_TOKEN})
    assert p.returncode == 0 and "audit-archive" in p.stdout, p.stderr


def test_refused_on_the_head_before_the_body(gateway_factory, tmp_path):
    """Without a valid token the answer comes on the request head alone: the
    body is never waited for, nor read."""
    gw, _ = start(gateway_factory, tmp_path)
    for auth in (b"", b"Authorization: Bearer not-a-token\r\n"):
        s = socket.create_connection(("127.0.0.1", gw.admin_port))
        try:
            s.settimeout(5)
            s.sendall(b"POST /api/integrations HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth +
                      b"Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n")
            assert s.recv(12) == b"HTTP/1.1 401"
        finally:
            s.close()
    assert Admin(gw, ADMIN_TOKEN).get("/api/whoami").status_code == 200


def test_bad_token_flood_is_limited_and_summarised(gateway_factory, tmp_path):
    """15,000 requests with bad tokens: the first is audited in full (its
    query string masked), the peer is limited to 429 after 20 failures, and
    the trail keeps every admin action from before the flood; the rest is one
    summary record. Another address is not limited."""
    gw, audit_path = start(gateway_factory, tmp_path)
    admin = Admin(gw, ADMIN_TOKEN)
    rcv = receiver()
    try:
        for i in range(3):
            assert admin.create(hook_entry("flood-%d" % i, rcv.url("/h"))).status_code == 201
    finally:
        rcv.stop()
    before = [k for k in admin.audit(1000) if k["content"]["requestMethod"] == "POST"]
    assert len(before) == 3

    secret = "QuerySecret-6d1f0a"
    r = requests.get(gw.admin_url("/api/integrations?access_token=%s&limit=1" % secret),
                     headers={"Authorization": "Bearer wrong"}, timeout=10)
    assert r.status_code == 401
    statuses = {}
    lock = threading.Lock()

    def flood(n):
        seen = {}
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", gw.admin_port), timeout=10)
            try:
                s.sendall(b"GET /api/integrations HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          b"Authorization: Bearer wrong\r\n\r\n")
                code = s.recv(12)
            finally:
                s.close()
            seen[code] = seen.get(code, 0) + 1
        with lock:
            for k, v in seen.items():
                statuses[k] = statuses.get(k, 0) + v

    threads = [threading.Thread(target=flood, args=(1875,)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sum(statuses.values()) == 15000, statuses
    assert statuses.get(b"HTTP/1.1 401") == 19 and statuses.get(b"HTTP/1.1 429") == 14981, statuses
    r = requests.get(gw.admin_url("/api/whoami"), headers={"Authorization": "Bearer " + ADMIN_TOKEN},
                     timeout=10)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0

    # Another address is served; the admin actions are all still in the trail.
    s = socket.create_connection(("127.0.0.1", gw.admin_port), timeout=10, source_address=("127.0.0.2", 0))
    try:
        s.sendall(b"GET /api/audit?limit=1000 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                  b"Authorization: Bearer " + ADMIN_TOKEN.encode() + b"\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    assert data.startswith(b"HTTP/1.1 200 "), data[:200]
    kept = strict_loads(data.split(b"\r\n\r\n", 1)[1])
    assert [k["id"] for k in before] == [k["id"] for k in kept if k["content"]["requestMethod"] == "POST"]
    fails = [k for k in kept if k["content"]["responseStatusCode"] == 401]
    assert len(fails) == 1, fails  # the first, in full; the rest waits for the summary
    assert fails[0]["content"]["queryString"] == "access_token=******&limit=1"
    log = read_jsonl(os.path.join(gw.data_dir, "audit.jsonl"))
    assert len(log) < 20, len(log)
    assert secret not in gw.stderr()
    with open(os.path.join(gw.data_dir, "audit.jsonl")) as f:
        assert secret not in f.read()
    # At shutdown the interval's summary is recorded.
    gw.stop()
    log = read_jsonl(os.path.join(gw.data_dir, "audit.jsonl"))
    summaries = [e for e in log if e["content"]["requestMethod"] == "-"]
    assert len(summaries) == 1, summaries
    assert "20 failed authentications and 14982 rate-limited attempts from 1 address" in \
        summaries[0]["description"], summaries[0]["description"]


def test_without_tokens_reads_are_open_and_writes_refused(gateway_factory, tmp_path):
    gw = gateway_factory([], conf=FAST)
    anon = Admin(gw, None)
    assert anon.get("/api/integrations").status_code == 200
    assert strict_loads(anon.get("/api/whoami").content)["tokens"] is False
    r = anon.create(hook_entry("x", "http://127.0.0.1:1/x"))
    assert r.status_code == 403
    assert "admin.tokens" in r.json()["error"]
    assert anon.get("/api/audit").status_code == 403
    assert "no admin.tokens" in gw.stderr()


def test_token_config_errors(tmp_path):
    cfg = tmp_path / "c.yaml"
    for tokens, expect in (
        ([{"name": "a", "role": "root", "sha256": sha256_hex("x")}], "admin or viewer"),
        ([{"name": "a", "role": "admin", "sha256": "plain-token-by-mistake"}], "64 hex digits"),
        ([{"name": "a", "role": "admin"}], "missing required key 'sha256'"),
        ([{"name": "a", "role": "admin", "sha256": sha256_hex("x")},
          {"name": "A", "role": "viewer", "sha256": sha256_hex("y")}], "used twice"),
    ):
        cfg.write_text(json.dumps({"admin": {"tokens": tokens}}))
        p = run_cli(["--check", "-c", str(cfg)])
        assert p.returncode == 1, p.stderr
        assert expect in p.stderr, p.stderr
        assert "plain-token-by-mistake" not in p.stderr
    # siemrelay hash-token reads the token on stdin (never argv) and prints its hash
    out = subprocess.run([gateway_bin(), "hash-token"], input="s3cret\n", capture_output=True, text=True,
                         timeout=10)
    assert out.returncode == 0 and out.stdout.strip() == sha256_hex("s3cret")


# ---- create, replace, delete, test -------------------------------------------


def test_create_replace_delete_take_effect_without_disturbing_others(gateway_factory, tmp_path):
    rcv, other = receiver(), receiver()
    try:
        # A file-defined integration whose destination is down: its queue
        # must survive every API change untouched.
        other.down()
        stay = hook_entry("stay", other.url("/stay"))
        gw, audit_path = start(gateway_factory, tmp_path, extra=[stay])
        admin = Admin(gw)
        post(gw, policy_events(5, "before"))
        wait_until(lambda: admin.one("stay")["queue"]["events"] == 5, 10)

        r = admin.create(hook_entry("siem", rcv.url("/one")))
        assert r.status_code == 201, r.text
        doc = r.json()
        assert doc["name"] == "siem" and doc["source"] == "api" and doc["status"] == "Not Connected"
        assert doc["configuration"]["secret"] == "******"
        assert doc["channels"] == ["SECURE_EVENTS_POLICIES"]
        assert "siem" in admin.names()

        post(gw, policy_events(3, "created"))
        rcv.wait(lambda r: len([e for e in r.events("/one") if e["id"].startswith("created")]) == 3, 10)
        assert rcv.requests[-1].header("Authorization") == "Bearer " + HOOK_SECRET
        wait_until(lambda: admin.one("siem")["status"] == "Connected", 10)

        # replace: a new endpoint, with the secret (the mask would not do: test_admin_boundary)
        entry = hook_entry("siem", rcv.url("/two"))
        r = admin.replace("siem", entry)
        assert r.status_code == 200, r.text
        assert r.json()["configuration"]["endpoint"] == rcv.url("/two")
        post(gw, policy_events(2, "replaced"))
        rcv.wait(lambda r: len(r.events("/two")) == 2, 10)
        assert rcv.requests[-1].header("Authorization") == "Bearer " + HOOK_SECRET
        assert admin.one("siem")["history"][0]["to"] == "Connected"  # status kept across the change

        # the other integration kept its queue: 5 + 3 + 2 events, nothing lost
        assert admin.one("stay")["queue"]["events"] == 10
        other.up()
        stay_ids = lambda r: {e["id"] for e in r.events("/stay")}  # noqa: E731 (at least once)
        other.wait(lambda r: len(stay_ids(r)) == 10, 15)

        r = admin.delete("siem", "discard")
        assert r.status_code == 200, r.text
        assert r.json() == {"deleted": "siem", "queued": "discard", "discarded": 0}
        assert admin.one("siem") is None and "siem" not in admin.names()
        n_before = len(rcv.events())
        post(gw, policy_events(2, "after"))
        other.wait(lambda r: len(stay_ids(r)) == 12, 10)
        assert len(rcv.events()) == n_before
        assert not os.path.exists(os.path.join(gw.data_dir, "state", "siem.json"))

        # each action is an audit event with method, URI, status, entity and user
        for method, uri, status in (("POST", "/api/integrations", 201), ("PUT", "/api/integrations/siem", 200),
                                    ("DELETE", "/api/integrations/siem", 200)):
            ev = wait_audit(audit_path, lambda e: e["content"]["requestMethod"] == method
                            and e["content"]["requestUri"] == uri)[0]
            c = ev["content"]
            assert c["responseStatusCode"] == status and c["entityType"] == "integration"
            assert c["username"] == "alice" and c["entityId"] == "siem"
            assert c["userOriginIP"] == "127.0.0.1"
        assert wait_audit(audit_path, lambda e: e["content"]["queryString"] == "queued=discard")
    finally:
        rcv.down()
        other.down()


def test_validation_errors_name_the_field(gateway_factory, tmp_path):
    rcv = receiver()
    try:
        gw, _ = start(gateway_factory, tmp_path, extra=[hook_entry("filehook", rcv.url("/f"))])
        admin = Admin(gw)
        good = hook_entry("v", rcv.url("/v"))

        def err(entry=None, raw=None, status=400):
            r = admin.call("POST", "/api/integrations", entry, raw=raw)
            assert r.status_code == status, (entry, r.status_code, r.text)
            return r.json()

        def variant(**changes):
            e = json.loads(json.dumps(good))
            for k, v in changes.items():
                if k.startswith("c_"):
                    if v is None:
                        e["configuration"].pop(k[2:], None)
                    else:
                        e["configuration"][k[2:]] = v
                elif v is None:
                    e.pop(k, None)
                else:
                    e[k] = v
            return e

        cases = [
            (variant(c_endpoint=None), "configuration.endpoint", "missing required key 'endpoint'"),
            (variant(c_endpoint="not a url"), "configuration.endpoint", "endpoint must be"),
            (variant(c_output="xml"), "configuration.output", "must be one of"),
            (variant(c_isInsecure="maybe"), "configuration.isInsecure", "true or false"),
            (variant(c_endpont="x"), "configuration.endpont", "did you mean 'endpoint'"),
            (variant(type="WEBHOK"), "type", "unknown type 'WEBHOK'"),
            (variant(type=None), "type", "required"),
            (variant(name=None), "name", "required"),
            (variant(name="bad name!"), "name", "name"),
            (variant(channels=["ACTIVTY_AUDIT"]), "channels", "unknown channel"),
            (variant(channels=["MONITOR_EVENTS", "NOPE"]), "channels", "unknown channel"),
            (variant(batch={"max_events": "many"}), "batch.max_events", "max_events"),
            (variant(min_severity="Extreme"), "min_severity", "min_severity"),
            (variant(colour="blue"), "colour", "unknown key 'colour'"),
        ]
        for entry, field, text in cases:
            e = err(entry)
            assert e["field"] == field, (entry, e)
            assert text in e["error"], (entry, e)
            assert "api-integrations" not in e["error"], e  # no temporary file names
        assert "error" in err(raw="{not json")
        assert err(raw="[1,2]")["error"].startswith("the body must be one JSON object")
        # the name of a file-defined integration is taken
        e = err(variant(name="filehook"), status=409)
        assert "configuration file" in e["error"] and e["field"] == "name"
        assert admin.replace("filehook", good).status_code == 409
        assert admin.delete("filehook").status_code == 409
        assert admin.test("nobody").status_code == 404
        assert admin.replace("nobody", good).status_code == 404
        assert admin.delete("nobody").status_code == 404
        r = admin.delete("filehook", queued=None)
        assert r.status_code == 400 and r.json()["field"] == "queued"
        # nothing was created by all of that
        assert sorted(admin.names()) == ["audit-archive", "filehook"]
        assert admin.create(good).status_code == 201
        e = err(good, status=409)
        assert "already exists" in e["error"]
        r = admin.replace("v", dict(good, name="w"))
        assert r.status_code == 400 and r.json()["field"] == "name"
    finally:
        rcv.down()


def test_secrets_are_write_only(gateway_factory, tmp_path):
    rcv = receiver()
    try:
        gw, audit_path = start(gateway_factory, tmp_path)
        admin = Admin(gw)
        answers = []
        r = admin.create(hook_entry("s", rcv.url("/s")))
        assert r.status_code == 201
        answers.append(r.text)
        e = hook_entry("s", rcv.url("/s"))
        e["configuration"]["secret"] = "******"
        r = admin.replace("s", e)
        answers.append(r.text)
        r = admin.test("s")
        assert r.status_code == 200 and r.json()["outcome"] == "ok", r.text
        answers.append(r.text)
        for path in ("/api/integrations", "/api/integrations/s", "/api/types", "/api/audit?limit=1000",
                     "/metrics", "/", "/ui/app.js", "/api/whoami"):
            answers.append(admin.get(path).text)
        one = admin.one("s")
        assert one["configuration"]["secret"] == "******"
        for text in answers:
            assert HOOK_SECRET not in text
        wait_audit(audit_path, lambda e: e["content"]["requestUri"] == "/api/integrations/s/test")
        with open(audit_path, encoding="utf-8") as f:
            assert HOOK_SECRET not in f.read()
        assert HOOK_SECRET not in gw.stderr()
        # the file holds it, for the gateway only
        api_file = os.path.join(gw.data_dir, "api-integrations.yaml")
        assert stat.S_IMODE(os.stat(api_file).st_mode) == 0o600
        with open(api_file, encoding="utf-8") as f:
            assert HOOK_SECRET in f.read()
        # the mask cannot stand in for a secret that was never stored
        e = hook_entry("t", rcv.url("/t"))
        e["configuration"]["secret"] = "******"
        r = admin.create(e)
        assert r.status_code == 400 and r.json()["field"] == "configuration.secret"
        # the request used the stored secret all along
        assert all(q.header("Authorization") == "Bearer " + HOOK_SECRET for q in rcv.requests)
    finally:
        rcv.down()


def test_send_test_event(gateway_factory, tmp_path):
    rcv = receiver()
    try:
        gw, audit_path = start(gateway_factory, tmp_path)
        admin = Admin(gw)
        assert admin.create(hook_entry("t", rcv.url("/t"), output="json")).status_code == 201
        r = admin.test("t")
        assert r.status_code == 200, r.text
        res = r.json()
        assert res["outcome"] == "ok" and res["status"] == 200 and res["error"] is None
        assert res["latency_ms"] > 0 and len(res["event_id"]) == 32
        assert res["response"] == '{"ok":true}'
        ev = rcv.wait(lambda r: r.events("/t"), 10)[0]
        assert ev["id"] == res["event_id"] and ev["name"] == "siemrelay test event"
        assert ev["labels"]["siemrelay.test"] == "true" and ev["type"] == "policy"
        # not through the queue: counters and status stay as they were
        one = admin.one("t")
        assert one["counters"]["received"] == 0 and one["counters"]["delivered"] == 0
        assert one["status"] == "Not Connected"

        rcv.fail(401, body=b'{"error":"bad token ' + HOOK_SECRET.encode() + b'"}')
        res = admin.test("t").json()
        assert res["outcome"] == "reject" and res["status"] == 401
        assert HOOK_SECRET not in json.dumps(res) and "******" in res["response"]
        rcv.down()
        res = admin.test("t").json()
        assert res["outcome"] == "retry" and res["status"] is None and res["error"]
        ev = wait_audit(audit_path, lambda e: e["content"]["requestUri"] == "/api/integrations/t/test")
        assert ev[0]["name"] == "test" and ev[0]["content"]["responseStatusCode"] == 200
    finally:
        rcv.down()


def test_delete_delivers_the_queue_first_or_discards_it(gateway_factory, tmp_path):
    rcv = receiver()
    try:
        gw, audit_path = start(gateway_factory, tmp_path)
        admin = Admin(gw)
        assert admin.create(hook_entry("d", rcv.url("/d"))).status_code == 201
        rcv.fail(503)
        post(gw, policy_events(4, "queued"))
        wait_until(lambda: admin.one("d")["queue"]["events"] == 4, 10)

        r = admin.delete("d", "deliver")
        assert r.status_code == 202, r.text
        assert r.json() == {"deleting": "d", "queued": "deliver", "remaining": 4}
        one = admin.one("d")
        assert one["deleting"] is True
        assert admin.test("d").status_code == 409
        assert admin.replace("d", hook_entry("d", rcv.url("/d"))).status_code == 409
        # it takes no new events while it delivers what it has
        post(gw, policy_events(3, "late"))
        rcv.ok()
        rcv.wait(lambda r: len(r.events("/d")) >= 4, 15)
        wait_until(lambda: admin.one("d") is None, 10)
        ids = [e["id"] for e in rcv.events("/d")]
        assert sorted(set(ids)) == ["queued-%d" % i for i in range(4)], ids
        with open(os.path.join(gw.data_dir, "api-integrations.yaml"), encoding="utf-8") as f:
            assert '"d"' not in f.read()
        wait_audit(audit_path, lambda e: e["content"]["responseStatusCode"] == 202)
        wait_audit(audit_path, lambda e: e["content"]["username"] == "siemrelay"
                   and e["content"]["requestMethod"] == "DELETE")

        # discard: counted, logged, the disk spool removed
        e = hook_entry("k", rcv.url("/k"))
        e["queue"] = {"type": "disk"}
        assert admin.create(e).status_code == 201
        spool = os.path.join(gw.data_dir, "spool", "k")
        assert os.path.isdir(spool)
        rcv.down()
        post(gw, policy_events(6, "dropped"))
        wait_until(lambda: admin.one("k")["queue"]["events"] == 6, 10)
        r = admin.delete("k", "discard")
        assert r.status_code == 200 and r.json()["discarded"] == 6, r.text
        assert not os.path.exists(spool)
        gw.wait_stderr(r"integration 'k' deleted by alice: 6 queued event\(s\) discarded")
    finally:
        rcv.down()


def test_persists_across_restart_and_check_reads_the_file(tmp_path):
    rcv = receiver()
    sink, _ = audit_sink(tmp_path)
    conf = dict(FAST, admin=tokens_conf())
    gw = Gateway(tmp_path / "gw", integrations=[sink], conf=conf)
    try:
        gw.start()
        admin = Admin(gw)
        assert admin.create(hook_entry("p", rcv.url("/p"))).status_code == 201
        gw.stop()

        gw2 = Gateway(tmp_path / "gw", integrations=[sink], conf=conf)
        gw2.start()
        try:
            admin = Admin(gw2)
            one = admin.one("p")
            assert one and one["source"] == "api" and one["configuration"]["secret"] == "******"
            post(gw2, policy_events(2, "restarted"))
            rcv.wait(lambda r: len(r.events("/p")) == 2, 10)
            assert rcv.requests[-1].header("Authorization") == "Bearer " + HOOK_SECRET
            # SIGHUP keeps it too, and is audited
            gw2.proc.send_signal(signal.SIGHUP)
            gw2.wait_stderr("configuration reloaded")
            assert admin.one("p") is not None
            assert admin.call("POST", "/api/reload").json() == {"reloaded": True}
            kept = admin.audit()
            assert any(k["content"]["requestMethod"] == "SIGHUP" for k in kept)
            assert any(k["content"]["requestUri"] == "/api/reload" for k in kept)
        finally:
            gw2.stop()

        api_file = os.path.join(gw.data_dir, "api-integrations.yaml")
        for args in (["-c", gw.config_path, "-c", api_file], ["-c", gw.config_path]):
            p = run_cli(["--check"] + args, cwd=str(tmp_path / "gw"))
            assert p.returncode == 0, p.stderr
            doc = json.loads(p.stdout)
            names = [i["name"] for i in doc["integrations"]]
            assert names.count("p") == 1, names
            p_conf = [i for i in doc["integrations"] if i["name"] == "p"][0]["configuration"]
            assert p_conf["secret"] == "******" and HOOK_SECRET not in p.stdout
    finally:
        gw.kill()
        rcv.down()
