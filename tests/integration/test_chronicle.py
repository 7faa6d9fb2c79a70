"""CHRONICLE against a strict local Ingestion API and token endpoint: v1
(API key in the query) and v2 (service-account JWT, customer id,
namespace), entries field by field (the log text is the event, 64-bit
integers exact, ts_rfc3339 exact to the nanosecond), policy events and
platform audit only, one token for every batch, a refused token renewed at once, retryable
errors retried, permanent ones dead-lettered, requests under 1 MB and a
larger batch split, and the example's --check."""

import json

from google_util import (assert_no_secrets, conf, google, integration, json_exact,  # noqa: F401
                         all_samples, policy_events, post)
from harness import repo_path, run_cli
from receivers.google import CHRONICLE_MAX_BYTES, SCOPE_CHRONICLE

API_KEY = "AIzaSyTest_chronicle-key-0123456789"
CUSTOMER = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


def v1(g, name="chr1", **extra):
    c = {"region": "europe", "apiKey": API_KEY, "endpoint": g.url()}
    c.update(extra)
    return integration(name, "CHRONICLE", c)


def v2(g, sa, name="chr2", batch=None, **extra):
    c = {"region": "europe-west2", "chronicleCustomerId": CUSTOMER, "namespace": "prod-eu",
         "credentialsOAuth2": sa.json(token_uri="https://oauth2.googleapis.com/token"),
         "tokenUri": g.token_url, "endpoint": g.url()}
    c.update(extra)
    return integration(name, "CHRONICLE", c, batch=batch)


def check_entries(g, sent):
    got = {}
    for e in g.entries:
        ev = json_exact(e["log_text"])
        got[ev["id"]] = (e, ev)
    assert len(got) == len(g.entries), "an entry arrived twice"
    for s in sent:
        e, ev = got[s["id"]]
        assert ev == s  # every field, integers exact
        assert e["ts"] == s["timestampRFC3339Nano"] == "2020-11-25T16:49:08.648718268Z"
        assert e["log_type"] == "SYSDIG"
        assert set(e["entry"]) == {"log_text", "ts_rfc3339"}
    return got


def test_v1_api_key(google, gateway_factory):
    google.add_chronicle_key(API_KEY)
    gw = gateway_factory([v1(google)], conf=conf())
    sent = [e for _name, e in all_samples()]
    post(gw, sent)
    taken = [e for e in sent if e["type"] in ("policy", "audittrail")]
    google.wait(lambda: len(google.entries) == len(taken))
    check_entries(google, taken)
    for r in google.of("chronicle_v1"):
        assert r.status == 200
        assert r.query == {"key": [API_KEY]}
        assert set(json.loads(r.body)) == {"log_type", "entries"}
    assert google.of("token") == []
    assert gw.deadletters() == []
    # Policy events and platform audit (the default channels): the activity
    # audit samples never left.
    assert sorted(json_exact(e["log_text"])["type"] for e in google.entries) == ["audittrail", "policy"]


def test_v1_wrong_key_is_dead_lettered(google, gateway_factory):
    google.add_chronicle_key("another-key")
    gw = gateway_factory([v1(google)], conf=conf())
    evs = policy_events(1)
    post(gw, evs)
    dl = gw.wait_deadletter(lambda d: d["integration"] == "chr1")
    assert dl["reason"].startswith("HTTP 400: INVALID_ARGUMENT: API key not valid")
    assert json_exact(dl["record"]["log_text"])["id"] == evs[0]["id"]
    assert_no_secrets(gw, API_KEY)


