"""SCC against a strict local Security Command Center and token endpoint:
the source found over paged listings or created once, one finding per
policy event with findingId = the event id and its fields (category,
eventTime to the nanosecond, severity, sourceProperties with 64-bit
integers exact), security marks set after creation, a duplicate (409
ALREADY_EXISTS) counted as success, a refused token renewed at once,
retryable errors retried, permanent ones dead-lettered, and the example's
--check."""

import json

from google_util import (assert_no_secrets, conf, google, integration, json_exact,  # noqa: F401
                         all_samples, policy_events, post)
from harness import repo_path, run_cli
from receivers.google import SCOPE_CLOUD

ORG = "123456789012"
MARKS = [{"key": "team", "value": "secops"}, {"key": "origin", "value": "sysdig-\u00e9"}]


def scc(g, sa, name="scc", **extra):
    c = {"organization": ORG, "credentialsJson": sa.json(), "endpoint": g.url(), "securityMarks": MARKS}
    c.update(extra)
    return integration(name, "SCC", c)


def findings_by_id(g):
    return {n.rsplit("/", 1)[1]: f for n, f in g.findings.items()}


def check_finding(f, ev):
    assert f["state"] == "ACTIVE"
    assert f["category"] == ev["content"]["ruleName"]
    assert f["event_time"] == ev["timestampRFC3339Nano"]
    assert f["severity"] == "HIGH"  # Sysdig 0
    assert f["finding_class"] == "THREAT"
    assert f["resource_name"] == "//cloudresourcemanager.googleapis.com/organizations/" + ORG
    assert f["description"] == ev["content"]["output"]
    # sourceProperties from the exact request body (Python ints are exact).
    sent = json_exact(f["_request"].body)["sourceProperties"]
    assert sent["id"] == ev["id"]
    assert sent["timestamp"] == str(ev["timestamp"]) == "1606322948648718268"
    assert sent["agentId"] == ev["agentId"] and isinstance(sent["agentId"], int)
    assert sent["content_policyId"] == ev["content"]["policyId"]
    assert sent["content_ruleTags"] == ev["content"]["ruleTags"]
    assert sent["content_fields_proc_aname_2_"] == ev["content"]["fields"]["proc.aname[2]"]
    assert sent["content_fields_group_gid"] == "8589935592"
    assert sent["labels_host_hostName"] == ev["labels"]["host.hostName"]
    assert sent["sourceDetails_sourceType"] == "workload"
    assert json_exact(sent["actions"]) == ev["actions"]
    assert sent["content_falsePositive"] is False


def test_source_created_findings_and_marks(google, gateway_factory):
    sa = google.add_service_account()
    google.add_organization(ORG)
    for i in range(150):  # two pages of other sources before none matches
        google.add_source(ORG, "Other source %d" % i)
    gw = gateway_factory([scc(google, sa)], conf=conf())
    sent = [e for _n, e in all_samples()]
    post(gw, sent)
    policies = [e for e in sent if e["type"] == "policy"]
    more = policy_events(2)
    post(gw, more)
    policies += more
    google.wait(lambda: len(google.marks) == len(policies))

    created = google.of("sources_create")
    assert len(created) == 1 and json.loads(created[0].body)["displayName"] == "Sysdig Secure"
    source = json.loads(created[0].answer)["name"]
    lists = google.of("sources_list")
    assert [r.query.get("pageToken") for r in lists] == [None, ["pt100"]]
    got = findings_by_id(google)
    assert set(got) == {e["id"] for e in policies}  # policy events only, one finding each
    for ev in policies:
        f = got[ev["id"]]
        assert f["parent"] == source
        check_finding(f, ev)
        assert google.marks[f["name"]] == {"team": "secops", "origin": "sysdig-\u00e9"}
    for r in google.of("marks"):
        assert r.query["updateMask"] == ["marks.team,marks.origin"]
    # One token for everything.
    assert [r.status for r in google.of("token")] == [200]
    assert google.of("token")[0].claims["scope"] == SCOPE_CLOUD
    assert gw.deadletters() == []
    assert_no_secrets(gw, sa.info()["private_key"])


