"""KAFKA against librdkafka's mock cluster, read back with kcat.

The real gateway produces to a mock cluster on loopback TCP
(tests/peers/kafka_mock.c through peers/kafka_mock.py); kcat consumes what
the brokers stored, and a small Fetch client reads the record batches'
compression codec off the wire. Checked:

  - every sample and the synthetic edge-case event arrive exactly once,
    equal field by field (exact 64-bit integers, unicode, escapes);
  - the key is the event id (murmur2 partitioning as the Java client's), or
    the configured keyField; the configured headers are on every message;
  - the compression codec of every stored batch is the configured one;
  - injected retriable errors (leader moves, timeouts, disconnects) and a
    broker down and back still deliver every event exactly once; a batch
    the producer sends again after a lost acknowledgement carries the same
    producer id, epoch and sequence (what lets a broker drop the copy);
  - a record the broker refuses as too large, or one over message.max.bytes,
    is dead-lettered and the rest delivered;
  - refused authorization is retried, never dead-lettered: the integration
    goes to Error and delivers once the broker accepts again;
  - --check masks the password and the keytab, and refuses bad keys without
    echoing a secret; a GSSAPI keytab is written decoded, 0600 in a 0700
    directory, handed to kinit, and removed at shutdown.
"""

import base64
import json
import os
import time

import pytest

from harness import ALL_CHANNELS, compact, run_cli, samples, strict_loads, summary_of, wait_until
from peers import kafka_mock
from peers.kafka_mock import KafkaMock
from test_fidelity import SYNTHETIC, assert_same

pytestmark = pytest.mark.skipif(kafka_mock.available() is not None,
                                reason=kafka_mock.available() or "")

FORWARDER = {"local_forwarder": {"enabled": True,
                                 "transmit_message_types": ["POLICY_EVENTS", "SECURE_AUDIT"]}}
FAST = {"backoff": "100ms", "backoff_max": "300ms", "inhibit": "2s", "shutdown_timeout": "3s"}
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
HEADERS = {"X-Source": "siemrelay", "Env": "test"}


def kafka(name, brokers, topic, channels=None, batch=None, **configuration):
    conf = {"brokers": brokers, "topic": topic}
    conf.update(configuration)
    return {"name": name, "type": "KAFKA", "channels": list(channels or ALL_CHANNELS),
            "batch": batch if batch is not None else {"max_events": 100, "linger": "50ms"},
            "configuration": conf}


def events(prefix, n, pad=0):
    base = json.loads(dict((name, raw) for name, raw, _ in samples())["audit_command.json"])
    out = []
    for i in range(n):
        e = dict(base)
        e["id"] = "%s-%04d" % (prefix, i)
        if pad:
            e["pad"] = "x" * pad
        out.append(e)
    return out


def post_all(gw, evs):
    body = "".join(compact(e) + "\n" for e in evs).encode("utf-8")
    r = gw.post(body, content_type="application/x-ndjson")
    assert r.status_code == 200, r.text
    assert summary_of(r)["accepted"] == len(evs), r.text


def payloads(msgs):
    return [strict_loads(m["payload"]) for m in msgs]


def wait_messages(km, topic, n, timeout=30):
    return wait_until(lambda: (lambda m: m if len(m) >= n else None)(km.consume(topic)), timeout,
                      interval=0.3, message="fewer than %d messages in %s" % (n, topic))


def once_each(msgs, ids):
    got = [strict_loads(m["payload"])["id"] for m in msgs]
    dups = sorted({i for i in got if got.count(i) > 1})
    assert not dups, "delivered more than once: %r" % dups
    assert sorted(got) == sorted(ids), "missing: %r, unexpected: %r" % (
        sorted(set(ids) - set(got)), sorted(set(got) - set(ids)))


def murmur2(data):
    """Kafka's murmur2 (the Java client's default partitioner)."""
    m, r = 0x5bd1e995, 24
    h = (0x9747b28c ^ len(data)) & 0xffffffff
    n4 = len(data) // 4
    for i in range(n4):
        k = int.from_bytes(data[4 * i:4 * i + 4], "little")
        k = (k * m) & 0xffffffff
        k ^= k >> r
        k = (k * m) & 0xffffffff
        h = (h * m) & 0xffffffff
        h ^= k
    rest = data[4 * n4:]
    if len(rest) >= 3:
        h ^= rest[2] << 16
    if len(rest) >= 2:
        h ^= rest[1] << 8
    if len(rest) >= 1:
        h ^= rest[0]
        h = (h * m) & 0xffffffff
    h ^= h >> 13
    h = (h * m) & 0xffffffff
    h ^= h >> 15
    return h


