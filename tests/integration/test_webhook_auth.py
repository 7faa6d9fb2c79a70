"""WEBHOOK authentication and headers, checked by a receiver that verifies
what it gets: BASIC_AUTH, BEARER_TOKEN, SIGNATURE (HMAC-SHA256 of the exact
body, default and custom header), CERTIFICATE through a real nginx that
requires a client certificate, custom headers (list and map forms, reserved
ones not overridable), a refused request dead-lettered, and a 503 retried."""

import base64
import hashlib
import hmac
import json
import re
import time
import urllib.parse

import pytest

from harness import samples, summary_of, wait_until, webhook
from peers.nginx import NginxMTLS, make_pki, nginx_available

BASIC_USER, BASIC_PW = "alice", "p@ss:w0rd-\u00e9"  # a colon and non-ASCII in the password
BEARER = "bearer-tok-8b1f2c"
SIG_SECRET = "hmac-key-5d7e"
SIG_SECRET_2 = "other-hmac-key-91"
ALL_SECRETS = [BASIC_PW, BEARER, SIG_SECRET, SIG_SECRET_2]


def sample_events(prefix):
    out = []
    for name, _raw, parsed in samples():
        e = dict(parsed)
        e["id"] = prefix + e["id"]
        out.append(e)
    return out


def post_all(gw, evs):
    r = gw.post_ndjson(evs)
    assert r.status_code == 200, r.text
    assert summary_of(r)["accepted"] == len(evs)


def assert_delivered(rcv, path, evs, timeout=10):
    got = rcv.wait_for(len(evs), path=path, timeout=timeout)
    by_id = {e["id"]: e for e in got}
    for e in evs:
        assert by_id.get(e["id"]) == e, "%s: event %s missing or altered" % (path, e["id"])


def test_basic_bearer_signature(gateway_factory, receiver_factory):
    rcv = receiver_factory(auth_by_path={
        "/basic": ("basic", BASIC_USER, BASIC_PW),
        "/bearer": ("bearer", BEARER),
        "/sig": ("signature", SIG_SECRET, "X-Siemrelay-Signature"),
        "/sig-json": ("signature", SIG_SECRET, "X-Siemrelay-Signature"),
        "/sig-custom": ("signature", SIG_SECRET_2, "X-Hub-Signature-256"),
    })
    integrations = [
        webhook("basic", rcv.url("/basic"), auth="BASIC_AUTH", secret="%s:%s" % (BASIC_USER, BASIC_PW)),
        webhook("bearer", rcv.url("/bearer"), output="json", auth="BEARER_TOKEN", secret="${HOOK_BEARER}"),
        webhook("sig", rcv.url("/sig"), output="ndjson", auth="SIGNATURE", secret=SIG_SECRET),
        webhook("sig-json", rcv.url("/sig-json"), output="json", auth="SIGNATURE", secret=SIG_SECRET),
        webhook("sig-custom", rcv.url("/sig-custom"), auth="SIGNATURE", secret=SIG_SECRET_2,
                signatureHeader="X-Hub-Signature-256"),
    ]
    gw = gateway_factory(integrations, env={"HOOK_BEARER": BEARER})
    evs = sample_events("auth-")
    post_all(gw, evs)
    for path in ("/basic", "/bearer", "/sig", "/sig-json", "/sig-custom"):
        assert_delivered(rcv, path, evs)
    assert rcv.auth_failures == [], [r.auth_error for r in rcv.auth_failures]

    want_basic = "Basic " + base64.b64encode(("%s:%s" % (BASIC_USER, BASIC_PW)).encode("utf-8")).decode()
    for r in rcv.requests_for("/basic"):
        assert r.header("authorization") == want_basic
    for r in rcv.requests_for("/bearer"):
        assert r.header("authorization") == "Bearer " + BEARER
    for path, secret, header in (("/sig", SIG_SECRET, "X-Siemrelay-Signature"),
                                 ("/sig-json", SIG_SECRET, "X-Siemrelay-Signature"),
                                 ("/sig-custom", SIG_SECRET_2, "X-Hub-Signature-256")):
        for r in rcv.requests_for(path):
            v = r.header(header)
            assert re.fullmatch(r"sha256=[0-9a-f]{64}", v or ""), v
            assert v == "sha256=" + hmac.new(secret.encode(), r.body, hashlib.sha256).hexdigest()
            assert len(r.header_values(header)) == 1
        if path == "/sig-custom":
            assert all(r.header("X-Siemrelay-Signature") is None for r in rcv.requests_for(path))
    # No secret in the logs.
    err = gw.stderr()
    for s in ALL_SECRETS + [want_basic.split()[1]]:
        assert s not in err, "a secret appears in the gateway's log"


