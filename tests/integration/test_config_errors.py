"""`siemrelay --check` on the Sysdig vocabulary siemrelay does not take, and
on values a type module refuses: each gets its own exact message at the
line of the key it is about, never a generic "unknown key" or a misleading
nearest match."""

import pytest

from harness import SANITIZER_MARKERS, run_cli


def refused(tmp_path, text, name="c.yaml"):
    """--check on `text`; returns the one error line, without the prefix."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    p = run_cli(["--check", "-c", str(path)])
    for m in SANITIZER_MARKERS:
        assert m not in p.stderr, p.stderr
    assert p.returncode != 0, p.stdout + p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.startswith("siemrelay: ")]
    assert len(lines) == 1, p.stderr
    prefix = "siemrelay: %s:" % path
    assert lines[0].startswith(prefix), lines[0]
    return lines[0][len(prefix):]


NO_STORE = "siemrelay has no certificate store"


@pytest.mark.parametrize("kind,conf,files", [
    ("WEBHOOK", "endpoint: https://siem.example/in",
     "caFile (the CA bundle that verifies the server), certFile and keyFile (a client certificate "
     "and its key)"),
    ("SYSLOG", "address: siem.example",
     "caFile (the CA bundle that verifies the server), certFile and keyFile (a client certificate "
     "and its key)"),
    ("SPLUNK", "ServiceURL: https://splunk.example:8088", "caFile (the CA bundle that verifies the server)"),
])
def test_certificate_id_names_the_types_files(tmp_path, kind, conf, files):
    msg = refused(tmp_path, "integrations:\n"
                            "  - type: %s\n"
                            "    name: siem\n"
                            "    configuration:\n"
                            "      %s\n"
                            "      certificateId: 7\n" % (kind, conf))
    assert msg == ("6: integration 'siem' (%s): key 'certificateId': %s; give PEM files instead: %s"
                   % (kind, NO_STORE, files)), msg


def test_certificate_id_where_the_type_takes_no_files(tmp_path):
    msg = refused(tmp_path, "integrations:\n"
                            "  - type: PUBSUB\n"
                            "    name: ps\n"
                            "    configuration:\n"
                            "      certificateId: 7\n")
    assert msg == ("5: integration 'ps' (PUBSUB): key 'certificateId': %s, and this type takes no "
                   "certificate files: remove the key" % NO_STORE), msg


@pytest.mark.parametrize("kind,why", [
    ("LOCAL", "it is the chart's test type that prints events to the agent's own output; use FILE "
              "to write events to a local file"),
    ("S3", "siemrelay has no object-store transport; forward to SQS, KAFKA or FILE and load S3 "
           "from there"),
    ("KINESIS_DATA_STREAMS", "siemrelay has no Kinesis transport; forward to KAFKA or SQS and feed "
                             "Kinesis from there"),
    ("KINESIS_FIREHOSE", "siemrelay has no Kinesis transport; forward to KAFKA or SQS and feed "
                         "Kinesis from there"),
])
def test_chart_types(tmp_path, kind, why):
    # Helm's layout, as the chart's values put it.
    msg = refused(tmp_path, "localForwarder:\n"
                            "  enabled: true\n"
                            "  integrations:\n"
                            "    - channels: [SECURE_EVENTS_POLICIES]\n"
                            "      type: %s\n"
                            "      configuration: {output: stdout}\n" % kind)
    assert msg == ("5: integration '%s-1': siemrelay does not forward to type '%s' of the Sysdig "
                   "chart: %s" % (kind.lower(), kind, why)), msg
    assert "did you mean" not in msg


CHANNELS = "(siemrelay's channels: SECURE_EVENTS_POLICIES, ACTIVITY_AUDIT, PLATFORM_AUDIT, MONITOR_EVENTS)"
BACKEND = ("Sysdig's backend produces these results, not the agent's event stream siemrelay "
           "receives; forward them with Sysdig Secure's standard event forwarding")


@pytest.mark.parametrize("channel,why", [
    ("SECURE_EVENTS_SCANNING", BACKEND),
    ("SECURE_EVENTS_HOSTSCANNING", BACKEND),
    ("SECURE_EVENTS_BENCHMARK", BACKEND),
    ("SECURE_EVENTS_COMPLIANCE", BACKEND),
    ("SECURE_OBJECT_STORE_RUNTIME", BACKEND),
    ("SECURE_OBJECT_STORE_REGISTRY", BACKEND),
    ("SECURE_OBJECT_STORE_PIPELINE", BACKEND),
    ("AUDIT_TAP", "the agent's audit tap goes to the Sysdig backend only and has no data in siemrelay"),
])
def test_chart_channels(tmp_path, channel, why):
    msg = refused(tmp_path, "integrations:\n"
                            "  - type: WEBHOOK\n"
                            "    channels:\n"
                            "      - SECURE_EVENTS_POLICIES\n"
                            "      - %s\n"
                            "    configuration: {endpoint: https://siem.example}\n" % channel)
    assert msg == ("5: key 'channels': siemrelay does not forward channel '%s' of the Sysdig chart: "
                   "%s %s" % (channel, why, CHANNELS)), msg


def test_empty_channels(tmp_path):
    msg = refused(tmp_path, "integrations:\n"
                            "  - type: WEBHOOK\n"
                            "    channels: []\n"
                            "    configuration: {endpoint: https://siem.example}\n")
    assert msg == ("3: key 'channels': an empty list forwards nothing; remove the integration, or "
                   "name its channels (leave the key out for every channel the type takes)"), msg


def test_contradicting_forwarder_spellings(tmp_path):
    msg = refused(tmp_path, "local_forwarder:\n"
                            "  enabled: true\n"
                            "  transmit_message_types: [POLICY_EVENTS]\n"
                            "localForwarder:\n"
                            "  enabled: false\n", name="dragent.yaml")
    assert msg == ("5: 'localForwarder.enabled: false' contradicts 'local_forwarder.enabled: true' "
                   "on line 2; the file has both the Helm and the dragent.yaml spelling: keep one"), msg
    msg = refused(tmp_path, "localForwarder:\n"
                            "  transmitMessageTypes: [POLICY_EVENTS]\n"
                            "  integrations: []\n"
                            "local_forwarder:\n"
                            "  transmit_message_types:\n"
                            "    - POLICY_EVENTS\n"
                            "    - SECURE_AUDIT\n")
    assert msg == ("2: 'localForwarder.transmitMessageTypes' contradicts "
                   "'local_forwarder.transmit_message_types' on line 5; the file has both the Helm "
                   "and the dragent.yaml spelling: keep one"), msg


@pytest.mark.parametrize("kind,conf,line,want", [
    # The entry starts on line 2; the key the module refuses is further down.
    ("ELASTIC", ["endpoint: https://es.example:9200", "index: Events"], 6,
     "'index' must be lower case (Elasticsearch refuses upper-case index names)"),
    ("KAFKA", ["brokers: [\"127.0.0.1:9092\"]", "topic: events", "caFile: /etc/ca.pem"], 7,
     "'caFile', 'certFile' and 'keyFile' need 'isTlsEnabled: true'"),
    ("FILE", ["path: /tmp/out.json", "rotate_bytes: -1"], 6,
     "'rotate_bytes' must be 0 (never) or a positive number of bytes"),
])
def test_module_value_errors_at_the_keys_line(tmp_path, kind, conf, line, want):
    text = ("integrations:\n"
            "  - type: %s\n"
            "    name: x\n"
            "    configuration:\n" % kind) + "".join("      %s\n" % c for c in conf)
    msg = refused(tmp_path, text)
    assert msg == "%d: integration 'x' (%s): %s" % (line, kind, want), msg