def state(gw, name):
    try:
        with open(os.path.join(gw.data_dir, "state", name + ".json"), "rb") as f:
            return strict_loads(f.read())
    except (OSError, ValueError):
        return None


def wait_status(gw, name, want, timeout=30):
    return wait_until(lambda: (state(gw, name) or {}).get("status") == want, timeout, interval=0.1,
                      message="integration %s never reached %s (state %r)" % (name, want, state(gw, name)))


@pytest.fixture
def mock_cluster(tmp_path):
    started = []

    def make(brokers=1, topics=()):
        km = KafkaMock(brokers=brokers, topics=topics,
                       log_path=str(tmp_path / ("kafka_mock%d.log" % len(started)))).start()
        started.append(km)
        return km

    yield make
    for km in started:
        km.stop()


# ---- one gateway, every sample, several integrations ----------------------

@pytest.fixture(scope="module")
def env(module_gateway_factory, tmp_path_factory):
    log = str(tmp_path_factory.mktemp("kafka") / "kafka_mock.log")
    topics = ["events:3", "bytype:2"] + ["codec-%s:1" % c for c in CODECS]
    km = KafkaMock(brokers=3, topics=topics, log_path=log).start()
    integrations = [
        kafka("main", km.bootstrap, "events", headers=dict(HEADERS), compression="gzip"),
        kafka("bytype", km.bootstrap.split(","), "bytype", keyField="type"),
    ] + [kafka("c-" + c, km.bootstrap, "codec-" + c, compression=c) for c in CODECS]
    gw = module_gateway_factory(integrations, conf=FORWARDER)
    sent = []
    for name, raw, parsed in samples():
        r = gw.post(raw, content_type="application/json")
        assert r.status_code == 200 and summary_of(r)["accepted"] == 1, (name, r.text)
        sent.append(parsed)
    r = gw.post(SYNTHETIC.encode("utf-8"), content_type="application/json")
    assert r.status_code == 200 and summary_of(r)["accepted"] == 1, r.text
    sent.append(strict_loads(SYNTHETIC.encode("utf-8")))
    yield {"km": km, "gw": gw, "sent": sent}
    gw.stop()
    km.stop()


def test_every_event_arrives_once_and_exactly(env):
    km, sent = env["km"], env["sent"]
    msgs = wait_messages(km, "events", len(sent))
    once_each(msgs, [e["id"] for e in sent])
    got = {p["id"]: p for p in payloads(msgs)}
    for e in sent:
        assert_same(e, got[e["id"]])
        assert type(got[e["id"]]["timestamp"]) is int
    syn = got["5f1e0c2a9b8d7e6f5a4b3c2d1e0f9a8b"]
    assert syn["u64"] == 18446744073709551615 and syn["int64min"] == -9223372036854775808
    assert syn["escaped"] == "caf\u00e9 \U0001F600 \u65e5\u672c" and syn["emptyArr"] == []


def test_key_is_the_event_id_partitioned_by_murmur2(env):
    msgs = wait_messages(env["km"], "events", len(env["sent"]))
    for m in msgs:
        p = strict_loads(m["payload"])
        assert m["key"] == p["id"], m
        # balancer murmur2 (the default) places keys as the Java client does
        assert m["partition"] == (murmur2(m["key"].encode("utf-8")) & 0x7fffffff) % 3, m


def test_configured_headers_on_every_message(env):
    msgs = wait_messages(env["km"], "events", len(env["sent"]))
    for m in msgs:
        h = m.get("headers") or []
        assert dict(zip(h[0::2], h[1::2])) == HEADERS, m


