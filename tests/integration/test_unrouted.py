"""Nothing routed nowhere in silence: events accepted but taken by no
integration are `unrouted` in the sender's answer, counted by reason in
/metrics and GET /api/pipeline, and warned about at start, at reload, at
the first event on a channel nobody takes, and by --check.

  forwarder_disabled  local_forwarder.enabled: false
  no_integration      no integration takes the event's channel (or none at all)
  message_type        its message type is not in transmit_message_types
  min_severity        below every matching integration's min_severity
  script_route        a global script routed it away (ev:route / ev:unroute)
"""

import json
import os
import signal
import time

from harness import ndjson, run_cli, summary_of, wait_until, webhook, yaml_text
from test_admin import metrics, sample_value
from test_routing import routing_events

REASONS = ("forwarder_disabled", "no_integration", "message_type", "min_severity", "script_route")


def pipeline(gw):
    r = gw.admin_get("/api/pipeline")
    assert r.status_code == 200, r.text
    return r.json()


def post(gw, evs):
    r = gw.post(ndjson(evs), content_type="application/x-ndjson")
    assert r.status_code == 200, r.text
    s = summary_of(r)
    assert s["accepted"] == len(evs) and s["failed"] == 0 and s["dropped"] == 0, s
    return s


def unrouted_counts(gw):
    """{reason: n} from /metrics and from /api/pipeline, which must agree."""
    fams = metrics(gw)
    from_metrics = {k: sample_value(fams, "siemrelay_pipeline_events_unrouted_total", reason=k)
                    for k in REASONS}
    doc = pipeline(gw)["unrouted"]
    assert {k: doc[k] for k in REASONS} == from_metrics, (doc, from_metrics)
    assert doc["total"] == sum(from_metrics.values()), doc
    return from_metrics


def test_forwarding_disabled_answers_unrouted_counts_and_warns(gateway_factory, receiver_factory):
    rcv = receiver_factory()
    gw = gateway_factory([webhook("w", rcv.url("/w"))], conf={"local_forwarder": {"enabled": False}})
    gw.wait_stderr("local_forwarder.enabled is false: events are accepted and counted as unrouted")
    evs = routing_events()
    s = post(gw, evs)
    assert s["unrouted"] == len(evs), s
    assert unrouted_counts(gw) == {"forwarder_disabled": len(evs), "no_integration": 0,
                                   "message_type": 0, "min_severity": 0, "script_route": 0}
    time.sleep(0.5)
    assert rcv.events("/w") == []


def test_each_reason_is_counted_and_an_unsubscribed_channel_warns_once(gateway_factory,
                                                                       receiver_factory):
    rcv = receiver_factory()
    integrations = [
        webhook("pol", rcv.url("/pol"), channels=["SECURE_EVENTS_POLICIES"], min_severity="High"),
        webhook("act", rcv.url("/act"), channels=["ACTIVITY_AUDIT"]),
    ]
    gw = gateway_factory(integrations, conf={
        "local_forwarder": {"enabled": True, "transmit_message_types": ["POLICY_EVENTS"]}})
    gw.wait_stderr("channel ACTIVITY_AUDIT is taken by an integration, but transmit_message_types "
                   "leaves out SECURE_AUDIT")
    # 8 policy events of severity 0..7 and one without; 4 activity audit;
    # 1 platform audit.
    evs = routing_events()
    s = post(gw, evs)
    # High is severity <= 3: 0..3 and the one without a severity go out.
    want = {"forwarder_disabled": 0, "no_integration": 1, "message_type": 4, "min_severity": 4,
            "script_route": 0}
    assert s["unrouted"] == sum(want.values()), s
    assert unrouted_counts(gw) == want
    gw.wait_stderr("events on channel PLATFORM_AUDIT reach no integration")
    deadline = time.monotonic() + 10
    while len(rcv.events("/pol")) < 5 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sorted(e["id"] for e in rcv.events("/pol")) == \
        sorted(["pol-sev0", "pol-sev1", "pol-sev2", "pol-sev3", "pol-nosev"])

    # Again: counted again, warned once only.
    s = post(gw, evs)
    assert s["unrouted"] == 9, s
    assert unrouted_counts(gw) == {k: 2 * v for k, v in want.items()}
    assert gw.stderr().count("events on channel PLATFORM_AUDIT reach no integration") == 1
    assert "events on channel ACTIVITY_AUDIT reach no integration" not in gw.stderr()


