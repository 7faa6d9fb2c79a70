"""google_util.py - what the CHRONICLE, PUBSUB and SCC tests share: the
Google receiver fixture, integration entries, events with fresh ids, and
checks that no secret leaks into logs or dead letters.

The receiver fixture is listed before gateway_factory in a test's
arguments, so it is stopped after the gateways (which drain at SIGTERM).
"""

import copy
import json
import secrets

import pytest

from harness import sample_bytes, samples, strict_loads, summary_of
from receivers.google import GoogleReceiver

# Short delivery timings: retries in 100-500 ms, Error inhibits for 2 s.
FAST = {"delivery": {"backoff": "100ms", "backoff_max": "500ms", "inhibit": "2s"}}


@pytest.fixture
def google():
    g = GoogleReceiver().start()
    yield g
    g.stop()


def conf(**extra):
    out = copy.deepcopy(FAST)
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k].update(v)
        else:
            out[k] = v
    return out


def integration(name, type_, configuration, channels=None, batch=None):
    entry = {"name": name, "type": type_}
    if channels:
        entry["channels"] = list(channels)
    entry["batch"] = batch if batch is not None else {"linger": "50ms"}
    entry["configuration"] = configuration
    return entry


def new_id():
    return secrets.token_hex(16)


def policy_events(n, **changes):
    """n copies of the policy sample, each with a fresh id, as dicts."""
    base = json.loads(sample_bytes("policy_event.json"))
    out = []
    for _ in range(n):
        e = copy.deepcopy(base)
        e["id"] = new_id()
        e.update(changes)
        out.append(e)
    return out


def all_samples():
    """Every valid sample with a fresh id: [(name, dict)]."""
    out = []
    for name, _raw, parsed in samples():
        e = copy.deepcopy(parsed)
        if "id" in e:
            e["id"] = new_id()
        out.append((name, e))
    return out


def post(gw, events):
    r = gw.post_ndjson(events)
    assert r.status_code == 200, r.text
    assert summary_of(r)["accepted"] == len(events), r.text


def assert_no_secrets(gw, *secret_values):
    """No secret (nor a long line of one: a PEM key) in the log or the dead letters."""
    texts = [gw.stderr()]
    texts += [json.dumps(d) for d in gw.deadletters()]
    for s in secret_values:
        pieces = [s] + [line for line in s.splitlines() if len(line) >= 16]
        for t in texts:
            for p in pieces:
                assert p not in t, "a secret appears in the gateway's log or dead letters"


def json_exact(data):
    """Parsed JSON (Python ints are exact), strictly."""
    return strict_loads(data)
