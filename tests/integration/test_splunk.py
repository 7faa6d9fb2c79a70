"""SPLUNK: the real gateway against a strict HEC receiver (receivers/splunk.py).

- every sample (and an event full of 64-bit integers and escapes) arrives as
  one envelope each, the event equal field by field, `time` the exact
  nanosecond timestamp in seconds, host/source/sourcetype/index as documented;
- the wire: POST /services/collector/event, Authorization: Splunk <token>,
  envelopes concatenated (not an array), gzip when asked;
- keys case-insensitively, a full collector URL, sourceType/host/source;
- configuration errors (disabled or unknown token, index not allowed) end in
  the Error status with nothing dead-lettered, and are delivered once fixed;
- invalid-event-number: the events before it indexed once, it dead-lettered,
  the rest delivered once;
- 503 busy retried; 413 split; an event too large alone dead-lettered.
"""

import json

import pytest

from dest_util import FORWARDER, Peers, command_events, fast_conf, post_all, post_samples, reached, state
from harness import repo_path, run_cli, strict_loads, wait_until
from receivers.splunk import HecReceiver, split_envelopes
from test_fidelity import assert_same

TOKEN = "5a4bfc2e-8d0d-4b0e-9c52-3a1d6f0e7c11"

SOURCETYPES = {
    "policy": "sysdig:secure:policy",
    "command": "sysdig:secure:activity:command",
    "connection": "sysdig:secure:activity:connection",
    "fileaccess": "sysdig:secure:activity:fileaccess",
    "kubernetes": "sysdig:secure:activity:kubernetes",
}


def splunk(name, url, token=TOKEN, batch=None, **configuration):
    conf = {"ServiceURL": url, "ServiceToken": token}
    conf.update(configuration)
    return {"name": name, "type": "SPLUNK", "channels": ["SECURE_EVENTS_POLICIES", "ACTIVITY_AUDIT"],
            "batch": batch or {"max_events": 100, "linger": "50ms"}, "configuration": conf}


@pytest.fixture(scope="module")
def module_hecs():
    hecs = Peers(HecReceiver)
    yield hecs
    hecs.close()


@pytest.fixture
def hecs():
    hecs = Peers(HecReceiver)
    yield hecs
    hecs.close()


