"""SENTINEL against a strict local Entra ID, Logs Ingestion API and Data
Collector API (receivers/azure.py): records field by field with exact 64-bit
integers and TimeGenerated, gzip, the client-credentials token fetched once
and reused, a refused token renewed and the batch resent at once, 413 split
under the 1 MB limit, retryable errors retried (Retry-After honoured),
permanent ones dead-lettered, configuration errors ending in Error; the
SharedKey signature checked with Python's hmac, Log-Type and
time-generated-field, the 32 KB field limit; and the example's --check."""

import base64
import time

import pytest

from dest_util import reached
from google_util import all_samples, assert_no_secrets, conf, integration, policy_events, post  # noqa: F401
from harness import repo_path, run_cli
from receivers.azure import AzureReceiver

CLIENT_SECRET = "entra-secret-8Q~kX.7vZ"
KEY = base64.b64encode(b"sentinel-test-workspace-key-0001").decode()


@pytest.fixture
def azure():
    a = AzureReceiver(client_secret=CLIENT_SECRET, shared_key=KEY).start()
    yield a
    a.stop()


def logs_ingestion(az, name="sentinel", batch=None, **extra):
    c = {"endpoint": az.url(""), "dcrImmutableId": az.dcr, "streamName": az.stream, "tenantId": az.tenant,
         "clientId": az.client_id, "clientSecret": CLIENT_SECRET, "authorityHost": az.authority()}
    c.update(extra)
    return integration(name, "SENTINEL", c, batch=batch)


def data_collector(az, name="legacy", batch=None, **extra):
    c = {"workspaceId": az.workspace, "secret": KEY, "endpoint": az.url("")}
    c.update(extra)
    return integration(name, "SENTINEL", c, batch=batch)


def events():
    """The samples but platform audit (test_platform_audit.py has it)."""
    return [e for name, e in all_samples() if name != "platform_audit.json"]


def padded(n, pad):
    return [dict(e, pad="p" * pad) for e in policy_events(n)]


def test_logs_ingestion_field_by_field_and_token_reuse(azure, gateway_factory):
    gw = gateway_factory([logs_ingestion(azure)], conf=conf())
    sent = events()
    post(gw, sent[:2])
    azure.wait_records("logs", 2)
    post(gw, sent[2:])
    got = azure.wait_records("logs", len(sent))
    time.sleep(0.2)
    assert len(azure.records("logs")) == len(sent)

    by_id = {r["id"]: r for r in got}
    for e in sent:
        rec = dict(by_id[e["id"]])
        assert rec.pop("TimeGenerated") == e["timestampRFC3339Nano"]
        assert rec == e  # every field, integers exact
    policy = next(r for r in got if r["type"] == "policy")
    assert policy["timestamp"] == 1606322948648718268 and isinstance(policy["timestamp"], int)
    assert policy["content"]["fields"]["group.gid"] == "8589935592"

    # One token for every call, asked for with the monitor scope.
    assert [r.status for r in azure.of("token")] == [200]
    calls = azure.of("logs")
    assert len(calls) >= 2 and all(r.status == 204 for r in calls)
    token = azure.tokens.issued[0]
    assert all(r.header("authorization") == "Bearer " + token for r in calls)
    assert all(r.header("content-encoding") is None for r in calls)
    assert_no_secrets(gw, CLIENT_SECRET)


def test_logs_ingestion_gzip(azure, gateway_factory):
    gw = gateway_factory([logs_ingestion(azure, compress=True)], conf=conf())
    sent = padded(30, 500)
    post(gw, sent)
    got = azure.wait_records("logs", len(sent))
    assert sorted(r["id"] for r in got) == sorted(e["id"] for e in sent)
    calls = azure.of("logs", 204)
    assert calls and all(r.header("content-encoding") == "gzip" for r in calls)
    assert sum(len(r.body) for r in calls) < 30 * 500 / 2  # compressed