def test_custom_headers_and_reserved_ones(gateway_factory, receiver_factory):
    rcv = receiver_factory(auth_by_path={"/reserved": ("bearer", BEARER)})
    integrations = [
        webhook("list", rcv.url("/list"), headers=[{"key": "X-Site", "value": "lab"},
                                                   {"key": "X-Team", "value": "blue team"}]),
        webhook("map", rcv.url("/map"), headers={"X-Env": "prod", "X-Site": "eu-1"}),
        webhook("reserved", rcv.url("/reserved"), auth="BEARER_TOKEN", secret=BEARER,
                headers=[{"key": "authorization", "value": "Bearer evil"},
                         {"key": "Content-Type", "value": "text/plain"},
                         {"key": "X-Ok", "value": "1"}]),
    ]
    gw = gateway_factory(integrations)
    evs = sample_events("hdr-")
    post_all(gw, evs)
    for path in ("/list", "/map", "/reserved"):
        assert_delivered(rcv, path, evs)
    for r in rcv.requests_for("/list"):
        assert r.header("X-Site") == "lab" and r.header("X-Team") == "blue team"
    for r in rcv.requests_for("/map"):
        assert r.header("X-Env") == "prod" and r.header("X-Site") == "eu-1"
    for r in rcv.requests_for("/reserved"):
        assert r.header_values("Authorization") == ["Bearer " + BEARER]
        assert r.header_values("Content-Type") == ["application/x-ndjson"]
        assert r.header("X-Ok") == "1"
    assert rcv.auth_failures == []


def test_refused_credentials_are_dead_lettered(gateway_factory, receiver_factory):
    """The platform answers 401 (wrong token): a reject, not retried, dead-lettered."""
    rcv = receiver_factory(auth=("bearer", BEARER))
    gw = gateway_factory([webhook("wrong", rcv.url("/wrong"), output="json", auth="BEARER_TOKEN",
                                  secret="not-the-token-4411")])
    ev = dict(sample_events("dl-")[0])
    r = gw.post_json(ev)
    assert r.status_code == 200, r.text
    rec = gw.wait_deadletter(lambda d: d.get("integration") == "wrong", timeout=10)
    assert rec["stage"] == "rejected", rec
    assert "401" in rec.get("reason", ""), rec
    assert rcv.auth_failures, "the receiver saw no refused request"
    time.sleep(1.5)  # a reject is not retried
    assert len(rcv.requests_for("/wrong")) == 1
    assert rcv.events("/wrong") == []
    assert "not-the-token-4411" not in gw.stderr()
    assert "not-the-token-4411" not in open(gw.data_dir + "/deadletter/" + rec["_file"], encoding="utf-8").read()


def test_echoed_credentials_are_masked_in_every_encoding(gateway_factory, receiver_factory):
    """A platform that refuses the request and echoes the Basic credential
    (base64), the password percent-encoded and JSON-escaped: the dead letter,
    the log and the error text keep none of them."""
    user, pw = "carol", "s3cr/et\"pass+w0rd"
    cred = base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()
    forms = [
        cred,                                            # Authorization: Basic ...
        cred.rstrip("="),                                # unpadded
        base64.urlsafe_b64encode(pw.encode()).decode(),  # the password alone, URL-safe
        urllib.parse.quote(pw, safe=""),                 # percent-encoded
        json.dumps(pw)[1:-1].replace("/", "\\/"),       # JSON-escaped, '/' too
        pw,
    ]
    rcv = receiver_factory()
    echo = ('{"error":"bad credentials","got":"Basic %s","hint":"%s",'
            '"url":"https://x/?password=%s","pw":"%s","raw":"%s","alone":"%s"}'
            % (forms[0], forms[1], forms[3], forms[4], forms[5].replace('"', ''), forms[2]))
    rcv.respond_with(400, count=1, body=echo.encode())
    gw = gateway_factory([webhook("echo", rcv.url("/echo"), output="json", auth="BASIC_AUTH",
                                  secret="%s:%s" % (user, pw))])
    r = gw.post_json(dict(sample_events("echo-")[0]))
    assert r.status_code == 200, r.text
    rec = gw.wait_deadletter(lambda d: d.get("integration") == "echo", timeout=10)
    assert rec["stage"] == "rejected", rec
    text = open(gw.data_dir + "/deadletter/" + rec["_file"], encoding="utf-8").read()
    assert "bad credentials" in text  # the answer is kept, minus the credentials
    for form in forms:
        assert form not in text, "%r in the dead letter:\n%s" % (form, text)
        assert form not in gw.stderr(), form


