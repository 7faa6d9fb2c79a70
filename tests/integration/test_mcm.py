"""MCM against a strict local IBM Cloud IAM and Findings API
(receivers/ibm.py): the IAM token fetched once and reused, the note looked up
and created once (a 409 counting as existing), one occurrence per policy event
verified field by field (the event in reference_data with exact 64-bit
integers), activity audit not sent, a refused token renewed and the occurrence
resent at once, a deleted note created again, 409 on an occurrence counted as
delivered, retryable errors retried, 400 dead-lettered, an API key IAM does not
know dead-lettered; and the example's --check."""

import json
import time

import pytest

from dest_util import reached
from google_util import all_samples, assert_no_secrets, conf, integration, policy_events, post
from harness import repo_path, run_cli
from receivers.ibm import IbmReceiver

API_KEY = "ibm-api-key-Z3x9-Q7w2"
ACCOUNT, PROVIDER, NOTE = "id-mycluster-account", "sysdig-secure", "policy-event"


@pytest.fixture
def ibm():
    r = IbmReceiver(api_keys={API_KEY: ACCOUNT}).start()
    yield r
    r.stop()


def mcm(r, name="mcm", **extra):
    c = {"endpoint": r.findings_url(), "apiKey": API_KEY, "iamUrl": r.iam_url()}
    c.update(extra)
    return integration(name, "MCM", c)


def wait_occurrences(r, n, timeout=15.0):
    return r.wait(lambda: len(r.occurrence_list()) >= n and r.occurrence_list(), timeout,
                  "fewer than %d occurrence(s)" % n)


def kinds(r):
    return [(q.kind, q.status) for q in r.requests]


def test_note_created_once_and_occurrences_field_by_field(ibm, gateway_factory):
    gw = gateway_factory([mcm(ibm)], conf=conf())
    sent = [e for _name, e in all_samples()]
    policy = next(e for e in sent if e["type"] == "policy")
    more = policy_events(2, severity=5)
    post(gw, sent)
    wait_occurrences(ibm, 1)
    post(gw, more)
    got = wait_occurrences(ibm, 3)
    time.sleep(0.3)
    assert len(ibm.occurrence_list()) == 3  # policy events only

    assert kinds(ibm)[:5] == [("token", 200), ("note", 404), ("create_note", 200), ("occurrence", 200),
                              ("occurrence", 200)]
    assert [q.kind for q in ibm.requests].count("token") == 1
    assert [q.kind for q in ibm.requests].count("create_note") == 1
    assert len(ibm.tokens.issued) == 1
    token = ibm.tokens.issued[0]
    assert all(q.header("authorization") == "Bearer " + token for q in ibm.requests if q.kind != "token")

    note = ibm.notes[(ACCOUNT, PROVIDER, NOTE)]
    assert note["kind"] == "FINDING" and note["id"] == NOTE
    assert note["reported_by"]["id"] == PROVIDER and note["finding"]["severity"] == "HIGH"

    by_id = {o["reference_data"]["id"]: o for o in got}
    occ = by_id[policy["id"]]
    assert occ["id"] == policy["id"] + "-" + NOTE
    assert occ["note_name"] == "%s/providers/%s/notes/%s" % (ACCOUNT, PROVIDER, NOTE)
    assert occ["kind"] == "FINDING"
    assert occ["finding"]["severity"] == "HIGH"
    assert "Notable Filesystem Changes" in occ["finding"]["next_steps"][0]["title"]
    assert occ["context"] == {"service_name": "Sysdig Secure", "resource_type": "Host",
                              "resource_name": "ardbox", "resource_id": "08:00:27:54:f3:9d"}
    assert occ["reference_data"] == policy  # every field, integers exact
    assert occ["reference_data"]["timestamp"] == 1606322948648718268
    for e in more:
        assert by_id[e["id"]]["finding"]["severity"] == "MEDIUM"
        assert by_id[e["id"]]["reference_data"] == e
    assert_no_secrets(gw, API_KEY)


def test_existing_note_is_reused_and_a_409_on_creation_counts_as_existing(ibm, gateway_factory):
    ibm.add_note(ACCOUNT, PROVIDER, "seeded")
    ibm.fail("note", 404, {"errors": [{"code": "not_found", "message": "gone"}]})  # "missing", yet...
    ibm.add_note(ACCOUNT, PROVIDER, NOTE)  # ...it exists: the creation meets 409
    gw = gateway_factory([mcm(ibm), mcm(ibm, name="seeded", noteName="seeded")], conf=conf())
    sent = policy_events(1)
    post(gw, sent)
    wait_occurrences(ibm, 2)
    creates = ibm.of("create_note")
    assert [q.status for q in creates] == [409]
    occs = ibm.occurrence_list()
    assert {o["id"] for o in occs} == {sent[0]["id"] + "-" + NOTE, sent[0]["id"] + "-seeded"}
    notes = {o["note_name"] for o in occs}
    assert notes == {"%s/providers/%s/notes/%s" % (ACCOUNT, PROVIDER, n) for n in (NOTE, "seeded")}
    assert gw.deadletters() == []