def test_refused_token_renewed_and_batch_resent_at_once(azure, gateway_factory):
    # Slow retries: a resend after a failed attempt would take 3 s.
    slow = conf(delivery={"backoff": "3s", "backoff_max": "3s", "inhibit": "10s"})
    gw = gateway_factory([logs_ingestion(azure)], conf=slow)
    post(gw, policy_events(1))
    azure.wait_records("logs", 1)
    azure.expire_tokens()
    post(gw, policy_events(1))
    azure.wait_records("logs", 2)

    assert [r.status for r in azure.of("token")] == [200, 200]
    logs = azure.of("logs")
    assert [r.status for r in logs] == [204, 401, 204]
    assert logs[2].time - logs[1].time < 1.0, "the batch waited for a backoff"
    assert logs[1].header("authorization") == "Bearer " + azure.tokens.issued[0]
    assert logs[2].header("authorization") == "Bearer " + azure.tokens.issued[1]
    assert not reached(gw, "sentinel", "Warning")
    assert gw.deadletters() == []


def test_413_splits_under_the_limit_and_a_lone_oversize_event_is_dead_lettered(gateway_factory):
    az = AzureReceiver(client_secret=CLIENT_SECRET, max_call_bytes=20000).start()
    try:
        gw = gateway_factory([logs_ingestion(az, batch={"max_events": 40, "max_bytes": "4MiB",
                                                        "linger": "300ms"})], conf=conf())
        sent = padded(24, 3000)
        big = padded(1, 30000)[0]
        post(gw, sent + [big])
        got = az.wait_records("logs", len(sent))
        dl = gw.wait_deadletter(lambda d: big["id"] in d.get("payload", "") or big["id"] in str(d))
        assert "413" in dl["reason"]
        time.sleep(0.3)
        assert sorted(r["id"] for r in got) == sorted(e["id"] for e in sent)
        statuses = [r.status for r in az.of("logs")]
        assert 413 in statuses and statuses.count(204) >= 2
        assert all(len(r.body) <= 20000 for r in az.of("logs", 204))
        assert len(gw.deadletters()) == 1
    finally:
        az.stop()


def test_retryable_errors_retried_permanent_ones_dead_lettered(azure, gateway_factory):
    gw = gateway_factory([logs_ingestion(azure, batch={"max_events": 1, "linger": "20ms"})], conf=conf())
    azure.fail("logs", 503, {"error": {"code": "ServiceUnavailable", "message": "busy"}})
    azure.fail("logs", 429, {"error": {"code": "TooManyRequests", "message": "slow down"}},
               headers={"Retry-After": "1"})
    first = policy_events(1)
    post(gw, first)
    azure.wait_records("logs", 1)
    logs = azure.of("logs")
    assert [r.status for r in logs] == [503, 429, 204]
    assert logs[2].time - logs[1].time >= 0.9, "Retry-After was not honoured"

    azure.fail("logs", 400, {"error": {"code": "InvalidPayload", "message": "column mismatch"}})
    bad = policy_events(1)
    post(gw, bad)
    dl = gw.wait_deadletter(lambda d: bad[0]["id"] in str(d))
    assert "HTTP 400: InvalidPayload: column mismatch" in dl["reason"]
    assert len(azure.records("logs")) == 1


def test_forbidden_ends_in_error_and_keeps_the_events(azure, gateway_factory):
    gw = gateway_factory([logs_ingestion(azure)], conf=conf())
    azure.fail("logs", 403, {"error": {"code": "OperationFailed",
                                       "message": "The authentication token provided does not have access"}},
               count=3)
    sent = policy_events(2)
    post(gw, sent)
    azure.wait(lambda: reached(gw, "sentinel", "Error"), message="no Error status")
    assert gw.deadletters() == []
    got = azure.wait_records("logs", 2, timeout=10)  # after the 2 s inhibition
    assert sorted(r["id"] for r in got) == sorted(e["id"] for e in sent)