def test_503_is_retried_and_delivered_once(gateway_factory, receiver_factory):
    rcv = receiver_factory(auth_by_path={"/retry": ("signature", SIG_SECRET, "X-Siemrelay-Signature")})
    rcv.respond_with(503, count=1)
    gw = gateway_factory([webhook("retry", rcv.url("/retry"), auth="SIGNATURE", secret=SIG_SECRET)])
    evs = sample_events("retry-")[:3]
    post_all(gw, evs)
    assert_delivered(rcv, "/retry", evs, timeout=15)
    reqs = rcv.requests_for("/retry")
    assert [r.status for r in reqs][:2] == [503, 200], [r.status for r in reqs]
    assert reqs[1].time - reqs[0].time >= 0.7, "retried without backoff (~1 s)"
    assert reqs[1].body == reqs[0].body, "the retry sends the same batch"
    assert rcv.auth_failures == []
    time.sleep(0.3)
    assert len(rcv.events("/retry")) == len(evs), "delivered more than once"


# ---- CERTIFICATE through nginx (mutual TLS) ---------------------------------

@pytest.fixture
def mtls(tmp_path, receiver_factory):
    if not nginx_available():
        pytest.skip("/usr/sbin/nginx is not installed")
    rcv = receiver_factory()
    pki = make_pki(tmp_path)
    ng = NginxMTLS(tmp_path, rcv.port, pki).start()
    yield rcv, pki, ng
    ng.stop()


def test_certificate_auth_through_nginx(gateway_factory, mtls):
    rcv, pki, ng = mtls
    integrations = [
        webhook("mtls", ng.url("/with-cert"), output="ndjson", auth="CERTIFICATE",
                certFile=pki.client_cert, keyFile=pki.client_key, caFile=pki.ca_cert,
                headers=[{"key": "X-Site", "value": "lab"}]),
        webhook("mtls-json", ng.url("/with-cert-json"), output="json", auth="CERTIFICATE",
                certFile=pki.client_cert, keyFile=pki.client_key, caCertFile=pki.ca_cert),
        webhook("nocert", ng.url("/no-cert"), output="json", caFile=pki.ca_cert),
    ]
    gw = gateway_factory(integrations)
    evs = sample_events("mtls-")
    post_all(gw, evs)
    assert_delivered(rcv, "/with-cert", evs, timeout=15)
    assert_delivered(rcv, "/with-cert-json", evs, timeout=15)
    for r in rcv.requests_for("/with-cert") + rcv.requests_for("/with-cert-json"):
        assert r.header("X-SSL-Client-Verify") == "SUCCESS"
        assert "CN=%s" % pki.client_cn in (r.header("X-SSL-Client-S-DN") or "")
    for r in rcv.requests_for("/with-cert"):
        assert r.header("X-Site") == "lab"

    # Without a client certificate nginx answers 400 itself: nothing gets through.
    wait_until(lambda: re.search(r'"POST /no-cert HTTP/1\.[01]" 400 ssl_verify=NONE', ng.access_log()), 15,
               message="nginx never refused the integration without a certificate:\n" + ng.access_log())
    assert "client sent no required SSL certificate" in ng.error_log()
    rec = gw.wait_deadletter(lambda d: d.get("integration") == "nocert", timeout=10)
    assert rec["stage"] == "rejected" and "400" in rec.get("reason", ""), rec
    assert rcv.requests_for("/no-cert") == []