def test_configured_key_field(env):
    km, sent = env["km"], env["sent"]
    msgs = wait_messages(km, "bytype", len(sent))
    once_each(msgs, [e["id"] for e in sent])
    where = {}
    for m in msgs:
        p = strict_loads(m["payload"])
        assert m["key"] == p["type"], m
        assert where.setdefault(m["key"], m["partition"]) == m["partition"], "one key, one partition"
    assert not any(m.get("headers") for m in msgs), "no headers configured there"


@pytest.mark.parametrize("codec", CODECS)
def test_compression_codec_on_the_wire(env, codec):
    km, sent = env["km"], env["sent"]
    topic = "codec-" + codec
    msgs = wait_messages(km, topic, len(sent))
    once_each(msgs, [e["id"] for e in sent])
    got = {p["id"]: p for p in payloads(msgs)}
    for e in sent:
        assert_same(e, got[e["id"]])
    batches = km.batch_codecs(topic, 0)
    assert batches and sum(n for _, n in batches) == len(sent), batches
    assert {c for c, _ in batches} == {codec}, batches


# ---- failures --------------------------------------------------------------

def test_retriable_errors_are_retried_and_delivered_once(mock_cluster, gateway_factory):
    km = mock_cluster(brokers=3, topics=["events:1"])
    gw = gateway_factory([kafka("k", km.bootstrap, "events", properties={"retry.backoff.ms": "50"})],
                         conf={"delivery": dict(FAST)})
    km.errors("produce", "NOT_LEADER_FOR_PARTITION", "LEADER_NOT_AVAILABLE", "REQUEST_TIMED_OUT",
              "NOT_ENOUGH_REPLICAS", "_TRANSPORT", "NOT_ENOUGH_REPLICAS")
    evs = events("retry", 30)
    post_all(gw, evs)
    wait_messages(km, "events", len(evs))
    time.sleep(1)  # a duplicate would arrive late
    once_each(km.consume("events"), [e["id"] for e in evs])
    assert gw.deadletters() == []
    assert (state(gw, "k") or {}).get("status") == "Connected", "librdkafka retried, not the engine"


def test_resent_batch_keeps_its_idempotence_sequence(mock_cluster, gateway_factory):
    """The broker stores a batch but acknowledges it only after the producer
    gave up waiting (socket.timeout.ms) and sent it again. A real broker
    drops the second copy because it carries the same producer id, epoch
    and sequence number; librdkafka 2.0's mock cluster does not check them
    and stores both, so this checks the producer's half of the contract:
    the copies are identical in all three, and once such copies are
    dropped every event is there exactly once."""
    km = mock_cluster(brokers=3, topics=["events:1"])
    leader = [p["leader"] for t in km.metadata("events")["topics"] for p in t["partitions"]][0]
    gw = gateway_factory([kafka("k", km.bootstrap, "events",
                                properties={"socket.timeout.ms": "1000", "retry.backoff.ms": "50"})],
                         conf={"delivery": dict(FAST)})
    warm = events("warm", 2)
    post_all(gw, warm)
    wait_messages(km, "events", len(warm))
    km.broker_errors(leader, "produce", "NO_ERROR", 2500)
    slow = events("slow", 5)
    post_all(gw, slow)
    gw.wait_stderr(r"Timed out ProduceRequest in flight", timeout=15)
    ids = [e["id"] for e in warm + slow]
    wait_messages(km, "events", len(ids), timeout=20)
    time.sleep(1)
    msgs = {m["offset"]: m for m in km.consume("events")}
    seen, kept = {}, []
    for b in km.batches("events", 0):
        ident = (b["producer_id"], b["epoch"], b["sequence"])
        assert b["producer_id"] >= 0 and b["sequence"] >= 0, "not an idempotent batch: %r" % b
        content = [msgs[o]["payload"] for o in range(b["offset"], b["offset"] + b["count"])]
        if ident in seen:
            assert seen[ident] == content, "same sequence, different records"
            continue
        seen[ident] = content
        kept += [msgs[o] for o in range(b["offset"], b["offset"] + b["count"])]
    once_each(kept, ids)
    assert gw.deadletters() == []