def test_entra_refusing_the_client_secret_dead_letters(azure, gateway_factory):
    entry = logs_ingestion(azure, clientSecret="not-the-secret-42")
    gw = gateway_factory([entry], conf=conf())
    sent = policy_events(1)
    post(gw, sent)
    dl = gw.wait_deadletter(lambda d: sent[0]["id"] in str(d))
    assert "invalid_client" in dl["reason"]
    assert [r.status for r in azure.of("token")] == [401]
    assert azure.of("logs") == []
    assert_no_secrets(gw, "not-the-secret-42")


def test_data_collector_shared_key_field_by_field(azure, gateway_factory):
    gw = gateway_factory([data_collector(azure, logType="SysdigTest")], conf=conf())
    sent = events()
    big = policy_events(1)[0]
    big["content"]["output"] = "o" * 40000
    post(gw, sent[:3])
    azure.wait_records("collector", 3)
    post(gw, sent[3:] + [big])
    got = azure.wait_records("collector", len(sent))
    dl = gw.wait_deadletter(lambda d: big["id"] in str(d))
    assert dl["stage"] == "encode" and "'content'" in dl["reason"] and "32768" in dl["reason"]
    time.sleep(0.2)

    assert len(azure.records("collector")) == len(sent)
    by_id = {r["id"]: r for r in got}
    for e in sent:
        assert by_id[e["id"]] == e  # as received, integers exact
    calls = azure.of("collector")
    assert calls and all(r.status == 200 for r in calls)
    for r in calls:
        assert r.header("log-type") == "SysdigTest"
        assert r.header("time-generated-field") == "timestampRFC3339Nano"
        # The receiver recomputed the signature with hmac; check it once more here.
        assert r.header("authorization") == "SharedKey %s:%s" % (
            azure.workspace, azure.signature(len(r.body), r.header("x-ms-date")))
    assert azure.truncated == [] and azure.time_fallback == []
    assert azure.of("token") == []
    assert_no_secrets(gw, KEY)


def test_data_collector_wrong_key_ends_in_error(azure, gateway_factory):
    other = base64.b64encode(b"some-other-workspace-key-000001").decode()
    gw = gateway_factory([data_collector(azure, secret=other)], conf=conf())
    post(gw, policy_events(1))
    azure.wait(lambda: reached(gw, "legacy", "Error"), message="no Error status")
    assert {r.status for r in azure.of("collector")} == {403}
    assert all(r.reply["Error"] == "InvalidAuthorization" for r in azure.of("collector"))
    assert gw.deadletters() == []
    assert_no_secrets(gw, other)


def test_data_collector_too_large_splits(gateway_factory):
    az = AzureReceiver(shared_key=KEY, collector_max_bytes=15000, collector_too_large_status=413).start()
    try:
        gw = gateway_factory([data_collector(az, batch={"max_events": 20, "linger": "300ms"})], conf=conf())
        sent = padded(12, 3000)
        post(gw, sent)
        got = az.wait_records("collector", len(sent))
        assert sorted(r["id"] for r in got) == sorted(e["id"] for e in sent)
        assert 413 in [r.status for r in az.of("collector")]
        assert all(len(r.body) <= 15000 for r in az.of("collector", 200))
        assert gw.deadletters() == []
    finally:
        az.stop()


def test_example_config_checks():
    r = run_cli(["--check", "-c", repo_path("config", "examples", "sentinel.yaml")])
    assert r.returncode == 0, r.stderr
    assert "configuration OK" in r.stderr
    assert "change-me" not in r.stdout  # the client secret is masked


def test_both_apis_at_once_is_a_configuration_error(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("integrations:\n- name: s\n  type: SENTINEL\n  configuration:\n"
                 "    workspaceId: w\n    secret: %s\n    clientId: c\n" % KEY)
    r = run_cli(["--check", "-c", str(p)])
    assert r.returncode != 0
    assert "not both" in r.stderr and KEY not in r.stderr