def test_no_integrations_warns_and_counts(gateway_factory):
    gw = gateway_factory([])
    gw.wait_stderr("no enabled integration: events are accepted and counted as unrouted")
    s = post(gw, routing_events()[:2])
    assert s["unrouted"] == 2, s
    assert unrouted_counts(gw)["no_integration"] == 2


def test_an_event_a_script_routes_away_is_unrouted(gateway_factory, receiver_factory, tmp_path):
    script = tmp_path / "away.lua"
    script.write_text("local M = {}\n"
                      "function M.process(ev, ctx)\n"
                      "    if ev:get(\"id\") == \"pol-sev0\" then ev:unroute { \"w\" } end\n"
                      "    return true\n"
                      "end\n"
                      "return M\n")
    rcv = receiver_factory()
    gw = gateway_factory([webhook("w", rcv.url("/w"), channels=["SECURE_EVENTS_POLICIES"])],
                         conf={"scripts": [str(script)]})
    s = post(gw, routing_events()[:2])  # pol-sev0 (unrouted by the script), pol-sev1
    assert s["unrouted"] == 1, s
    assert unrouted_counts(gw)["script_route"] == 1


def test_reload_to_a_disabled_forwarder_warns(gateway_factory, receiver_factory):
    rcv = receiver_factory()
    gw = gateway_factory([webhook("w", rcv.url("/w"))])
    assert "local_forwarder.enabled is false" not in gw.stderr()
    s = post(gw, routing_events()[:1])
    assert s["unrouted"] == 0, s
    gw.user_conf["local_forwarder"] = {"enabled": False}
    gw.write_config()
    since = gw.stderr_len()
    gw.proc.send_signal(signal.SIGHUP)
    gw.wait_stderr("configuration reloaded", timeout=10, since=since)
    gw.wait_stderr("local_forwarder.enabled is false", timeout=5, since=since)
    s = post(gw, routing_events()[:3])
    assert s["unrouted"] == 3, s

    # The way back: forwarding enabled again routes and delivers, and
    # nothing warns any more.
    gw.user_conf["local_forwarder"] = {"enabled": True}
    gw.write_config()
    since = gw.stderr_len()
    gw.proc.send_signal(signal.SIGHUP)
    gw.wait_stderr("configuration reloaded", timeout=10, since=since)
    # (Each SIGHUP is audited, and the audit record is a platform audit
    # event of its own: the first reload's went unrouted too.)
    before = unrouted_counts(gw)
    evs = routing_events()[:3]
    s = post(gw, evs)
    assert s["unrouted"] == 0 and s["accepted"] == 3, s
    # pol-sev1 and pol-sev2 can reach the receiver only from this post.
    wait_until(lambda: {e["id"] for e in evs} <= {e["id"] for e in rcv.events("/w")}, 10)
    assert unrouted_counts(gw) == before
    assert "local_forwarder.enabled is false" not in gw.stderr()[since:]


def test_check_prints_local_forwarder_and_warns(tmp_path):
    cfg = os.path.join(str(tmp_path), "siemrelay.yaml")
    with open(cfg, "w") as f:
        f.write(yaml_text({
            "data_dir": str(tmp_path / "data"),
            "local_forwarder": {"enabled": False, "transmit_message_types": ["POLICY_EVENTS"]},
            "integrations": [webhook("w", "http://127.0.0.1:9/x", channels=["SECURE_EVENTS_POLICIES"])],
        }))
    p = run_cli(["--check", "-c", cfg])
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["local_forwarder"] == {"enabled": False, "transmit_message_types": ["POLICY_EVENTS"]}, doc
    assert "local_forwarder.enabled is false" in p.stderr, p.stderr

    with open(cfg, "w") as f:
        f.write(yaml_text({
            "data_dir": str(tmp_path / "data"),
            "integrations": [webhook("w", "http://127.0.0.1:9/x", channels=["SECURE_EVENTS_POLICIES"])],
        }))
    p = run_cli(["--check", "-c", cfg])
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["local_forwarder"] == {
        "enabled": True, "transmit_message_types": ["POLICY_EVENTS", "SECURE_AUDIT", "MONITOR_EVENTS"]}, doc
    for ch in ("ACTIVITY_AUDIT", "PLATFORM_AUDIT", "MONITOR_EVENTS"):
        assert "no integration takes channel %s" % ch in p.stderr, p.stderr
    assert "no integration takes channel SECURE_EVENTS_POLICIES" not in p.stderr
