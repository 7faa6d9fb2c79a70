"""inputs.kafka: delivery-tier gateways in one consumer group, on librdkafka's
mock cluster (3 brokers, a topic of 8 partitions; tests/peers/kafka_mock.c),
events produced with kcat. Checked:

  - three gateways in one group share the partitions, and 200,000 produced
    ids all arrive (duplicates from the joins' rebalances are counted and
    reported);
  - one gateway killed with SIGKILL mid-run and another started later:
    every id arrives at least once; the duplicates are counted and
    reported;
  - a receiver down for a while: the partitions are paused, the gateway
    stays in the group (no rebalance past the session timeout), the lag
    in /api/inputs/kafka and /metrics grows; after recovery everything is
    delivered and the lag returns to 0;
  - events of one partition arrive in partition order at each integration;
  - a broker down and back: no loss;
  - edge -> Kafka -> delivery tier: HTTP in at an edge gateway, its KAFKA
    integration to the cluster, a delivery-tier gateway consuming it into
    the strict HEC receiver: every event byte-identical;
  - --check masks the SASL password and raw property values and refuses a
    section without topics.
"""

import collections
import json
import os
import subprocess
import time

import pytest

from delivery_util import receivers  # noqa: F401 (a fixture)
from harness import compact, file_integration, run_cli, samples, summary_of, wait_until, webhook
from peers import kafka_mock
from peers.kafka_mock import KCAT, KafkaMock
from receivers.splunk import HecReceiver
from test_fidelity import assert_same

pytestmark = pytest.mark.skipif(kafka_mock.available() is not None,
                                reason=kafka_mock.available() or "")

TOPIC = "events"
PARTITIONS = 8
GROUP = "delivery-tier"
KEYS = 64
FAST = {"backoff": "100ms", "backoff_max": "300ms", "inhibit": "2s", "shutdown_timeout": "5s"}
# A killed member's partitions move after the session timeout: keep it short.
GROUP_PROPS = {"session.timeout.ms": "6000", "heartbeat.interval.ms": "500"}


@pytest.fixture
def cluster(tmp_path):
    km = KafkaMock(brokers=3, topics=["%s:%d" % (TOPIC, PARTITIONS)],
                   log_path=str(tmp_path / "kafka_mock.log")).start()
    yield km
    km.stop()


