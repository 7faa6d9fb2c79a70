"""ELASTIC: the real gateway against a strict _bulk receiver (receivers/elastic.py).

- every sample (and an event full of 64-bit integers and escapes) is stored
  as one document, equal field by field, under its event id, in the index
  its timestamp names;
- the wire: POST /_bulk, NDJSON, `create` with _index and _id, the final
  newline, filter_path;
- KV_PAIRS as Sysdig defines it; basic, bearer and ApiKey auth;
- per item: 409 counts as delivered (no duplicate), 429/503 retried until
  stored, 400 dead-lettered; an answer lost after storing costs no
  duplicate; 413 split; wrong credentials end in the Error status with
  nothing dead-lettered;
- index date patterns, and --check refusing an index Elasticsearch would.
"""

import base64
import json

import pytest

from dest_util import FORWARDER, Peers, command_events, fast_conf, post_all, post_samples, reached, state
from harness import run_cli, strict_loads, wait_until, yaml_text
from receivers.elastic import ElasticReceiver
from test_fidelity import assert_same

USER, PASSWORD = "elastic", "s3cr3t-pw"
FILTER = "filter_path=errors,error,items.*.status,items.*.error.type,items.*.error.reason"


def elastic(name, url, index="sysdig-%Y.%m.%d", batch=None, **configuration):
    conf = {"endpoint": url, "index": index, "auth": "BASIC_AUTH", "secret": "%s:%s" % (USER, PASSWORD)}
    conf.update(configuration)
    return {"name": name, "type": "ELASTIC", "channels": ["SECURE_EVENTS_POLICIES", "ACTIVITY_AUDIT"],
            "batch": batch or {"max_events": 100, "linger": "50ms"}, "configuration": conf}


@pytest.fixture(scope="module")
def module_clusters():
    c = Peers(ElasticReceiver, auth=("basic", USER, PASSWORD))
    yield c
    c.close()


@pytest.fixture
def clusters():
    c = Peers(ElasticReceiver, auth=("basic", USER, PASSWORD))
    yield c
    c.close()


def bulk_pairs(body):
    lines = body.decode("utf-8").split("\n")
    assert lines[-1] == "", "the body ends with a newline"
    lines = lines[:-1]
    assert len(lines) % 2 == 0
    return [(strict_loads(lines[i]), strict_loads(lines[i + 1])) for i in range(0, len(lines), 2)]


# ---- every sample, exactly -------------------------------------------------------

@pytest.fixture(scope="module")
def env(module_clusters, module_gateway_factory):
    es = module_clusters()
    gw = module_gateway_factory([
        elastic("es", es.url()),
        # API spellings in other cases; Sysdig's KV_PAIRS format
        {"name": "kv", "type": "ELASTIC", "channels": ["SECURE_EVENTS_POLICIES", "ACTIVITY_AUDIT"],
         "batch": {"max_events": 100, "linger": "50ms"},
         "configuration": {"ENDPOINT": es.url("/"), "Index": "kv-%Y", "AUTH": "basic_auth",
                           "Secret": "%s:%s" % (USER, PASSWORD), "format": "kv_pairs"}},
    ], conf=FORWARDER)
    sent = post_samples(gw)
    es.wait_for(2 * len(sent))
    return {"gw": gw, "es": es, "sent": sent}


def test_every_event_is_stored_exactly_once_under_its_id(env):
    es, sent = env["es"], env["sent"]
    docs = es.docs
    for e in sent:
        key = ("sysdig-2020.11.25", e["id"])  # every sample's timestamp is 2020-11-25T16:49:08Z
        assert key in docs, "%s not stored; have %r" % (e["id"], sorted(docs))
        assert_same(e, docs[key])
        assert type(docs[key]["timestamp"]) is int and docs[key]["timestamp"] == e["timestamp"]
    created = es.created
    assert len(created) == len(set(created)) == 2 * len(sent)
    assert env["gw"].deadletters() == []