def test_v2_oauth_token_reused_and_renewed(google, gateway_factory):
    sa = google.add_service_account()
    google.add_chronicle_customer(CUSTOMER)
    gw = gateway_factory([v2(google, sa)], conf=conf(delivery={"backoff": "5s", "backoff_max": "5s"}))
    first = policy_events(3)
    post(gw, first)
    google.wait(lambda: len(google.entries) == 3)
    second = policy_events(2)
    post(gw, second)
    google.wait(lambda: len(google.entries) == 5)
    assert [r.status for r in google.of("token")] == [200]
    claims = google.of("token")[0].claims
    assert claims["scope"] == SCOPE_CHRONICLE and claims["aud"] == google.token_url
    assert claims["iss"] == sa.email
    reqs = google.of("chronicle_v2")
    assert len(reqs) >= 2 and len({r.token for r in reqs}) == 1
    for r in reqs:
        body = json.loads(r.body)
        assert body["customer_id"] == CUSTOMER and body["namespace"] == "prod-eu"
        assert body["log_type"] == "SYSDIG"
    check_entries(google, first + second)

    # A token that stopped working: one 401, a new token, the same batch at once.
    google.expire_tokens()
    third = policy_events(1)
    post(gw, third)
    google.wait(lambda: len(google.entries) == 6)
    tail = [(r.kind, r.status) for r in google.requests[-3:]]
    assert tail == [("chronicle_v2", 401), ("token", 200), ("chronicle_v2", 200)], tail
    refused, retried = google.of("chronicle_v2")[-2:]
    assert retried.body == refused.body and retried.time - refused.time < 2.0
    assert gw.deadletters() == []
    assert_no_secrets(gw, sa.info()["private_key"])


def test_v2_retry_and_reject(google, gateway_factory):
    sa = google.add_service_account()
    google.add_chronicle_customer(CUSTOMER)
    gw = gateway_factory([v2(google, sa)], conf=conf())
    google.fail("chronicle_v2", 429, "RESOURCE_EXHAUSTED", "Quota exceeded")
    google.fail("chronicle_v2", 500, "INTERNAL", "Internal error")
    evs = policy_events(2)
    post(gw, evs)
    google.wait(lambda: len(google.entries) == 2)
    assert [r.status for r in google.of("chronicle_v2")] == [429, 500, 200]
    google.fail("chronicle_v2", 403, "PERMISSION_DENIED", "The caller does not have permission")
    bad = policy_events(1)
    post(gw, bad)
    dl = gw.wait_deadletter(lambda d: d["integration"] == "chr2")
    assert "PERMISSION_DENIED" in dl["reason"]
    assert json_exact(dl["record"]["log_text"])["id"] == bad[0]["id"]


def big_policy_events(n, size):
    return policy_events(n, pad="y" * size)


def test_requests_stay_under_1_MB(google, gateway_factory):
    sa = google.add_service_account()
    google.add_chronicle_customer(CUSTOMER)
    gw = gateway_factory([v2(google, sa, batch={"linger": "1s"})],
                         conf=conf(inputs={"http": {"max_body": "8MiB"}}))
    evs = big_policy_events(30, 100000)  # 3 MB
    post(gw, evs)
    google.wait(lambda: len(google.entries) == 30, timeout=20)
    reqs = google.of("chronicle_v2")
    assert all(r.status == 200 for r in reqs)
    assert len(reqs) >= 4 and max(len(r.body) for r in reqs) <= CHRONICLE_MAX_BYTES
    check_entries(google, evs)


def test_a_batch_over_1_MB_is_split(google, gateway_factory):
    sa = google.add_service_account()
    google.add_chronicle_customer(CUSTOMER)
    gw = gateway_factory([v2(google, sa, batch={"max_bytes": "8MiB", "linger": "1s"})],
                         conf=conf(inputs={"http": {"max_body": "8MiB"}}))
    evs = big_policy_events(16, 100000)  # 1.6 MB in one batch
    post(gw, evs)
    google.wait(lambda: len(google.entries) == 16, timeout=20)
    statuses = [r.status for r in google.of("chronicle_v2")]
    assert statuses[0] == 400 and statuses.count(200) >= 2, statuses
    check_entries(google, evs)
    assert gw.deadletters() == []


def test_examples_pass_check(google):
    sa = google.add_service_account()
    p = run_cli(["--check", "-c", repo_path("config", "examples", "chronicle.yaml")],
                env={"GOOGLE_CREDENTIALS_JSON": sa.json(), "CHRONICLE_API_KEY": API_KEY})
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.count("CHRONICLE") >= 2
    assert API_KEY not in p.stdout + p.stderr
    assert sa.info()["private_key"].splitlines()[1] not in p.stdout + p.stderr
