"""PUBSUB against a strict local Pub/Sub and token endpoint: messages field
by field (base64 data decoded, 64-bit integers exact, attributes, ordering
key), the service-account JWT verified independently and its token reused
across batches, a refused token renewed and the batch sent again at once,
retryable errors retried, permanent ones dead-lettered, the 1000-message
and 10 MB limits, refused credentials, and the example's --check."""

import base64
import json
import time

from google_util import (assert_no_secrets, conf, google, integration, json_exact,  # noqa: F401
                         all_samples, policy_events, post)
from harness import repo_path, run_cli
from receivers.google import SCOPE_PUBSUB, ServiceAccount

PROJECT, TOPIC = "siemrelay-test", "sysdig-events"


def pubsub(g, sa, name="ps", batch=None, **extra):
    c = {"project": PROJECT, "topic": TOPIC, "credentialsJson": sa.json(), "endpoint": g.url()}
    c.update(extra)
    return integration(name, "PUBSUB", c, batch=batch)


def published(g):
    return [(m, json_exact(m["data"])) for m in g.messages]


def test_messages_field_by_field_and_token_reuse(google, gateway_factory):
    sa = google.add_service_account()
    google.add_topic(PROJECT, TOPIC)
    attrs = [{"key": "source", "value": "sysdig"}, {"key": "site", "value": "lab \u00e9"}]
    gw = gateway_factory([pubsub(google, sa, attributes=attrs, orderingKey="node-1")], conf=conf())
    sent = [e for name, e in all_samples() if name != "platform_audit.json"]
    post(gw, sent[:2])
    google.wait(lambda: len(google.messages) >= 2)
    post(gw, sent[2:])
    google.wait(lambda: len(google.messages) >= len(sent))
    time.sleep(0.2)

    got = published(google)
    assert len(got) == len(sent)
    by_id = {e["id"]: (m, e) for m, e in got}
    for e in sent:
        m, back = by_id[e["id"]]
        assert back == e  # every field, integers exact
        assert m["attributes"] == {"source": "sysdig", "site": "lab \u00e9"}
        assert m["ordering_key"] == "node-1"
    policy = next(m for m, e in got if e["type"] == "policy")
    assert b"1606322948648718268" in policy["data"]

    # One token for every publish: fetched once, its JWT checked by PyJWT.
    tokens = google.of("token")
    assert [r.status for r in tokens] == [200]
    claims = tokens[0].claims
    assert claims["iss"] == sa.email and claims["aud"] == google.token_url
    assert claims["scope"] == SCOPE_PUBSUB and claims["exp"] - claims["iat"] == 3600
    publishes = google.of("publish")
    assert len(publishes) >= 2 and all(r.status == 200 for r in publishes)
    assert len({r.token for r in publishes}) == 1
    for r in publishes:
        assert r.path == "/v1/projects/%s/topics/%s:publish" % (PROJECT, TOPIC)
    assert gw.deadletters() == []
    assert_no_secrets(gw, sa.info()["private_key"])


def test_refused_token_is_renewed_and_the_batch_sent_again_at_once(google, gateway_factory):
    sa = google.add_service_account()
    google.add_topic(PROJECT, TOPIC)
    # A long backoff: a resend within it can only be the immediate "again".
    gw = gateway_factory([pubsub(google, sa)], conf=conf(delivery={"backoff": "5s", "backoff_max": "5s"}))
    first = policy_events(1)
    post(gw, first)
    google.wait(lambda: len(google.messages) == 1)
    google.expire_tokens()
    second = policy_events(2)
    post(gw, second)
    google.wait(lambda: len(google.messages) == 3)
    kinds = [(r.kind, r.status) for r in google.requests]
    assert kinds == [("token", 200), ("publish", 200), ("publish", 401), ("token", 200), ("publish", 200)], kinds
    refused, retried = google.of("publish")[1], google.of("publish")[2]
    assert json.loads(refused.answer)["error"]["status"] == "UNAUTHENTICATED"
    assert retried.time - refused.time < 2.0
    assert retried.body == refused.body  # the same batch
    assert sorted(json_exact(m["data"])["id"] for m in google.messages[1:]) == sorted(e["id"] for e in second)
    assert gw.deadletters() == []


def test_retryable_errors_are_retried_permanent_ones_dead_lettered(google, gateway_factory):
    sa = google.add_service_account()
    google.add_topic(PROJECT, TOPIC)
    gw = gateway_factory([pubsub(google, sa)], conf=conf())
    google.fail("publish", 503, "UNAVAILABLE", "The service is currently unavailable.")
    google.fail("publish", 409, "ABORTED", "The operation was aborted.")
    google.fail("publish", 499, "CANCELLED", "The operation was cancelled.")
    evs = policy_events(2)
    post(gw, evs)
    google.wait(lambda: len(google.messages) == 2)
    assert [r.status for r in google.of("publish")] == [503, 409, 499, 200]

    google.fail("publish", 400, "INVALID_ARGUMENT", "Invalid resource name given.")
    bad = policy_events(1)
    post(gw, bad)
    dl = gw.wait_deadletter(lambda d: d["integration"] == "ps")
    assert dl["stage"] == "rejected"
    assert "INVALID_ARGUMENT" in dl["reason"]
    assert json_exact(base64.b64decode(dl["record"]["data"]))["id"] == bad[0]["id"]
    # The next event goes through: a rejected batch does not stop the integration.
    ok = policy_events(1)
    post(gw, ok)
    google.wait(lambda: len(google.messages) == 3)
    assert len(google.of("publish", 400)) == 1