def test_broker_down_then_up_delivers_once(mock_cluster, gateway_factory):
    km = mock_cluster(brokers=3, topics=["events:1"])
    leader = [p["leader"] for t in km.metadata("events")["topics"] for p in t["partitions"]][0]
    gw = gateway_factory([kafka("k", km.bootstrap, "events")], conf={"delivery": dict(FAST)})
    warm = events("warm", 3)
    post_all(gw, warm)
    wait_messages(km, "events", 3)
    km.down(leader)
    during = events("down", 20)
    post_all(gw, during)
    time.sleep(2)
    km.up(leader)
    ids = [e["id"] for e in warm + during]
    wait_messages(km, "events", len(ids), timeout=40)
    once_each(km.consume("events"), ids)
    assert gw.deadletters() == []


def test_too_large_is_dead_lettered_and_the_rest_delivered(mock_cluster, gateway_factory):
    km = mock_cluster(topics=["events:1"])
    gw = gateway_factory([kafka("k", km.bootstrap, "events",
                                properties={"message.max.bytes": "8192"})],
                         conf={"delivery": dict(FAST)})
    # Over message.max.bytes: refused by the producer itself.
    big = events("local-big", 1, pad=12000)
    post_all(gw, big)
    dl = gw.wait_deadletter(lambda d: d["record"]["id"] == "local-big-0000", timeout=15)
    assert dl["integration"] == "k" and dl["stage"] == "rejected"
    assert "MSG_SIZE_TOO_LARGE" in dl["reason"], dl
    assert_same(big[0], dl["record"])
    # Refused by the broker.
    km.errors("produce", "MSG_SIZE_TOO_LARGE")
    refused = events("broker-big", 1)
    post_all(gw, refused)
    dl = gw.wait_deadletter(lambda d: d["record"]["id"] == "broker-big-0000", timeout=15)
    assert "MSG_SIZE_TOO_LARGE" in dl["reason"], dl
    fine = events("fine", 5)
    post_all(gw, fine)
    msgs = wait_messages(km, "events", 5)
    once_each(msgs, [e["id"] for e in fine])
    assert len(gw.deadletters()) == 2


def test_authorization_failure_is_retried_into_error_then_delivered(mock_cluster, gateway_factory):
    km = mock_cluster(topics=["events:1"])
    gw = gateway_factory([kafka("k", km.bootstrap, "events")], conf={"delivery": dict(FAST)})
    warm = events("warm", 1)
    post_all(gw, warm)
    wait_messages(km, "events", 1)
    km.errors("produce", *(["TOPIC_AUTHORIZATION_FAILED"] * 50))
    blocked = events("acl", 3)
    post_all(gw, blocked)
    wait_status(gw, "k", "Error", timeout=30)
    st = state(gw, "k")
    assert any("TOPIC_AUTHORIZATION_FAILED" in (h.get("reason") or "") for h in st.get("history", [])) or \
        "TOPIC_AUTHORIZATION_FAILED" in json.dumps(st), st
    assert gw.deadletters() == [], "authorization failures are never dead-lettered"
    km.clear("produce")  # the ACL is fixed
    ids = [e["id"] for e in warm + blocked]
    wait_messages(km, "events", len(ids), timeout=40)
    once_each(km.consume("events"), ids)
    wait_until(lambda: (state(gw, "k") or {}).get("status") in ("Warning", "Connected"), 15)
    assert gw.deadletters() == []


# ---- configuration ---------------------------------------------------------

def write_config(tmp_path, configuration, name="kafka.yaml"):
    import yaml
    conf = {"data_dir": str(tmp_path / "data"),
            "integrations": [{"name": "k", "type": "KAFKA", "channels": ["ACTIVITY_AUDIT"],
                              "configuration": configuration}]}
    p = tmp_path / name
    p.write_text(yaml.safe_dump(conf, sort_keys=False))
    return str(p)


KEYTAB = bytes(range(256)) + b"siemrelay keytab"


def test_check_masks_secrets(tmp_path):
    keytab = base64.b64encode(KEYTAB).decode()
    p = write_config(tmp_path, {"brokers": ["127.0.0.1:9092", "127.0.0.1:9093"], "topic": "t",
                                "isTlsEnabled": True, "saslMechanism": "SCRAM-SHA-512",
                                "username": "u", "password": "pw-very-secret"})
    r = run_cli(["--check", "-c", p])
    assert r.returncode == 0, r.stderr
    assert "pw-very-secret" not in r.stdout + r.stderr and "******" in r.stdout
    p = write_config(tmp_path, {"brokers": "127.0.0.1:9092", "topic": "t", "auth": "GSSAPI",
                                "principal": "svc", "realm": "EXAMPLE.COM", "keytab": keytab,
                                "properties": {"sasl.kerberos.kinit.cmd": "true"}}, "g.yaml")
    r = run_cli(["--check", "-c", p])
    assert r.returncode == 0, r.stderr
    assert keytab[:40] not in r.stdout + r.stderr and "******" in r.stdout


