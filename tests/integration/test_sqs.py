"""SQS against a strict local SendMessageBatch endpoint (receivers/sqs.py)
that verifies every SigV4 signature with botocore: messages field by field
(exact 64-bit integers, message attributes, DelaySeconds), temporary
credentials, at most 10 entries and 256 KiB per request, a user batch over the
limit split on BatchRequestTooLong, partial failures (only the failed entries
with SenderFault false sent again, SenderFault true dead-lettered),
throttling and 5xx retried, credential and queue errors ending in Error
with nothing lost, other errors dead-lettered; and the example's --check."""

import json
import time

import pytest

from dest_util import reached
from google_util import all_samples, assert_no_secrets, conf, integration, json_exact, policy_events, post
from harness import repo_path, run_cli
from receivers.sqs import SqsReceiver

AKID, SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TMP_AKID, TMP_SECRET, TMP_TOKEN = "ASIAEXAMPLETEMP00001", "tmp/Secret+Key0123456789abcdefABCDEF", \
    "IQoJb3JpZ2luX2VjEXAMPLE//session+token=="
ACCOUNT, QUEUE, REGION = "123456789012", "sysdig-events", "eu-west-1"


@pytest.fixture
def sqs():
    q = SqsReceiver(credentials={AKID: (SECRET, None), TMP_AKID: (TMP_SECRET, TMP_TOKEN)}, region=REGION,
                    queues={(ACCOUNT, QUEUE)}).start()
    yield q
    q.stop()


def sqs_integration(q, name="sqs", batch=None, **extra):
    c = {"ownerAccount": ACCOUNT, "region": REGION, "queue": QUEUE, "accessKey": AKID, "accessSecret": SECRET,
         "endpoint": q.url("")}
    c.update(extra)
    return integration(name, "SQS", c, batch=batch)


def entries(req):
    return json_exact(req.body)["Entries"]


def wait_messages(q, n, timeout=15.0):
    return q.wait(lambda: len(q.messages) >= n and list(q.messages), timeout, "fewer than %d message(s)" % n)


def padded(n, pad):
    return [dict(e, pad="p" * pad) for e in policy_events(n)]


def test_messages_field_by_field_signed(sqs, gateway_factory):
    attrs = [{"key": "source", "value": "sysdig"}, {"key": "site", "value": "lab \u00e9"}]
    gw = gateway_factory([sqs_integration(sqs, headers=attrs, delay=5)], conf=conf())
    sent = [e for name, e in all_samples() if name != "platform_audit.json"]
    post(gw, sent[:2])
    wait_messages(sqs, 2)
    post(gw, sent[2:])
    got = wait_messages(sqs, len(sent))
    time.sleep(0.2)
    assert len(sqs.messages) == len(sent)

    by_id = {}
    for m in got:
        body = json_exact(m["body"])
        by_id[body["id"]] = (m, body)
    for e in sent:
        m, body = by_id[e["id"]]
        assert body == e  # every field, integers exact
        assert m["attributes"] == {"source": {"DataType": "String", "StringValue": "sysdig"},
                                   "site": {"DataType": "String", "StringValue": "lab \u00e9"}}
        assert m["delay"] == 5
    policy = next(m for m, b in by_id.values() if b["type"] == "policy")
    assert '"timestamp":1606322948648718268' in policy["body"]

    sends = sqs.of("send")
    assert len(sends) >= 2 and all(r.status == 200 for r in sends)
    assert sqs.signature_checks == len(sends)  # botocore recomputed every one
    for r in sends:
        ids = [e["Id"] for e in entries(r)]
        assert ids == [str(i) for i in range(len(ids))]
        assert json_exact(r.body)["QueueUrl"] == sqs.queue_url(ACCOUNT, QUEUE)
        assert r.header("x-amz-security-token") is None
    assert_no_secrets(gw, SECRET)


def test_temporary_credentials(sqs, gateway_factory):
    gw = gateway_factory([sqs_integration(sqs, accessKey=TMP_AKID, accessSecret=TMP_SECRET,
                                          sessionToken=TMP_TOKEN)], conf=conf())
    sent = policy_events(3)
    post(gw, sent)
    wait_messages(sqs, 3)
    sends = sqs.of("send")
    assert all(r.status == 200 for r in sends)
    assert all(r.header("x-amz-security-token") == TMP_TOKEN for r in sends)
    assert all("x-amz-security-token" in r.header("authorization") for r in sends)
    assert_no_secrets(gw, TMP_SECRET, TMP_TOKEN)


