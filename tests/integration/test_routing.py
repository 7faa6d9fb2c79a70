"""Routing: an integration receives an event only if the event's channel is
in its channels, its message type is in transmit_message_types (not
applicable to platform audit) and min_severity allows it.

  policy                                  -> SECURE_EVENTS_POLICIES / POLICY_EVENTS
  command, connection, fileaccess, kubernetes -> ACTIVITY_AUDIT / SECURE_AUDIT
  audittrail                              -> PLATFORM_AUDIT (transmit types do not apply)

transmit_message_types comes from siemrelay's own `local_forwarder:`, from a
dragent.yaml-style file (`local_forwarder:`) or from Helm's `localForwarder:`.
"""

import time
from collections import Counter

import pytest

from harness import ndjson, samples, summary_of, webhook

BY_NAME = {name: parsed for name, _raw, parsed in samples()}

POLICY_SEVS = list(range(8))
AUDIT = {"command": "audit_command.json", "connection": "audit_network.json",
         "fileaccess": "audit_file.json", "kubernetes": "audit_kube_exec.json"}


def routing_events():
    """Realistic events (the samples) with ids that say what they are."""
    evs = []
    for sev in POLICY_SEVS:
        e = dict(BY_NAME["policy_event.json"])
        e["id"] = "pol-sev%d" % sev
        e["severity"] = sev
        evs.append(e)
    e = dict(BY_NAME["policy_event.json"])
    e["id"] = "pol-nosev"
    del e["severity"]
    evs.append(e)
    for typ, name in AUDIT.items():
        e = dict(BY_NAME[name])
        assert e["type"] == typ
        e["id"] = "aud-" + typ
        evs.append(e)
    e = dict(BY_NAME["platform_audit.json"])
    e["id"] = "plat-audittrail"
    evs.append(e)
    return evs


POLICY_ALL = {"pol-sev%d" % s for s in POLICY_SEVS} | {"pol-nosev"}
AUDIT_ALL = {"aud-" + t for t in AUDIT}
PLATFORM = {"plat-audittrail"}


def post_all(gw):
    evs = routing_events()
    r = gw.post(ndjson(evs), content_type="application/x-ndjson")
    assert r.status_code == 200, r.text
    s = summary_of(r)
    assert s["rejected"] == 0 and s["failed"] == 0 and s["dropped"] == 0, s
    return {e["id"]: e for e in evs}


def check_routes(rcv, expected, sent, settle=0.7, timeout=10):
    """Waits until every path got its expected ids, lets late strays arrive,
    then requires exactly the expected ids (each once) per path."""
    deadline = time.monotonic() + timeout
    while True:
        missing = {p: want - {e.get("id") for e in rcv.events(p)} for p, want in expected.items()}
        if not any(missing.values()):
            break
        if time.monotonic() > deadline:
            raise AssertionError("missing deliveries: %r" % {p: sorted(m) for p, m in missing.items() if m})
        time.sleep(0.02)
    time.sleep(settle)
    for path, want in expected.items():
        got = Counter(e.get("id") for e in rcv.events(path))
        extra = set(got) - want
        assert not extra, "%s received events it must not: %r" % (path, sorted(extra))
        dups = [i for i, n in got.items() if n > 1]
        assert not dups, "%s received duplicates: %r" % (path, dups)
        for e in rcv.events(path):
            assert e == sent[e["id"]], "%s: event %s altered" % (path, e["id"])


def test_channels_message_types_and_min_severity(gateway_factory, receiver_factory):
    rcv = receiver_factory()
    integrations = [
        webhook("pol", rcv.url("/pol"), channels=["SECURE_EVENTS_POLICIES"]),
        webhook("act", rcv.url("/act"), channels=["ACTIVITY_AUDIT"]),
        webhook("plat", rcv.url("/plat"), channels=["PLATFORM_AUDIT"]),
        webhook("med", rcv.url("/med"), channels=["SECURE_EVENTS_POLICIES", "ACTIVITY_AUDIT"],
                min_severity="Medium"),
        webhook("high", rcv.url("/high"), channels=["SECURE_EVENTS_POLICIES"], min_severity="High"),
        webhook("low", rcv.url("/low"), channels=["SECURE_EVENTS_POLICIES"], min_severity="Low"),
    ]
    gw = gateway_factory(integrations, conf={
        "local_forwarder": {"enabled": True, "transmit_message_types": ["POLICY_EVENTS", "SECURE_AUDIT"]}})
    sent = post_all(gw)
    check_routes(rcv, {
        "/pol": POLICY_ALL,
        "/act": AUDIT_ALL,
        "/plat": PLATFORM,
        "/med": {"pol-sev%d" % s for s in range(6)} | {"pol-nosev"} | AUDIT_ALL,
        "/high": {"pol-sev%d" % s for s in range(4)} | {"pol-nosev"},
        "/low": {"pol-sev%d" % s for s in range(7)} | {"pol-nosev"},
    }, sent)