def test_refused_token_renewed_and_occurrence_resent_at_once(ibm, gateway_factory):
    slow = conf(delivery={"backoff": "3s", "backoff_max": "3s", "inhibit": "10s"})
    gw = gateway_factory([mcm(ibm)], conf=slow)
    post(gw, policy_events(1))
    wait_occurrences(ibm, 1)
    ibm.expire_tokens()
    post(gw, policy_events(1))
    wait_occurrences(ibm, 2)
    occ = ibm.of("occurrence")
    assert [q.status for q in occ] == [200, 401, 200]
    assert occ[2].time - occ[1].time < 1.0, "the occurrence waited for a backoff"
    assert [q.status for q in ibm.of("token")] == [200, 200]
    assert not reached(gw, "mcm", "Warning")


def test_deleted_note_is_created_again(ibm, gateway_factory):
    gw = gateway_factory([mcm(ibm)], conf=conf())
    post(gw, policy_events(1))
    wait_occurrences(ibm, 1)
    ibm.delete_note(ACCOUNT, PROVIDER, NOTE)
    post(gw, policy_events(1))
    wait_occurrences(ibm, 2)
    assert [(k, s) for k, s in kinds(ibm) if k != "token"][-4:] == [
        ("occurrence", 404), ("note", 404), ("create_note", 200), ("occurrence", 200)]
    assert not reached(gw, "mcm", "Warning")  # sent again at once, not after a failed attempt
    assert gw.deadletters() == []


def test_outcomes(ibm, gateway_factory):
    gw = gateway_factory([mcm(ibm)], conf=conf())
    first = policy_events(1)
    post(gw, first)
    wait_occurrences(ibm, 1)

    # An occurrence the API has already (an earlier attempt's answer lost): delivered.
    ibm.fail("occurrence", 409, {"errors": [{"code": "conflict", "message": "exists"}]})
    dup = policy_events(1)
    post(gw, dup)
    ibm.wait(lambda: len(ibm.of("occurrence")) >= 2)

    ibm.fail("occurrence", 503, {"errors": [{"code": "unavailable", "message": "busy"}]})
    ibm.fail("occurrence", 429, {"errors": [{"code": "too_many_requests", "message": "slow down"}]})
    retried = policy_events(1)
    post(gw, retried)
    wait_occurrences(ibm, 2)

    ibm.fail("occurrence", 400, {"errors": [{"code": "bad_request", "message": "finding.severity"}]})
    bad = policy_events(1)
    post(gw, bad)
    dl = gw.wait_deadletter(lambda d: bad[0]["id"] in json.dumps(d))
    assert dl["stage"] == "rejected" and "occurrence: HTTP 400" in dl["reason"]
    time.sleep(0.2)
    assert [q.status for q in ibm.of("occurrence")] == [200, 409, 503, 429, 200, 400]
    assert len(gw.deadletters()) == 1


def test_forbidden_ends_in_error_and_keeps_the_event(ibm, gateway_factory):
    gw = gateway_factory([mcm(ibm, accountId="another-account")], conf=conf())
    sent = policy_events(1)
    post(gw, sent)
    ibm.wait(lambda: reached(gw, "mcm", "Error"), message="no Error status")
    assert {q.status for q in ibm.of("note")} == {403}
    assert gw.deadletters() == [] and ibm.occurrence_list() == []


def test_unknown_api_key_dead_letters(ibm, gateway_factory):
    gw = gateway_factory([mcm(ibm, apiKey="ibm-key-nobody-knows-1")], conf=conf())
    sent = policy_events(1)
    post(gw, sent)
    dl = gw.wait_deadletter(lambda d: sent[0]["id"] in json.dumps(d))
    assert "BXNIM0415E" in dl["reason"]
    assert [q.status for q in ibm.requests] == [400]
    assert_no_secrets(gw, "ibm-key-nobody-knows-1")


def test_example_config_checks():
    r = run_cli(["--check", "-c", repo_path("config", "examples", "mcm.yaml")])
    assert r.returncode == 0, r.stderr
    assert "configuration OK" in r.stderr
    assert '"apiKey":"******"' in r.stdout