def test_wire_format(env):
    es = env["es"]
    reqs = [r for r in es.requests if r.status == 200]
    assert reqs
    for r in reqs:
        assert r.method == "POST"
        path, _, query = r.path.partition("?")
        assert path == "/_bulk" and query == FILTER
        assert r.header("content-type") == "application/x-ndjson"
        assert r.header("authorization") == "Basic " + base64.b64encode(
            ("%s:%s" % (USER, PASSWORD)).encode()).decode()
        pairs = bulk_pairs(r.body)
        for action, doc in pairs:
            assert list(action) == ["create"] and set(action["create"]) == {"_index", "_id"}
            assert action["create"]["_id"] == doc["id"]
        # the answer, filtered as asked: statuses only (and errors when any)
        assert r.response == {"errors": False, "items": [{"create": {"status": 201}}] * len(pairs)}


def test_kv_pairs_format(env):
    es, sent = env["es"], env["sent"]
    docs = es.docs
    for e in sent:
        got = docs[("kv-2020", e["id"])]
        want = dict(e)
        if isinstance(e.get("labels"), dict):
            want["labels"] = [{"key": k, "value": v} for k, v in e["labels"].items()]
        if isinstance(e.get("content"), dict) and isinstance(e["content"].get("fields"), dict):
            want["content"] = dict(e["content"])
            want["content"]["fields"] = [{"key": k, "value": v} for k, v in e["content"]["fields"].items()]
        assert_same(want, got)
    policy = docs[("kv-2020", "164ace360cc3cfbc26ec22d61b439500")]
    assert {"key": "group.gid", "value": "8589935592"} in policy["content"]["fields"]
    assert policy["labels"][0] == {"key": "host.hostName", "value": "ardbox"}


def test_check_refuses_index_elasticsearch_would_refuse(tmp_path):
    bad = {"integrations": [elastic("es", "https://es.example:9200", index="Sysdig-%Y.%m.%d")]}
    p = tmp_path / "bad.yaml"
    p.write_text(yaml_text(bad))
    r = run_cli(["--check", "-c", str(p)])
    assert r.returncode != 0
    assert "integration 'es' (ELASTIC)" in r.stderr and "lower case" in r.stderr, r.stderr
    bad["integrations"][0]["configuration"]["index"] = "sysdig-%Q"
    p.write_text(yaml_text(bad))
    r = run_cli(["--check", "-c", str(p)])
    assert r.returncode != 0 and "unknown date field '%Q'" in r.stderr, r.stderr


# ---- auth ------------------------------------------------------------------------

def test_bearer_and_api_key_auth(clusters, gateway_factory):
    bearer = clusters(auth=("bearer", "tok-123"))
    encoded = clusters(auth=("apikey", "VuaCfGcBCdbkQm-e5aOx", "ui2lp2axTNmsyakw9tvNnw"))
    raw = clusters(auth=("apikey", "key-id", "key-secret"))
    gw = gateway_factory([
        elastic("bearer", bearer.url(), auth="BEARER_TOKEN", secret="tok-123"),
        elastic("encoded", encoded.url(), auth="APIKEY", secret=base64.b64encode(
            b"VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw").decode()),
        elastic("raw", raw.url(), auth="ApiKey", secret="key-id:key-secret"),
    ], conf=fast_conf())
    evs = command_events("auth", 2)
    post_all(gw, evs)
    for es in (bearer, encoded, raw):
        docs = es.wait_for(2)
        assert {i for _, i in docs} == {e["id"] for e in evs}
        assert all(r.status == 200 for r in es.requests), es.requests


def test_wrong_credentials_end_in_error_status_and_keep_events(clusters, gateway_factory):
    es = clusters(auth=("basic", USER, "another-password"))
    gw = gateway_factory([elastic("es", es.url())], conf=fast_conf())
    evs = command_events("cred", 3)
    post_all(gw, evs)
    got = es.wait_matching(lambda r: r.status == 401, n=3)
    assert got[0].response["error"]["type"] == "security_exception"
    wait_until(lambda: reached(gw, "es", "Error"), 10, message="never Error: %r" % (state(gw, "es"),))
    assert gw.deadletters() == [] and es.docs == {}
    es.auth = ("basic", USER, PASSWORD)  # the password is fixed on the cluster's side
    docs = es.wait_for(3, timeout=15)
    assert {i for _, i in docs} == {e["id"] for e in evs}
    assert gw.deadletters() == []