def test_transmit_types_from_dragent_file(gateway_factory, receiver_factory):
    """Only POLICY_EVENTS transmitted: activity audit goes nowhere, platform
    audit is not subject to transmit_message_types."""
    rcv = receiver_factory()
    integrations = [
        webhook("pol", rcv.url("/pol"), channels=["SECURE_EVENTS_POLICIES"]),
        webhook("act", rcv.url("/act"), channels=["ACTIVITY_AUDIT"]),
        webhook("plat", rcv.url("/plat"), channels=["PLATFORM_AUDIT"]),
        webhook("all", rcv.url("/all"), channels=["SECURE_EVENTS_POLICIES", "ACTIVITY_AUDIT", "PLATFORM_AUDIT"]),
    ]
    dragent = ("# dragent.yaml: the agent's own settings are ignored by siemrelay\n"
               "customerid: 00000000-0000-0000-0000-000000000000\n"
               "collector: collector.sysdigcloud.com\n"
               "local_forwarder:\n"
               "  enabled: true\n"
               "  transmit_message_types:\n"
               "    - POLICY_EVENTS\n")
    gw = gateway_factory(integrations, extra_files=[("dragent.yaml", dragent)])
    sent = post_all(gw)
    check_routes(rcv, {
        "/pol": POLICY_ALL,
        "/act": set(),
        "/plat": PLATFORM,
        "/all": POLICY_ALL | PLATFORM,
    }, sent)


def test_transmit_types_and_integrations_from_helm_values(gateway_factory, receiver_factory):
    """Helm's localForwarder: {enabled, transmitMessageTypes, integrations},
    integrations in Sysdig's form (no name, no batch)."""
    rcv = receiver_factory()
    values = """\
# Helm values.yaml: everything but localForwarder belongs to the chart
global:
  clusterConfig:
    name: test
localForwarder:
  enabled: true
  transmitMessageTypes:
    - SECURE_AUDIT
  integrations:
    - type: WEBHOOK
      channels:
        - SECURE_EVENTS_POLICIES
      configuration:
        endpoint: "%(pol)s"
        output: ndjson
    - type: WEBHOOK
      channels:
        - ACTIVITY_AUDIT
      configuration:
        endpoint: "%(act)s"
        output: ndjson
    - type: WEBHOOK
      channels:
        - PLATFORM_AUDIT
        - ACTIVITY_AUDIT
      configuration:
        endpoint: "%(plat)s"
""" % {"pol": rcv.url("/pol"), "act": rcv.url("/act"), "plat": rcv.url("/plat")}
    gw = gateway_factory([], extra_files=[("values.yaml", values)])
    sent = post_all(gw)
    check_routes(rcv, {
        "/pol": set(),
        "/act": AUDIT_ALL,
        "/plat": PLATFORM | AUDIT_ALL,
    }, sent, timeout=15)


def test_default_transmits_everything(gateway_factory, receiver_factory):
    """Without local_forwarder, every message type is transmitted."""
    rcv = receiver_factory()
    gw = gateway_factory([webhook("all", rcv.url("/all"))])
    sent = post_all(gw)
    check_routes(rcv, {"/all": POLICY_ALL | AUDIT_ALL | PLATFORM}, sent)


@pytest.mark.parametrize("level,allowed", [("High", 3), ("Medium", 5), ("Low", 6), ("Info", 7)])
def test_min_severity_levels(gateway_factory, receiver_factory, level, allowed):
    rcv = receiver_factory()
    gw = gateway_factory([webhook("w", rcv.url("/w"), channels=["SECURE_EVENTS_POLICIES"], min_severity=level)])
    sent = post_all(gw)
    check_routes(rcv, {"/w": {"pol-sev%d" % s for s in range(allowed + 1)} | {"pol-nosev"}}, sent, settle=0.4)