def test_existing_source_reused_and_duplicate_is_success(google, gateway_factory):
    sa = google.add_service_account()
    google.add_organization(ORG)
    google.add_source(ORG, "Something else")
    source = google.add_source(ORG, "Sysdig Secure")
    gw = gateway_factory([scc(google, sa)], conf=conf())
    ev = policy_events(1)
    post(gw, ev)
    google.wait(lambda: len(google.marks) == 1)
    # The agent sends the same event again: 409, counted as delivered, marks set again.
    post(gw, ev)
    google.wait(lambda: len(google.of("marks")) == 2)
    assert google.of("sources_create") == []
    assert len(google.of("sources_list")) == 1
    assert [r.status for r in google.of("finding")] == [200, 409]
    assert json.loads(google.of("finding")[1].answer)["error"]["status"] == "ALREADY_EXISTS"
    assert list(google.findings) == [source + "/findings/" + ev[0]["id"]]
    assert gw.deadletters() == []


def test_without_marks_the_create_is_the_request(google, gateway_factory):
    sa = google.add_service_account()
    google.add_organization(ORG)
    source = google.add_source(ORG, "Sysdig Secure")
    gw = gateway_factory([scc(google, sa, securityMarks=None, source=source.rsplit("/", 1)[1])], conf=conf())
    evs = policy_events(2)
    post(gw, evs)
    post(gw, evs[:1])  # a duplicate: 409 is success
    google.wait(lambda: len(google.of("finding")) == 3)
    assert google.of("sources_list") == [] and google.of("marks") == []
    assert sorted(r.status for r in google.of("finding")) == [200, 200, 409]
    for ev in evs:
        check_finding(findings_by_id(google)[ev["id"]], ev)
    assert gw.deadletters() == []


def test_refused_token_renewed_at_once(google, gateway_factory):
    sa = google.add_service_account()
    google.add_organization(ORG)
    google.add_source(ORG, "Sysdig Secure")
    gw = gateway_factory([scc(google, sa)], conf=conf(delivery={"backoff": "5s", "backoff_max": "5s"}))
    post(gw, policy_events(1))
    google.wait(lambda: len(google.marks) == 1)
    google.expire_tokens()
    post(gw, policy_events(1))
    google.wait(lambda: len(google.marks) == 2)
    tail = [(r.kind, r.status) for r in google.requests[-4:]]
    assert tail == [("finding", 401), ("token", 200), ("finding", 200), ("marks", 200)], tail
    assert google.requests[-1].time - google.requests[-4].time < 2.0
    assert gw.deadletters() == []


def test_retryable_retried_permanent_dead_lettered(google, gateway_factory):
    sa = google.add_service_account()
    google.add_organization(ORG)
    google.add_source(ORG, "Sysdig Secure")
    gw = gateway_factory([scc(google, sa)], conf=conf())
    google.fail("finding", 503, "UNAVAILABLE", "The service is currently unavailable.")
    google.fail("marks", 429, "RESOURCE_EXHAUSTED", "Quota exceeded")
    ev = policy_events(1)
    post(gw, ev)
    google.wait(lambda: len(google.marks) == 1)
    assert [r.status for r in google.of("finding")] == [503, 200]
    assert [r.status for r in google.of("marks")] == [429, 200]

    google.fail("finding", 400, "INVALID_ARGUMENT", "Invalid argument.")
    bad = policy_events(1)
    post(gw, bad)
    dl = gw.wait_deadletter(lambda d: d["integration"] == "scc")
    assert dl["reason"] == "create finding: HTTP 400: INVALID_ARGUMENT: Invalid argument."
    assert dl["record"]["findingId"] == bad[0]["id"]
    ok = policy_events(1)
    post(gw, ok)
    google.wait(lambda: len(google.marks) == 2)
    assert bad[0]["id"] not in findings_by_id(google)


def test_discovery_failure_keeps_events(google, gateway_factory):
    """A missing role (403 on listing sources) is the integration's
    problem: events stay queued, and go once it is fixed."""
    sa = google.add_service_account()
    gw = gateway_factory([scc(google, sa)], conf=conf())
    ev = policy_events(1)
    post(gw, ev)
    google.wait(lambda: len(google.of("sources_list", 403)) >= 3, timeout=10)
    assert gw.deadletters() == []
    google.add_organization(ORG)  # the role is granted
    google.wait(lambda: len(google.marks) == 1, timeout=15)
    assert list(findings_by_id(google)) == [ev[0]["id"]]


def test_example_passes_check(google):
    sa = google.add_service_account()
    p = run_cli(["--check", "-c", repo_path("config", "examples", "scc.yaml")],
                env={"GOOGLE_CREDENTIALS_JSON": sa.json()})
    assert p.returncode == 0, p.stdout + p.stderr
    assert "SCC" in p.stdout
    assert sa.info()["private_key"].splitlines()[1] not in p.stdout + p.stderr