def test_at_most_10_entries_and_256_kib(sqs, gateway_factory):
    # A user batch asking for more than SQS takes: capped at 10 entries.
    gw = gateway_factory([sqs_integration(sqs, batch={"max_events": 50, "linger": "300ms"})], conf=conf())
    small = policy_events(25)
    post(gw, small)
    wait_messages(sqs, 25)
    counts = [len(entries(r)) for r in sqs.of("send")]
    assert max(counts) == 10 and sum(counts) == 25

    big = padded(20, 40000)  # about 42 KB each: six make a full batch
    for i in range(0, 20, 5):
        post(gw, big[i:i + 5])
    wait_messages(sqs, 45)
    later = sqs.of("send")[len(counts):]
    for r in later:
        payload = sum(len(e["MessageBody"].encode()) for e in entries(r))
        assert payload <= 262144
    assert all(r.status == 200 for r in sqs.of("send"))
    assert sorted(json_exact(b)["id"] for b in sqs.bodies()) == sorted(e["id"] for e in small + big)


def test_batch_over_the_payload_limit_is_split(sqs, gateway_factory):
    gw = gateway_factory([sqs_integration(sqs, batch={"max_bytes": "1MiB", "linger": "300ms"})], conf=conf())
    sent = padded(8, 60000)
    for i in range(0, 8, 2):
        post(gw, sent[i:i + 2])
    wait_messages(sqs, 8)
    replies = [r.reply for r in sqs.of("send") if r.status == 400]
    assert replies and all(d["__type"] == "com.amazonaws.sqs#BatchRequestTooLong" for d in replies)
    assert sorted(json_exact(b)["id"] for b in sqs.bodies()) == sorted(e["id"] for e in sent)
    assert gw.deadletters() == []


def test_partial_failure_resends_only_the_failed_entries(sqs, gateway_factory):
    gw = gateway_factory([sqs_integration(sqs, batch={"linger": "300ms"})], conf=conf())
    sent = policy_events(5)
    retry_id, bad_id = sent[1]["id"], sent[3]["id"]
    sqs.fail_entries(lambda body: retry_id in body, code="InternalError", sender_fault=False)
    sqs.fail_entries(lambda body: bad_id in body, code="InvalidParameterValue", sender_fault=True,
                     message="Message contains invalid characters.")
    post(gw, sent)
    wait_messages(sqs, 4)
    dl = gw.wait_deadletter(lambda d: bad_id in json.dumps(d))
    time.sleep(0.3)

    sends = sqs.of("send")
    assert [len(entries(r)) for r in sends] == [5, 1]
    assert retry_id in entries(sends[1])[0]["MessageBody"]
    assert sorted(json_exact(b)["id"] for b in sqs.bodies()) == sorted(e["id"] for e in sent if e["id"] != bad_id)
    assert dl["_file"] == "sqs.jsonl" and dl["stage"] == "rejected"
    assert "InvalidParameterValue (sender fault)" in dl["reason"]
    assert len(gw.deadletters()) == 1


def test_credentials_and_queue_errors_end_in_error_and_keep_the_events(sqs, gateway_factory):
    gw = gateway_factory([
        sqs_integration(sqs, name="badsecret", accessSecret="not/the+right-secret0000000000000000000"),
        sqs_integration(sqs, name="badkey", accessKey="AKIAUNKNOWNKEY000000"),
        sqs_integration(sqs, name="noqueue", queue="no-such-queue"),
    ], conf=conf())
    post(gw, policy_events(1))
    for name in ("badsecret", "badkey", "noqueue"):
        sqs.wait(lambda n=name: reached(gw, n, "Error"), message="%s never in Error" % name)
    types = {r.reply["__type"].split("#")[1] for r in sqs.of("send")}
    assert types == {"SignatureDoesNotMatch", "InvalidClientTokenId", "QueueDoesNotExist"}
    assert gw.deadletters() == [] and sqs.messages == []
    assert_no_secrets(gw, "not/the+right-secret0000000000000000000")


def test_throttling_and_server_errors_are_retried(sqs, gateway_factory):
    gw = gateway_factory([sqs_integration(sqs)], conf=conf())
    sqs.fail("send", 400, {"__type": "com.amazon.coral.availability#ThrottlingException", "message": "Rate exceeded"})
    sqs.fail("send", 500, {"__type": "com.amazon.coral.service#InternalFailure",
                           "message": "The request processing has failed because of an unknown error."})
    sent = policy_events(2)
    post(gw, sent)
    wait_messages(sqs, 2)
    assert [r.status for r in sqs.of("send")] == [400, 500, 200]
    assert gw.deadletters() == []


def test_other_errors_dead_letter(sqs, gateway_factory):
    gw = gateway_factory([sqs_integration(sqs)], conf=conf())
    sqs.fail("send", 400, {"__type": "com.amazonaws.sqs#InvalidParameterValue",
                           "message": "Value for parameter MessageBody is invalid."})
    sent = policy_events(1)
    post(gw, sent)
    dl = gw.wait_deadletter(lambda d: sent[0]["id"] in json.dumps(d))
    assert dl["reason"] == "HTTP 400: InvalidParameterValue: Value for parameter MessageBody is invalid."


def test_example_config_checks():
    r = run_cli(["--check", "-c", repo_path("config", "examples", "sqs.yaml")])
    assert r.returncode == 0, r.stderr
    assert "configuration OK" in r.stderr
    assert '"accessSecret":"******"' in r.stdout
