"""Faithful data: what leaves equals what came in.

Every sample in tests/data, and a synthetic event full of unicode, escapes
and 64-bit integers, is posted to the HTTP input and must arrive at a
WEBHOOK (output ndjson and output json) and in a FILE integration equal
field by field (json.loads(sent) == json.loads(received); Python ints are
exact). timestampFormat must change "timestamp" and nothing else, exactly.
"""

import os

import pytest

from harness import (file_integration, samples, strict_loads, summary_of,
                     wait_until, webhook)

# Raw JSON text, so the escapes are exactly what a sender writes.
SYNTHETIC = (
    '{"type":"command","id":"5f1e0c2a9b8d7e6f5a4b3c2d1e0f9a8b",'
    '"timestamp":1606322948648718268,'
    '"text":"caf\u00e9 \u65e5\u672c \U0001F600 \u00fc\u00df",'
    '"escaped":"caf\\u00e9 \\ud83d\\ude00 \\u65e5\\u672c",'
    '"quotes":"say \\"hi\\" \\\\ back\\\\slash\\nnew line\\ttab\\r\\/ \\b\\f",'
    '"control":"\\u0000\\u001f",'
    '"int64max":9223372036854775807,'
    '"int64min":-9223372036854775808,'
    '"neg":-42,'
    '"u64":18446744073709551615,'
    '"float":3.141592653589793,"negfloat":-0.001,"exp":1.5e+300,"zero":0,'
    '"emptyObj":{},"emptyArr":[],"emptyStr":"",'
    '"nested":{"a":{"b":[{},[],[1,-2,{"c":null}],[[[]]]]},"t":true,"f":false,"n":null},'
    '"labels":{"host.hostName":"h\u00f4te-\u65e5\u672c","k\u00e9y":"v"}}'
)


def synthetic_bytes():
    return SYNTHETIC.encode("utf-8")


@pytest.fixture(scope="module")
def env(module_gateway_factory, module_receiver_factory, tmp_path_factory):
    rcv = module_receiver_factory()
    d = tmp_path_factory.mktemp("fidelity-out")
    file_path = os.path.join(str(d), "events.jsonl")
    integrations = [
        webhook("nd", rcv.url("/nd"), output="ndjson"),
        webhook("js", rcv.url("/js"), output="json"),
        file_integration("local", file_path),
        webhook("sec", rcv.url("/sec"), output="ndjson", timestampFormat="seconds"),
        webhook("ms", rcv.url("/ms"), output="ndjson", timestampFormat="milliseconds"),
        webhook("us", rcv.url("/us"), output="json", timestampFormat="microseconds"),
        webhook("ns", rcv.url("/ns"), output="json", timestampFormat="nanoseconds"),
    ]
    gw = module_gateway_factory(integrations, conf={
        "local_forwarder": {"enabled": True, "transmit_message_types": ["POLICY_EVENTS", "SECURE_AUDIT"]}})
    sent = []  # parsed, in send order
    for name, raw, parsed in samples():
        r = gw.post(raw, content_type="application/json")
        assert r.status_code == 200, (name, r.status_code, r.text)
        s = summary_of(r)
        assert (s["accepted"], s["rejected"], s["failed"], s["dropped"]) == (1, 0, 0, 0), (name, s)
        sent.append(parsed)
    syn = strict_loads(synthetic_bytes())  # the test's own text must be valid JSON
    assert syn["u64"] == 18446744073709551615 and syn["escaped"] == "caf\u00e9 \U0001F600 \u65e5\u672c"
    r = gw.post(synthetic_bytes(), content_type="application/json")
    assert r.status_code == 200, r.text
    assert summary_of(r)["accepted"] == 1
    sent.append(strict_loads(synthetic_bytes()))
    return {"gw": gw, "rcv": rcv, "sent": sent, "file": file_path}


def by_id(events):
    out = {}
    for e in events:
        assert isinstance(e, dict), e
        assert e.get("id") not in out, "duplicate delivery of %r" % e.get("id")
        out[e["id"]] = e
    return out


def assert_same(sent, received):
    """Field-by-field equality with a readable diff."""
    if sent == received:
        return
    diffs = []
    for k in sorted(set(sent) | set(received)):
        if sent.get(k, "<absent>") != received.get(k, "<absent>"):
            diffs.append("  %s: sent %r, received %r" % (k, sent.get(k, "<absent>"), received.get(k, "<absent>")))
    raise AssertionError("event %s differs:\n%s" % (sent.get("id"), "\n".join(diffs)))


@pytest.mark.parametrize("path", ["/nd", "/js", "/ns"])
def test_webhook_receives_every_event_exactly(env, path):
    rcv, sent = env["rcv"], env["sent"]
    got = by_id(rcv.wait_for(len(sent), path=path))
    assert {e["id"] for e in sent} <= set(got)
    for e in sent:
        assert_same(e, got[e["id"]])
    # spot checks that matter most
    for e in sent:
        assert type(got[e["id"]]["timestamp"]) is int and got[e["id"]]["timestamp"] == e["timestamp"]