def test_unknown_topic_is_dead_lettered(google, gateway_factory):
    sa = google.add_service_account()
    gw = gateway_factory([pubsub(google, sa, topic="nope-topic")], conf=conf())
    post(gw, policy_events(1))
    dl = gw.wait_deadletter(lambda d: d["integration"] == "ps")
    assert "NOT_FOUND" in dl["reason"]
    assert len(google.of("publish", 404)) == 1


def test_at_most_1000_messages_per_request(google, gateway_factory):
    sa = google.add_service_account()
    google.add_topic(PROJECT, TOPIC)
    # The user's batch asks for more than Pub/Sub takes: the module caps it.
    gw = gateway_factory([pubsub(google, sa, batch={"max_events": 5000, "linger": "1s"})], conf=conf())
    evs = [{"type": "command", "id": "c%05d" % i, "timestamp": 1606322948648718268 + i, "cmdline": "x"}
           for i in range(2500)]
    for i in range(0, len(evs), 500):
        post(gw, evs[i:i + 500])
    google.wait(lambda: len(google.messages) == 2500, timeout=20)
    sizes = [len(json.loads(r.body)["messages"]) for r in google.of("publish")]
    assert max(sizes) == 1000 and sum(sizes) == 2500, sizes
    assert sorted(json_exact(m["data"])["timestamp"] for m in google.messages) == \
        [1606322948648718268 + i for i in range(2500)]
    assert gw.deadletters() == []


def big_events(n, size):
    return [{"type": "command", "id": "b%04d" % i, "timestamp": 1606322948648718268, "pad": "x" * size}
            for i in range(n)]


def test_requests_stay_under_10_MB(google, gateway_factory):
    sa = google.add_service_account()
    google.add_topic(PROJECT, TOPIC)
    gw = gateway_factory([pubsub(google, sa, batch={"linger": "1s"})],
                         conf=conf(inputs={"http": {"max_body": "16MiB"}}))
    evs = big_events(40, 300000)  # 12 MB of data, 16 MB of base64
    post(gw, evs[:20])
    post(gw, evs[20:])
    google.wait(lambda: len(google.messages) == 40, timeout=20)
    reqs = google.of("publish")
    assert all(r.status == 200 for r in reqs)
    assert len(reqs) >= 2 and max(len(r.body) for r in reqs) <= 10000000
    assert gw.deadletters() == []


def test_a_batch_over_10_MB_is_split(google, gateway_factory):
    sa = google.add_service_account()
    google.add_topic(PROJECT, TOPIC)
    gw = gateway_factory([pubsub(google, sa, batch={"max_bytes": "64MiB", "linger": "1s"})],
                         conf=conf(inputs={"http": {"max_body": "16MiB"}}))
    post(gw, big_events(30, 300000))  # about 12 MB of base64 in one batch
    google.wait(lambda: len(google.messages) == 30, timeout=20)
    statuses = [r.status for r in google.of("publish")]
    assert statuses[0] == 400 and statuses.count(200) >= 2, statuses
    assert json.loads(google.of("publish")[0].answer)["error"]["message"].startswith(
        "Request payload size exceeds the limit")
    assert gw.deadletters() == []


def test_refused_credentials_dead_letter_without_leaking_the_key(google, gateway_factory):
    google.add_topic(PROJECT, TOPIC)
    known = google.add_service_account()
    # The same account's email with a key Google never issued: the
    # signature check fails, and the token endpoint says so for good.
    forged = ServiceAccount(known.email, google.token_url)
    gw = gateway_factory([pubsub(google, forged)], conf=conf())
    post(gw, policy_events(1))
    dl = gw.wait_deadletter(lambda d: d["integration"] == "ps")
    assert dl["reason"] == "token endpoint: HTTP 400: invalid_grant: Invalid JWT Signature."
    assert google.of("publish") == []
    assert [r.status for r in google.of("token")] == [400]
    assert_no_secrets(gw, forged.info()["private_key"])


def test_example_passes_check(google):
    sa = google.add_service_account()
    p = run_cli(["--check", "-c", repo_path("config", "examples", "pubsub.yaml")],
                env={"GOOGLE_CREDENTIALS_JSON": sa.json()})
    assert p.returncode == 0, p.stdout + p.stderr
    assert "PUBSUB" in p.stdout
    assert sa.info()["private_key"].splitlines()[1] not in p.stdout + p.stderr
    # A key that is no key fails the check, without quoting it.
    bad = json.dumps(dict(sa.info(), private_key="-----BEGIN PRIVATE KEY-----\nnotakey\n"))
    p = run_cli(["--check", "-c", repo_path("config", "examples", "pubsub.yaml")],
                env={"GOOGLE_CREDENTIALS_JSON": bad})
    assert p.returncode != 0
    assert "private_key cannot be used" in p.stderr
    assert "notakey" not in p.stdout + p.stderr