def event(i):
    """Keyed by host: one host's events share a partition, `seq` counts them."""
    return {"id": "e-%07d" % i, "type": "command", "timestamp": 1700000000000000000 + i,
            "hostname": "host-%02d" % (i % KEYS), "seq": i // KEYS}


def produce(km, first, n):
    lines = "".join("host-%02d\t%s\n" % (i % KEYS, compact(event(i)))
                    for i in range(first, first + n))
    p = subprocess.run([KCAT, "-P", "-b", km.bootstrap, "-t", TOPIC, "-K", "\t",
                        "-X", "queue.buffering.max.messages=1000000"],
                       input=lines.encode(), capture_output=True, timeout=300)
    assert p.returncode == 0, p.stderr.decode(errors="replace")


def kafka_conf(km, **kw):
    conf = {"brokers": km.bootstrap, "topics": TOPIC, "group_id": GROUP,
            "commit_interval": "200ms", "lag_interval": "300ms", "properties": dict(GROUP_PROPS)}
    conf.update(kw)
    return conf


def tier(factory, km, integrations, **kw):
    return factory(integrations, http=False,
                   conf={"inputs": {"kafka": kafka_conf(km, **kw)}, "delivery": dict(FAST)})


def read_file(path):
    """Events written so far by a FILE integration (complete lines only)."""
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        data = f.read()
    return [json.loads(line) for line in data.split(b"\n")[:-1] if line]


def kafka_doc(gw):
    r = gw.admin_get("/api/inputs/kafka")
    assert r.status_code == 200, r.text
    return r.json()


def wait_all(paths, n, timeout):
    """Waits until the files together hold every id below n; returns the
    events of each file."""
    def done():
        per = [read_file(p) for p in paths]
        ids = {e["id"] for evs in per for e in evs}
        return per if len(ids) >= n else None
    return wait_until(done, timeout, interval=0.5,
                      message="not every produced id arrived within %ds" % timeout)


def check_ids(per_file, n):
    """Every id exactly as produced (field by field), at least once.
    Returns the number of duplicates."""
    seen = collections.Counter()
    for evs in per_file:
        for e in evs:
            i = int(e["id"][2:])
            assert 0 <= i < n, e
            assert e == event(i), (e, event(i))
            seen[e["id"]] += 1
    assert len(seen) == n
    return sum(seen.values()) - n


def check_order(evs):
    """One integration's events: each host's in produced order."""
    last = {}
    for e in evs:
        h = e["hostname"]
        assert e["seq"] > last.get(h, -1), "host %s: seq %d after %d" % (h, e["seq"], last.get(h))
        last[h] = e["seq"]


def total_lag(gw):
    return sum(p["lag"] for p in kafka_doc(gw)["partitions"] if p["lag"] >= 0)


# ---- the delivery tier ----------------------------------------------------------

def test_three_gateways_share_partitions_and_every_id_arrives(cluster, gateway_factory, tmp_path):
    n = 200000
    produce(cluster, 0, n)
    paths = [str(tmp_path / ("out-%d.ndjson" % k)) for k in range(3)]
    gws = [tier(gateway_factory, cluster, [file_integration("out", p)]) for p in paths]
    per = wait_all(paths, n, 240)
    dups = check_ids(per, n)
    # Shared: every member has partitions, together all eight, each once.
    def shared():
        docs = [kafka_doc(g) for g in gws]
        owned = [(p["topic"], p["partition"]) for d in docs for p in d["partitions"]]
        return docs if all(d["partitions_assigned"] > 0 for d in docs) and \
            sorted(owned) == [(TOPIC, i) for i in range(PARTITIONS)] else None
    docs = wait_until(shared, 30, interval=0.5, message="the partitions are not shared by all three")
    # Everything is committed once delivered: no lag left anywhere.
    wait_until(lambda: all(total_lag(g) == 0 for g in gws), 30, interval=0.5,
               message="lag did not return to 0")
    # Rebalances go on re-reading what was not committed yet after the last
    # id first arrived: count what arrived once everything is committed.
    def settled():
        consumed = sum(d["messages"] for d in (kafka_doc(g) for g in gws))
        dups = check_ids([read_file(p) for p in paths], n)
        return (consumed, dups) if consumed == n + dups else None
    consumed, dups = wait_until(settled, 30, interval=0.5,
                                message="messages consumed and events delivered do not agree")
    print("\n3 gateways, %d ids: %s partitions per member, %d messages consumed, "
          "%d duplicate(s) (rebalances as members joined)"
          % (n, [d["partitions_assigned"] for d in docs], consumed, dups))


def test_sigkill_mid_run_loses_nothing(cluster, gateway_factory, tmp_path):
    n = 60000
    produce(cluster, 0, n)
    paths = [str(tmp_path / ("out-%d.ndjson" % k)) for k in range(3)]
    a = tier(gateway_factory, cluster, [file_integration("out", paths[0])], max_batch_events=200)
    b = tier(gateway_factory, cluster, [file_integration("out", paths[1])], max_batch_events=200)
    wait_until(lambda: len(read_file(paths[0])) > 5000, 60, interval=0.2,
               message="the first member delivered nothing")
    a.proc.kill()  # SIGKILL: nothing is flushed, nothing committed on the way out
    a.proc.wait(timeout=10)
    a.stopped = True
    produce(cluster, n, 20000)
    time.sleep(2)
    c = tier(gateway_factory, cluster, [file_integration("out", paths[2])], max_batch_events=200)
    per = wait_all(paths, n + 20000, 180)
    dups = check_ids(per, n + 20000)
    print("\nSIGKILL mid-run: %d ids produced, %d by the killed member before it died, "
          "%d after by the others, %d duplicate(s)"
          % (n + 20000, len(per[0]), len(per[1]) + len(per[2]), dups))
    wait_until(lambda: total_lag(b) == 0 and total_lag(c) == 0, 30, interval=0.5,
               message="lag did not return to 0")


def test_receiver_down_pauses_stays_in_group_then_delivers(cluster, gateway_factory,
                                                          receivers):  # noqa: F811
    rcv = receivers()
    hook = webhook("hook", rcv.url("/hook"), batch={"max_events": 200, "linger": "20ms"})
    hook["queue"] = {"type": "memory", "max_bytes": "64KiB", "overflow": "block"}
    gw = tier(gateway_factory, cluster, [hook])
    produce(cluster, 0, 2000)
    rcv.wait_events(2000, timeout=60)
    rcv.down()
    produce(cluster, 2000, 10000)
    doc = wait_until(lambda: (lambda d: d if d["paused"] else None)(kafka_doc(gw)), 30,
                     interval=0.2, message="the partitions were not paused")
    rebalances = doc["rebalances"]
    lag1 = wait_until(lambda: (lambda l: l if l > 1000 else None)(total_lag(gw)), 20,
                      interval=0.3, message="no lag while paused")
    produce(cluster, 12000, 5000)
    wait_until(lambda: total_lag(gw) >= lag1 + 5000, 20, interval=0.3,
               message="the lag did not grow while paused")
    metrics = gw.admin_get("/metrics").text
    assert "siemrelay_kafka_input_paused 1" in metrics
    assert 'siemrelay_kafka_consumer_lag{topic="events",partition="0"}' in metrics
    # Past the session timeout (6 s): still in the group, still assigned.
    time.sleep(8)
    doc = kafka_doc(gw)
    assert doc["partitions_assigned"] == PARTITIONS and doc["rebalances"] == rebalances, doc
    assert doc["pauses"] >= 1
    rcv.up()
    got = rcv.wait_events(17000, timeout=120)
    ids = [e["id"] for e in got]
    assert set(ids) == {"e-%07d" % i for i in range(17000)}
    check_order([e for e in got])  # one integration, one member: partition order
    wait_until(lambda: total_lag(gw) == 0 and not kafka_doc(gw)["paused"], 30, interval=0.3,
               message="lag did not return to 0 after recovery")
    print("\nreceiver down: lag grew to %d+ while paused, %d duplicate(s) after recovery"
          % (lag1 + 5000, len(ids) - len(set(ids))))


def test_partition_order_at_each_integration(cluster, gateway_factory, tmp_path):
    n = 30000
    produce(cluster, 0, n)
    a, b = str(tmp_path / "a.ndjson"), str(tmp_path / "b.ndjson")
    tier(gateway_factory, cluster, [file_integration("a", a),
                                    dict(file_integration("b", b), batch={"max_events": 7,
                                                                          "linger": "5ms"})])
    wait_all([a], n, 120)
    wait_all([b], n, 120)
    for path in (a, b):
        evs = read_file(path)
        assert check_ids([evs], n) == 0
        check_order(evs)


def test_broker_down_and_back_loses_nothing(cluster, gateway_factory, tmp_path):
    path = str(tmp_path / "out.ndjson")
    produce(cluster, 0, 20000)
    tier(gateway_factory, cluster, [file_integration("out", path)], max_batch_events=100)
    wait_until(lambda: len(read_file(path)) > 2000, 60, interval=0.2, message="nothing delivered")
    cluster.down(1)
    time.sleep(3)
    cluster.up(1)
    produce(cluster, 20000, 10000)
    per = wait_all([path], 30000, 180)
    dups = check_ids(per, 30000)
    print("\nbroker 1 down for 3 s: all 30000 ids, %d duplicate(s)" % dups)


# ---- edge -> Kafka -> delivery tier ---------------------------------------------------

FORWARDER = {"local_forwarder": {"enabled": True,
                                 "transmit_message_types": ["POLICY_EVENTS", "SECURE_AUDIT"]}}
HEC_TOKEN = "0f4f6b9e-8f5e-4c1d-9a53-2b7d9e0c1a44"


def test_edge_to_kafka_to_delivery_tier_byte_identical(cluster, gateway_factory):
    hec = HecReceiver(tokens={HEC_TOKEN: None}).start()
    try:
        edge = gateway_factory([{"name": "to-kafka", "type": "KAFKA",
                                 "batch": {"max_events": 100, "linger": "20ms"},
                                 "configuration": {"brokers": cluster.bootstrap, "topic": TOPIC,
                                                   "keyField": "id"}}],
                               conf=dict(FORWARDER, delivery=dict(FAST)))
        tier(gateway_factory, cluster,
             [{"name": "hec", "type": "SPLUNK", "channels": ["SECURE_EVENTS_POLICIES",
                                                             "ACTIVITY_AUDIT"],
               "batch": {"max_events": 100, "linger": "20ms"},
               "configuration": {"ServiceURL": hec.url(), "ServiceToken": HEC_TOKEN}}])
        sent = []
        for name, _, obj in samples():
            if obj.get("type") == "audittrail":
                continue  # platform audit: not a channel of these integrations
            for j in range(20):
                e = dict(obj)
                e["id"] = "%s-%02d" % (name, j)
                sent.append(e)
        lines = [compact(e) for e in sent]
        r = edge.post("".join(line + "\n" for line in lines).encode("utf-8"),
                      content_type="application/x-ndjson")
        assert r.status_code == 200 and summary_of(r)["accepted"] == len(sent), r.text
        got = hec.wait_for(len(sent), timeout=60)
        by_id = {}
        for env in got:
            by_id.setdefault(env.event["id"], env)
        assert set(by_id) == {e["id"] for e in sent}
        for e, line in zip(sent, lines):
            env = by_id[e["id"]]
            assert_same(e, env.event)
            start = env.raw.index('"event":') + len('"event":')
            assert env.raw[start:-1] == line, "not byte-identical:\n%s\n%s" % (env.raw, line)
    finally:
        hec.stop()


# ---- --check ----------------------------------------------------------------------------

def test_check_masks_secrets_and_refuses_missing_topics(tmp_path):
    conf = tmp_path / "k.yaml"
    conf.write_text("inputs:\n  kafka:\n    brokers: 127.0.0.1:9092\n    topics: [a, b]\n"
                    "    sasl_mechanism: SCRAM-SHA-512\n    username: relay\n"
                    "    password: pw-do-not-print-3141\n"
                    "    properties: {sasl.oauthbearer.config: tok-do-not-print-2718}\n"
                    "integrations: []\n")
    p = run_cli(["--check", "-c", str(conf)])
    assert p.returncode == 0, p.stderr
    assert "do-not-print" not in p.stdout + p.stderr
    settings = json.loads(p.stdout)["settings"]["inputs"]["kafka"]
    assert settings["enabled"] is True and settings["topics"] == ["a", "b"]
    assert settings["password"] == "******"
    assert settings["properties"] == {"sasl.oauthbearer.config": "******"}
    conf.write_text("inputs:\n  kafka:\n    brokers: 127.0.0.1:9092\nintegrations: []\n")
    p = run_cli(["--check", "-c", str(conf)])
    assert p.returncode != 0 and "'topics'" in p.stderr, p.stderr
    conf.write_text("inputs:\n  kafka:\n    brokers: 127.0.0.1:9092\n    topics: a\n"
                    "    sasl_mechanism: PLAIN\n    password: pw-do-not-print-3141\n"
                    "integrations: []\n")
    p = run_cli(["--check", "-c", str(conf)])
    assert p.returncode != 0 and "username" in p.stderr, p.stderr
    assert "do-not-print" not in p.stderr