# ---- per-item outcomes ----------------------------------------------------------

def test_item_results_409_ok_429_retried_400_dead_lettered(clusters, gateway_factory):
    es = clusters()
    evs = command_events("item", 6)
    ids = [e["id"] for e in evs]
    index = "sysdig-2020.11.25"
    es.seed(index, ids[1], {"seeded": True})
    es.fail_when(lambda d: d.get("id") == ids[2], times=2, status=429)
    es.reject_when(lambda d: d.get("id") == ids[3], status=400, type="mapper_parsing_exception",
                   reason="failed to parse field [pid] of type [long]")
    es.fail_when(lambda d: d.get("id") == ids[4], times=1, status=503, type="unavailable_shards_exception",
                 reason="primary shard is not active")
    gw = gateway_factory([elastic("es", es.url(), batch={"max_events": 100, "linger": "300ms"})],
                         conf=fast_conf())
    post_all(gw, evs)
    dl = gw.wait_deadletter(lambda rec: rec.get("integration") == "es")
    docs = es.wait_for(4)  # 0, 2, 4, 5 created; 1 was there
    wait_until(lambda: len([r for r in es.requests if r.status == 200]) >= 3, 10)
    reqs = es.requests
    assert reqs[0].actions == [(index, i) for i in ids], "one batch of six"
    assert [it["create"]["status"] for it in reqs[0].response["items"]] == [201, 409, 429, 400, 503, 201]
    assert reqs[1].actions == [(index, ids[2]), (index, ids[4])], "only the items to retry go again"
    assert reqs[2].actions == [(index, ids[2])]
    assert [r.response["errors"] for r in reqs[:3]] == [True, True, False]
    assert set(docs) == {(index, i) for i in ids} - {(index, ids[3])}
    assert docs[(index, ids[1])] == {"seeded": True}, "409: the stored document is left alone"
    for i in (0, 2, 4, 5):
        assert_same(evs[i], docs[(index, ids[i])])
    created = es.created
    assert len(created) == len(set(created)) == 4
    # the dead letter: the bulk pair, replayable as is, and the item's error
    assert len(gw.deadletters()) == 1 and dl["stage"] == "rejected"
    (action, doc), = bulk_pairs(dl["record"].encode("utf-8"))
    assert action == {"create": {"_index": index, "_id": ids[3]}}
    assert_same(evs[3], doc)
    assert "mapper_parsing_exception: failed to parse field [pid] of type [long]" in dl["reason"]
    wait_until(lambda: (state(gw, "es") or {}).get("status") == "Warning", 5)
    assert not reached(gw, "es", "Error")


def test_answer_lost_after_storing_costs_no_duplicate(clusters, gateway_factory):
    es = clusters()
    es.respond_with(503, store=True)
    gw = gateway_factory([elastic("es", es.url())], conf=fast_conf())
    evs = command_events("lost", 3)
    post_all(gw, evs)
    es.wait_matching(lambda r: r.status == 200, n=1)
    reqs = es.requests
    assert reqs[0].status == 503 and reqs[1].status == 200
    assert [it["create"]["status"] for it in reqs[1].response["items"]] == [409, 409, 409]
    assert len(es.created) == 3 and len(es.docs) == 3
    assert gw.deadletters() == []
    wait_until(lambda: (state(gw, "es") or {}).get("status") == "Warning", 5)