def seconds_text(ns):
    return "%d.%09d" % (ns // 10 ** 9, ns % 10 ** 9)


def by_id(envelopes):
    out = {}
    for env in envelopes:
        i = env.event["id"]
        assert i not in out, "event %s indexed twice" % i
        out[i] = env
    return out


# ---- every sample, exactly ---------------------------------------------------

@pytest.fixture(scope="module")
def env(module_hecs, module_gateway_factory):
    hec = module_hecs(tokens={TOKEN: ["security"], "other-token": None})
    hecz = module_hecs(tokens={TOKEN: None})
    gw = module_gateway_factory([
        splunk("hec", hec.url(), Index="security"),
        # Sysdig's API spellings in other cases, the full collector path,
        # and every envelope key configured.
        {"name": "keys", "type": "SPLUNK", "channels": ["SECURE_EVENTS_POLICIES", "ACTIVITY_AUDIT"],
         "batch": {"max_events": 100, "linger": "50ms"},
         "configuration": {"endpoint": hec.url("/services/collector/event"), "TOKEN": "other-token",
                           "index": "main", "SourceType": "custom:sysdig", "HOST": "edge-1",
                           "Source": "lab-gw"}},
        splunk("gz", hecz.url(), compress=True),
    ], conf=FORWARDER)
    sent = post_samples(gw)
    return {"gw": gw, "hec": hec, "hecz": hecz, "sent": sent}


def hec_envelopes(hec, token, n):
    """The envelopes indexed for `token`, once there are n."""
    def got():
        evs = [e for r in hec.requests if r.status == 200 and r.header("authorization") == "Splunk " + token
               for e in r.envelopes]
        return evs if len(evs) >= n else None
    return wait_until(got, 15, message="HEC did not index %d events for one token: %r" % (n, hec.requests))


def test_every_event_arrives_exactly_once_in_its_envelope(env):
    hec, sent = env["hec"], env["sent"]
    got = by_id(hec_envelopes(hec, TOKEN, len(sent)))
    assert set(got) == {e["id"] for e in sent}
    for e in sent:
        envl = got[e["id"]]
        assert_same(e, envl.event)
        assert type(envl.event["timestamp"]) is int
        # time: the nanoseconds, exactly, as seconds with nine decimals
        assert envl.time_text == seconds_text(e["timestamp"]), (envl.time_text, e["timestamp"])
        want_host = e.get("hostname") or e.get("labels", {}).get("host.hostName")
        assert envl.get("host") == want_host
        assert envl.get("source") == "siemrelay"
        assert envl.get("sourcetype") == SOURCETYPES[e["type"]], e["type"]
        assert envl.get("index") == "security"
        assert set(envl.obj) == {"time", "host", "source", "sourcetype", "index", "event"}


def test_wire_format(env):
    hec, sent = env["hec"], env["sent"]
    hec_envelopes(hec, TOKEN, len(sent))
    reqs = [r for r in hec.requests if r.status == 200 and r.header("authorization") == "Splunk " + TOKEN]
    assert reqs
    for r in reqs:
        assert r.method == "POST" and r.path == "/services/collector/event"
        assert r.header("content-type") == "application/json"
        assert r.header("content-encoding") is None
        text = r.body.decode("utf-8")
        assert text.startswith("{") and not text.startswith("["), "envelopes, not an array"
        raws = [raw for raw, err in split_envelopes(text)]
        assert "".join(raws) == text, "envelopes back to back, nothing between them"
        assert all(strict_loads(raw) for raw in raws)


def test_keys_are_case_insensitive_and_configure_the_envelope(env):
    hec, sent = env["hec"], env["sent"]
    got = by_id(hec_envelopes(hec, "other-token", len(sent)))
    assert set(got) == {e["id"] for e in sent}
    for e in sent:
        envl = got[e["id"]]
        assert_same(e, envl.event)
        assert (envl.get("host"), envl.get("source"), envl.get("sourcetype"), envl.get("index")) == \
            ("edge-1", "lab-gw", "custom:sysdig", "main")


def test_gzip_bodies(env):
    hecz, sent = env["hecz"], env["sent"]
    got = by_id(hecz.wait_for(len(sent)))
    for e in sent:
        assert_same(e, got[e["id"]].event)
        assert "index" not in got[e["id"]].obj, "no Index configured: HEC's default"
    for r in hecz.requests:
        assert r.header("content-encoding") == "gzip"
        assert r.body[:2] == b"\x1f\x8b" and len(r.body) < len(r.data)


def test_examples_pass_check():
    for name in ("splunk.yaml", "elastic.yaml"):
        p = run_cli(["--check", "-c", repo_path("config", "examples", name)])
        assert p.returncode == 0, (name, p.stdout, p.stderr)


# ---- configuration errors: Error status, nothing dead-lettered ---------------

@pytest.mark.parametrize("problem", ["token disabled", "invalid token", "index not allowed"])
def test_configuration_error_ends_in_error_status_and_keeps_events(hecs, gateway_factory, problem):
    hec = hecs(tokens={TOKEN: ["main"] if problem == "index not allowed" else None})
    token = TOKEN
    if problem == "token disabled":
        hec.disable_token(TOKEN)
    elif problem == "invalid token":
        token = "not-" + TOKEN
    gw = gateway_factory([splunk("hec", hec.url(), token=token, Index="security")], conf=fast_conf())
    evs = command_events("cfg", 3)
    post_all(gw, evs)
    want = {"token disabled": 403, "invalid token": 403, "index not allowed": 400}[problem]
    hec.wait_matching(lambda r: r.status == want, n=3)
    wait_until(lambda: reached(gw, "hec", "Error"), 10, message="status never became Error: %r"
               % (state(gw, "hec"),))
    assert gw.deadletters() == [], "a configuration error must not dead-letter events"
    assert hec.indexed == []
    # Fixed on the Splunk side: the events go after the inhibition, once.
    if problem == "token disabled":
        hec.enable_token(TOKEN)
    elif problem == "invalid token":
        hec.tokens[token] = None
    else:
        hec.tokens[TOKEN] = ["main", "security"]
    got = by_id(hec.wait_for(3, timeout=15))
    assert set(got) == {e["id"] for e in evs}
    wait_until(lambda: (state(gw, "hec") or {}).get("status") in ("Connected", "Warning"), 10)
    assert gw.deadletters() == []


# ---- per-event outcomes ---------------------------------------------------------

def test_invalid_event_number_indexes_before_dead_letters_it_and_resends_after(hecs, gateway_factory):
    hec = hecs(tokens={TOKEN: None})
    gw = gateway_factory([splunk("hec", hec.url(), batch={"max_events": 100, "linger": "300ms"})], conf=fast_conf())
    evs = command_events("part", 6)
    bad = evs[2]["id"]
    hec.invalid_when(lambda ev: ev.get("id") == bad)
    post_all(gw, evs)
    dl = gw.wait_deadletter(lambda rec: rec.get("integration") == "hec")
    got = by_id(hec.wait_for(5))
    assert set(got) == {e["id"] for e in evs} - {bad}
    first = hec.requests[0]
    assert first.status == 400 and first.objects == 6, "one batch of six"
    assert first.reply == {"text": "Invalid data format", "code": 6, "invalid-event-number": 2}
    assert [e.event["id"] for e in first.envelopes] == [evs[0]["id"], evs[1]["id"]]
    second = [r for r in hec.requests[1:] if r.method == "POST"][0]
    assert second.status == 200 and [e.event["id"] for e in second.envelopes] == [e["id"] for e in evs[3:]], \
        "only what followed the bad event is sent again"
    # the dead letter: the bad event's envelope, with HEC's reason
    assert dl["stage"] == "rejected" and dl["_file"] == "hec.jsonl"
    assert dl["record"]["event"]["id"] == bad
    assert_same(evs[2], dl["record"]["event"])
    assert "HEC code 6: Invalid data format (event 3 of 6; 2 before it were indexed)" in dl["reason"]
    assert len(gw.deadletters()) == 1


def test_server_busy_is_retried_and_delivered_once(hecs, gateway_factory):
    hec = hecs(tokens={TOKEN: None})
    hec.respond_with(503, {"text": "Server is busy", "code": 9}, count=2)
    gw = gateway_factory([splunk("hec", hec.url())], conf=fast_conf())
    evs = command_events("busy", 4)
    post_all(gw, evs)
    got = by_id(hec.wait_for(4))
    assert set(got) == {e["id"] for e in evs}
    assert [r.status for r in hec.requests][:3] == [503, 503, 200]
    assert gw.deadletters() == []
    wait_until(lambda: reached(gw, "hec", "Warning"), 5)


def test_request_too_large_is_split_and_a_lone_oversize_event_dead_lettered(hecs, gateway_factory):
    evs = command_events("big", 8, pad=600)
    one = len(json.dumps(evs[0])) + 250  # an envelope, roughly
    hec = hecs(tokens={TOKEN: None}, max_content_length=int(one * 2.5))
    gw = gateway_factory([splunk("hec", hec.url(), batch={"max_events": 100, "linger": "300ms"})], conf=fast_conf())
    post_all(gw, evs)
    got = by_id(hec.wait_for(8))
    assert set(got) == {e["id"] for e in evs}
    statuses = [r.status for r in hec.requests]
    assert statuses[0] == 413 and 200 in statuses
    assert gw.deadletters() == []
    assert not reached(gw, "hec", "Error")
    # An event larger than the limit on its own can never go.
    huge = command_events("huge", 1, pad=one * 3)[0]
    post_all(gw, [huge])
    dl = gw.wait_deadletter(lambda rec: rec.get("integration") == "hec")
    assert dl["record"]["event"]["id"] == huge["id"]
    assert "413" in dl["reason"]
    assert len(hec.indexed) == 8