def test_synthetic_edge_cases_survive(env):
    for path in ("/nd", "/js"):
        got = by_id(env["rcv"].wait_for(len(env["sent"]), path=path))
        ev = got["5f1e0c2a9b8d7e6f5a4b3c2d1e0f9a8b"]
        assert ev["u64"] == 18446744073709551615 and type(ev["u64"]) is int
        assert ev["int64max"] == 9223372036854775807
        assert ev["int64min"] == -9223372036854775808
        assert ev["neg"] == -42
        assert ev["text"] == "caf\u00e9 \u65e5\u672c \U0001F600 \u00fc\u00df"
        assert ev["escaped"] == "caf\u00e9 \U0001F600 \u65e5\u672c"
        assert ev["quotes"] == 'say "hi" \\ back\\slash\nnew line\ttab\r/ \b\f'
        assert ev["control"] == "\x00\x1f"
        assert ev["emptyArr"] == [] and isinstance(ev["emptyArr"], list)
        assert ev["emptyObj"] == {} and isinstance(ev["emptyObj"], dict)
        assert ev["nested"] == {"a": {"b": [{}, [], [1, -2, {"c": None}], [[[]]]]}, "t": True, "f": False, "n": None}
        assert ev["float"] == 3.141592653589793 and ev["exp"] == 1.5e300


def test_ndjson_wire_format(env):
    rcv, sent = env["rcv"], env["sent"]
    rcv.wait_for(len(sent), path="/nd")
    reqs = [r for r in rcv.requests_for("/nd") if r.status == 200]
    assert reqs
    for r in reqs:
        assert r.method == "POST"
        assert r.header("content-type", "").split(";")[0].strip() == "application/x-ndjson"
        assert r.body.endswith(b"\n"), "every NDJSON line ends in \\n"
        lines = r.body.split(b"\n")[:-1]
        assert lines and all(l.strip() for l in lines), "no blank lines in an NDJSON batch"
        for l in lines:
            assert isinstance(strict_loads(l), dict)


def test_json_wire_format_one_event_per_request(env):
    rcv, sent = env["rcv"], env["sent"]
    rcv.wait_for(len(sent), path="/js")
    reqs = [r for r in rcv.requests_for("/js") if r.status == 200]
    assert len(reqs) == len(rcv.events("/js")), "output json: one event per POST"
    for r in reqs:
        assert r.method == "POST"
        assert r.header("content-type", "").split(";")[0].strip() == "application/json"
        assert isinstance(strict_loads(r.body), dict), "body is one JSON object"


def read_file_events(path):
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        data = f.read()
    if not data.endswith(b"\n"):
        data = data[: data.rfind(b"\n") + 1]
    return [strict_loads(l) for l in data.split(b"\n") if l.strip()]


def test_file_integration_lines_equal(env):
    sent = env["sent"]
    evs = wait_until(lambda: (lambda e: e if len(e) >= len(sent) else None)(read_file_events(env["file"])),
                     10, message="FILE integration did not write %d lines" % len(sent))
    got = by_id(evs)
    assert {e["id"] for e in sent} <= set(got)
    for e in sent:
        assert_same(e, got[e["id"]])
    with open(env["file"], "rb") as f:
        for line in f.read().split(b"\n"):
            if line:
                assert b"\n" not in line and line.strip() == line, "one compact event per line"


@pytest.mark.parametrize("path,divisor", [("/sec", 10 ** 9), ("/ms", 10 ** 6), ("/us", 10 ** 3), ("/ns", 1)])
def test_timestamp_format_changes_only_timestamp(env, path, divisor):
    sent = env["sent"]
    got = by_id(env["rcv"].wait_for(len(sent), path=path))
    for e in sent:
        r = got[e["id"]]
        assert type(r["timestamp"]) is int, r["timestamp"]
        assert r["timestamp"] == e["timestamp"] // divisor, (e["id"], e["timestamp"], r["timestamp"])
        rest_sent = {k: v for k, v in e.items() if k != "timestamp"}
        rest_got = {k: v for k, v in r.items() if k != "timestamp"}
        assert_same(rest_sent, rest_got)


def test_timestamp_format_truncates(env, module_gateway_factory):
    """1999999999 ns: 1 s, 1999 ms, 1999999 us (integer division, no rounding)."""
    gw, rcv = env["gw"], env["rcv"]
    ev = {"type": "command", "id": "ts-truncation-0000000000000001", "timestamp": 1999999999,
          "comm": "x", "timestampRFC3339Nano": "1970-01-01T00:00:01.999999999Z"}
    r = gw.post_json(ev)
    assert r.status_code == 200, r.text
    n = len(env["sent"]) + 1
    want = {"/sec": 1, "/ms": 1999, "/us": 1999999, "/ns": 1999999999, "/nd": 1999999999}
    for path, ts in want.items():
        got = by_id(rcv.wait_for(n, path=path))[ev["id"]]
        assert got["timestamp"] == ts, (path, got["timestamp"])
        assert got["timestampRFC3339Nano"] == ev["timestampRFC3339Nano"]


def test_array_body_is_exact_too(env):
    """The six samples' raw text joined into one JSON array."""
    gw, rcv = env["gw"], env["rcv"]
    before = len(rcv.events("/nd"))
    raws, parsed = [], []
    for name, raw, p in samples():
        p = dict(p)
        # new ids so the copies are told apart; the rest of the text is the sample's
        new_id = ("a" + p["id"][1:])
        raw = raw.replace(p["id"].encode(), new_id.encode(), 1)
        p["id"] = new_id
        raws.append(raw)
        parsed.append(p)
    body = b"[" + b",\n".join(raws) + b"]"
    r = gw.post(body, content_type="application/json")
    assert r.status_code == 200, r.text
    s = summary_of(r)
    assert s["accepted"] == len(raws) and s["rejected"] == 0, s
    evs = by_id(rcv.wait_for(before + len(raws), path="/nd"))
    for p in parsed:
        assert_same(p, evs[p["id"]])
