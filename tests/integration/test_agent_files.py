"""The Sysdig agent's file layout: `-c dragent.yaml` also reads the
local_forwarder_config.yaml beside it, as the agent does, and `-c DIR` reads
both files in DIR; --check lists the files it read.
"""

import json
import os

from delivery_util import launch, receivers
from harness import ndjson, repo_path, run_cli, sample_bytes, summary_of, wait_until, yaml_text

__all__ = ["launch", "receivers"]  # fixtures

# The repository's example of a customer's dragent.yaml.
with open(repo_path("config", "sysdig", "dragent.yaml"), encoding="utf-8") as _f:
    DRAGENT = _f.read()
TRANSMIT = ["POLICY_EVENTS", "SECURE_AUDIT"]


def forwarder_config(endpoint):
    return yaml_text({"integrations": [{
        "type": "WEBHOOK", "channels": ["SECURE_EVENTS_POLICIES"],
        "configuration": {"endpoint": endpoint, "output": "ndjson"}}]})


def test_dragent_yaml_brings_its_sibling_and_delivers(launch, receivers):
    rcv = receivers()
    workdir = launch.workdir("agent")
    with open(os.path.join(workdir, "local_forwarder_config.yaml"), "w") as f:
        f.write(forwarder_config(rcv.url("/hook")))
    gw = launch.start(workdir, [], extra_files=[("dragent.yaml", DRAGENT)])
    gw.wait_stderr(r"dragent\.yaml is the agent's dragent\.yaml: reading .*local_forwarder_config\.yaml "
                   r"beside it, as the agent does")
    ev = json.loads(sample_bytes("policy_event.json"))
    r = gw.post(ndjson([ev]), content_type="application/x-ndjson")
    assert r.status_code == 200, r.text
    s = summary_of(r)
    assert s["accepted"] == 1 and s["unrouted"] == 0, s
    wait_until(lambda: rcv.events("/hook"), 15, message="the sibling's integration got nothing")
    assert rcv.events("/hook") == [ev]


def test_check_of_dragent_yaml_and_of_its_directory(tmp_path):
    d = tmp_path / "agent"
    d.mkdir()
    (d / "dragent.yaml").write_text(DRAGENT)
    (d / "local_forwarder_config.yaml").write_text(forwarder_config("http://127.0.0.1:9/x"))
    for arg in (str(d / "dragent.yaml"), str(d)):
        p = run_cli(["--check", "-c", arg], cwd=str(tmp_path))
        assert p.returncode == 0, p.stderr
        doc = json.loads(p.stdout)
        assert doc["files"] == [str(d / "dragent.yaml"), str(d / "local_forwarder_config.yaml")], doc
        assert doc["local_forwarder"]["transmit_message_types"] == TRANSMIT, doc
        assert [i["type"] for i in doc["integrations"]] == ["WEBHOOK"], doc
        assert "configuration OK (1 integration)" in p.stderr, p.stderr

    # Named twice (the file and its directory): read once.
    p = run_cli(["--check", "-c", str(d / "dragent.yaml"), "-c", str(d)], cwd=str(tmp_path))
    assert p.returncode == 0, p.stderr
    assert len(json.loads(p.stdout)["files"]) == 2


def test_dragent_yaml_without_a_sibling_warns(tmp_path):
    (tmp_path / "dragent.yaml").write_text(DRAGENT)
    p = run_cli(["--check", "-c", str(tmp_path / "dragent.yaml")], cwd=str(tmp_path))
    assert p.returncode == 0, p.stderr
    assert "has local_forwarder settings but no integrations, and there is no" in p.stderr, p.stderr
    assert json.loads(p.stdout)["integrations"] == []


def test_a_directory_without_the_agent_files_is_an_error(tmp_path):
    p = run_cli(["--check", "-c", str(tmp_path)])
    assert p.returncode != 0
    assert "a directory without dragent.yaml or local_forwarder_config.yaml" in p.stderr, p.stderr


def test_helm_values_with_integrations_bring_no_sibling(tmp_path):
    values = ("localForwarder:\n  enabled: true\n  integrations:\n"
              "    - type: WEBHOOK\n      configuration:\n        endpoint: http://127.0.0.1:9/a\n")
    (tmp_path / "values.yaml").write_text(values)
    (tmp_path / "local_forwarder_config.yaml").write_text(forwarder_config("http://127.0.0.1:9/b"))
    p = run_cli(["--check", "-c", str(tmp_path / "values.yaml")], cwd=str(tmp_path))
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["files"] == [str(tmp_path / "values.yaml")], doc
    assert len(doc["integrations"]) == 1, doc