def test_request_too_large_is_split_and_a_lone_oversize_document_dead_lettered(clusters, gateway_factory):
    evs = command_events("big", 8, pad=600)
    one = len(json.dumps(evs[0])) + 100  # a bulk pair, roughly
    es = clusters(max_content_length=int(one * 2.5))
    gw = gateway_factory([elastic("es", es.url(), batch={"max_events": 100, "linger": "300ms"})],
                         conf=fast_conf())
    post_all(gw, evs)
    docs = es.wait_for(8)
    assert {i for _, i in docs} == {e["id"] for e in evs}
    statuses = [r.status for r in es.requests]
    assert statuses[0] == 413 and 200 in statuses
    assert len(es.created) == 8 and gw.deadletters() == []
    assert not reached(gw, "es", "Error")
    huge = command_events("huge", 1, pad=one * 3)[0]
    post_all(gw, [huge])
    dl = gw.wait_deadletter(lambda rec: rec.get("integration") == "es")
    assert '"_id":"%s"' % huge["id"] in dl["record"] and "413" in dl["reason"]
    assert len(es.created) == 8


# ---- index names ----------------------------------------------------------------

def test_index_date_pattern_uses_the_event_time_in_utc(clusters, gateway_factory):
    es = clusters()
    gw = gateway_factory([elastic("es", es.url(), index="ev-%Y.%m.%d-%H")], conf=fast_conf())
    evs = command_events("when", 4)
    evs[0]["timestamp"] = 1609459200000000000   # 2021-01-01T00:00:00Z
    evs[1]["timestamp"] = 1577836799999999999   # 2019-12-31T23:59:59.999999999Z
    evs[2]["timestamp"] = 1606322948648718268   # 2020-11-25T16:49:08.648718268Z
    del evs[3]["timestamp"]                      # none: the current time
    post_all(gw, evs)
    docs = es.wait_for(4)
    index_of = {i: ix for ix, i in docs}
    assert index_of[evs[0]["id"]] == "ev-2021.01.01-00"
    assert index_of[evs[1]["id"]] == "ev-2019.12.31-23"
    assert index_of[evs[2]["id"]] == "ev-2020.11.25-16"
    assert index_of[evs[3]["id"]].startswith("ev-20")
    for e in evs:
        assert_same(e, docs[(index_of[e["id"]], e["id"])])


def test_event_without_id_gets_a_stable_id(clusters, gateway_factory):
    es = clusters()
    es.respond_with(503, store=True)  # the retry must not store it twice
    gw = gateway_factory([elastic("es", es.url(), index="plain")], conf=fast_conf())
    ev = command_events("noid", 1)[0]
    del ev["id"]
    post_all(gw, [ev])
    es.wait_matching(lambda r: r.status == 200, n=1)
    (key, doc), = es.docs.items()
    assert len(key[1]) == 64 and all(c in "0123456789abcdef" for c in key[1]), key
    assert_same(ev, doc)
    assert [it["create"]["status"] for it in es.requests[1].response["items"]] == [409]


def test_answer_longer_than_the_gateway_reads(clusters, gateway_factory):
    """400 items each refused with a long reason: the answer passes the 64 KiB
    the gateway reads; the items it shows are settled, the rest sent again,
    until every one is dead-lettered exactly once."""
    es = clusters()
    es.reject_when(lambda d: True, reason="failed to parse field [pid] of type [long]: " + "x" * 300)
    gw = gateway_factory([elastic("es", es.url(), batch={"max_events": 500, "linger": "300ms"})],
                         conf=fast_conf())
    evs = command_events("long", 400)
    post_all(gw, evs)
    got = wait_until(lambda: (lambda d: d if len(d) >= 400 else None)(gw.deadletters()), 20,
                     message="not every item was dead-lettered")
    ids = [bulk_pairs(d["record"].encode("utf-8"))[0][0]["create"]["_id"] for d in got]
    assert sorted(ids) == sorted(e["id"] for e in evs), "each item dead-lettered once"
    reqs = es.requests
    assert len(reqs[0].actions) == 400 and len(json.dumps(reqs[0].response)) > 65536
    assert len(reqs) >= 2 and len(reqs[1].actions) < 400, "only the items not yet settled go again"
    assert es.docs == {}
