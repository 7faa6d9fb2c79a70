"""dest_util.py - what the SPLUNK and ELASTIC tests share.

  FORWARDER, FAST      config: the local forwarder on; fast retries and a
                       short inhibition (the delivery engine's timings)
  Peers(cls, **kw)     makes protocol receivers (cls(**kw).start()) and stops
                       them all at close(); a test requests the fixture that
                       holds one before the gateway factory, so receivers
                       outlive the gateways (fixtures are torn down in
                       reverse order)
  command_events()     distinct activity-audit events from the command sample
  post_all()           posts NDJSON and checks every event was accepted
  post_samples()       posts every sample and test_fidelity's synthetic event
  state(), reached()   an integration's persisted status and its history
"""

import json
import os

from harness import sample_bytes, samples, strict_loads, summary_of
from test_fidelity import SYNTHETIC

FORWARDER = {"local_forwarder": {"enabled": True, "transmit_message_types": ["POLICY_EVENTS", "SECURE_AUDIT"]}}
FAST = {"delivery": {"backoff": "100ms", "backoff_max": "300ms", "inhibit": "1500ms"}}


def fast_conf():
    conf = dict(FORWARDER)
    conf.update(FAST)
    return conf


class Peers:
    def __init__(self, cls, **defaults):
        self.cls = cls
        self.defaults = defaults
        self.made = []

    def __call__(self, **kw):
        args = dict(self.defaults)
        args.update(kw)
        r = self.cls(**args).start()
        self.made.append(r)
        return r

    def close(self):
        for r in self.made:
            r.stop()


def command_events(prefix, n, pad=0):
    """n activity-audit events with ids <prefix>-0000..., timestamps one ns
    apart; `pad` adds a field of that many bytes."""
    base = json.loads(sample_bytes("audit_command.json"))
    out = []
    for i in range(n):
        e = dict(base)
        e["id"] = "%s-%04d" % (prefix, i)
        e["timestamp"] = base["timestamp"] + i
        if pad:
            e["pad"] = "p" * pad
        out.append(e)
    return out


def post_all(gw, evs):
    r = gw.post_ndjson(evs)
    assert r.status_code == 200, r.text
    s = summary_of(r)
    assert (s["accepted"], s["failed"]) == (len(evs), 0), s


def state(gw, name):
    """<data_dir>/state/<name>.json, parsed, or None."""
    try:
        with open(os.path.join(gw.data_dir, "state", name + ".json"), encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def reached(gw, name, status):
    """Whether the integration's status history ever went to `status`."""
    st = state(gw, name)
    return st is not None and any(h["to"] == status for h in st.get("history", []))


def post_samples(gw):
    """Posts every sample, then test_fidelity's synthetic event (64-bit
    integers, escapes, UTF-8), one per request; returns those the SPLUNK and
    ELASTIC tests' channels (policy events, activity audit) take: all but
    platform audit, parsed, in order."""
    sent = []
    for name, raw, parsed in samples():
        r = gw.post(raw, content_type="application/json")
        assert r.status_code == 200, (name, r.text)
        assert summary_of(r)["accepted"] == 1
        if parsed["type"] != "audittrail":
            sent.append(parsed)
    syn = SYNTHETIC.encode("utf-8")
    r = gw.post(syn, content_type="application/json")
    assert r.status_code == 200, r.text
    sent.append(strict_loads(syn))
    return sent