@pytest.mark.parametrize("configuration, message", [
    ({"brokers": "kafka://h:9092", "topic": "t"}, "without a scheme"),
    ({"brokers": "h", "topic": "t"}, "host:port"),
    ({"brokers": "h:9092", "topic": "bad topic"}, "'topic'"),
    ({"brokers": "h:9092", "topic": "t", "auth": "gssapi", "keytab": "AAAA"}, "principal"),
    ({"brokers": "h:9092", "topic": "t", "auth": "gssapi", "principal": "p",
      "keytab": "not*base64-secret"}, "not valid base64"),
    ({"brokers": "h:9092", "topic": "t", "saslMechanism": "PLAIN", "username": "u"}, "password"),
    ({"brokers": "h:9092", "topic": "t", "password": "pw-secret"}, "saslMechanism"),
    ({"brokers": "h:9092", "topic": "t", "properties": {"acks": "1"}}, "cannot set 'acks'"),
    ({"brokers": "h:9092", "topic": "t", "caFile": "/etc/ssl/certs/ca-certificates.crt"},
     "isTlsEnabled"),
    ({"brokers": "h:9092", "topic": "t", "compression": "brotli"}, "compression"),
])
def test_check_refuses_bad_configuration(tmp_path, configuration, message):
    p = write_config(tmp_path, configuration)
    r = run_cli(["--check", "-c", p])
    assert r.returncode != 0
    assert message in r.stderr, r.stderr
    assert "secret" not in r.stderr.replace("'secret'", ""), "a secret was echoed: %s" % r.stderr


def test_example_config_checks():
    from harness import repo_path
    r = run_cli(["--check", "-c", repo_path("config", "examples", "kafka.yaml")],
                env={"KAFKA_PASSWORD": "example-password"})
    assert r.returncode == 0, r.stderr


def test_gssapi_keytab_is_private_and_removed(mock_cluster, gateway_factory, tmp_path):
    km = mock_cluster(topics=["events:1"])
    out = tmp_path / "kinit"
    out.mkdir()
    # librdkafka runs kinit with the keytab path and principal filled in;
    # this one records what it was given instead of asking a KDC. It writes
    # into a folder of its own and renames it into place when complete (it
    # may run again on refresh; the first complete record stays), so the
    # test never reads a half-written file.
    cmd = ("sh -c 'd=%(o)s/run.$$; mkdir $d; echo %%{sasl.kerberos.keytab} > $d/path; "
           "echo %%{sasl.kerberos.principal} > $d/principal; "
           "stat -c %%a %%{sasl.kerberos.keytab} > $d/mode; "
           "stat -c %%a $(dirname %%{sasl.kerberos.keytab}) > $d/dirmode; "
           "cp %%{sasl.kerberos.keytab} $d/keytab; "
           "mv -T $d %(o)s/done 2>/dev/null || rm -rf $d'" % {"o": str(out)})
    gw = gateway_factory([kafka("k", km.bootstrap, "events", auth="gssapi", principal="siemrelay",
                                realm="EXAMPLE.COM", service="kafka-svc",
                                keytab=base64.b64encode(KEYTAB).decode(),
                                properties={"sasl.kerberos.kinit.cmd": cmd})])
    done = out / "done"
    wait_until(lambda: done.is_dir(), 30)
    assert (done / "keytab").read_bytes() == KEYTAB
    assert (done / "mode").read_text().strip() == "600"
    assert (done / "dirmode").read_text().strip() == "700"
    assert (done / "principal").read_text().strip() == "siemrelay@EXAMPLE.COM"
    path = (done / "path").read_text().strip()
    assert os.path.exists(path)
    gw.stop()
    assert not os.path.exists(path) and not os.path.exists(os.path.dirname(path))
