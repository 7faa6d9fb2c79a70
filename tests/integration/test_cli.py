"""The command line: --version, --help, --check (effective configuration with
secrets masked), configuration errors named by file, line and key, Sysdig's
own files, and the json log format of a running gateway."""

import json
import os
import re
import subprocess

import pytest

from harness import (SANITIZER_MARKERS, Gateway, file_integration, repo_path, run_cli,
                     strict_loads, wait_until)


def assert_no_sanitizer(proc):
    for m in SANITIZER_MARKERS:
        assert m not in proc.stderr, "sanitizer report on stderr:\n" + proc.stderr


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return str(p)


def line_of(text, needle):
    """1-based line number of the first line containing needle."""
    for i, line in enumerate(text.split("\n"), 1):
        if needle in line:
            return i
    raise AssertionError("%r not in config" % needle)


def json_objects(text):
    """Every JSON object that can be decoded starting at some '{' of text,
    flattened recursively (dicts inside dicts and lists included)."""
    dec = json.JSONDecoder()
    found = []
    i = 0
    while True:
        i = text.find("{", i)
        if i < 0:
            break
        try:
            obj, end = dec.raw_decode(text, i)
        except ValueError:
            i += 1
            continue
        found.append(obj)
        i = end
    out = []

    def walk(o):
        if isinstance(o, dict):
            out.append(o)
            for v in o.values():
                walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)

    for o in found:
        walk(o)
    return out


def find_configuration(stdout, key, value):
    """The printed configuration object in which `key` (case-insensitive) is `value`."""
    for o in json_objects(stdout):
        for k, v in o.items():
            if k.lower() == key.lower() and v == value:
                return o
    raise AssertionError("no JSON configuration with %s=%r in --check output:\n%s" % (key, value, stdout))


def find_integration(stdout, name):
    for o in json_objects(stdout):
        if o.get("name") == name and "type" in o:
            return o
    return None


def check_error(proc, path, line, *needles):
    """Non-zero exit; stderr holds "<path>:<line>: ..." naming every needle on that line."""
    assert proc.returncode != 0, "expected a configuration error, got exit 0; stdout:\n%s" % proc.stdout
    assert proc.returncode > 0, "killed by a signal: %d\n%s" % (proc.returncode, proc.stderr)
    assert_no_sanitizer(proc)
    base = os.path.basename(path)
    rx = re.compile(r"(?:^|[\s/])%s:(\d+): (.*)$" % re.escape(base), re.M)
    matches = [(int(m.group(1)), m.group(2)) for m in rx.finditer(proc.stderr)]
    assert matches, "no '%s:LINE: ...' message on stderr:\n%s" % (base, proc.stderr)
    lines_ok = [msg for ln, msg in matches if (ln in line if isinstance(line, (set, range)) else ln == line)]
    assert lines_ok, "error names line(s) %r, expected %r:\n%s" % ([m[0] for m in matches], line, proc.stderr)
    msg = " ".join(lines_ok)
    for n in needles:
        assert n in msg, "%r not in the error message %r" % (n, msg)
    return msg


# ---- --version, --help ---------------------------------------------------

def project_version():
    with open(repo_path("CMakeLists.txt"), encoding="utf-8") as f:
        m = re.search(r"project\(\s*siemrelay\s+VERSION\s+([0-9][0-9A-Za-z.\-+]*)", f.read())
    assert m, "no project(siemrelay VERSION x) in CMakeLists.txt"
    return m.group(1)


def pkg_version(module):
    """The version of a library as installed here (what the gateway loads)."""
    p = subprocess.run(["pkg-config", "--modversion", module], capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip("pkg-config knows no %s" % module)
    return p.stdout.strip()


def test_version():
    p = run_cli(["--version"])
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == "siemrelay %s" % project_version()
    got = dict(line.split(" ", 1) for line in lines[1:])
    assert sorted(got) == ["libcurl", "librdkafka", "libuv", "luajit", "openssl"], lines
    assert got["luajit"] == pkg_version("luajit")
    assert got["libuv"] == pkg_version("libuv")
    assert got["libcurl"] == pkg_version("libcurl")
    assert got["librdkafka"] == pkg_version("rdkafka")
    assert got["openssl"] == pkg_version("openssl")
    assert_no_sanitizer(p)


def test_help():
    p = run_cli(["--help"])
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "usage" in out.lower()
    assert "-c" in out and "--check" in out and "--version" in out
    assert_no_sanitizer(p)


def test_no_config_is_an_error():
    p = run_cli([])
    assert p.returncode != 0
    assert p.stderr.strip(), "no message on stderr"
    assert_no_sanitizer(p)


def test_missing_config_file_is_named(tmp_path):
    missing = str(tmp_path / "nope.yaml")
    p = run_cli(["--check", "-c", missing])
    assert p.returncode != 0
    assert "nope.yaml" in p.stderr
    assert_no_sanitizer(p)


# ---- --check: the effective configuration --------------------------------

CHECK_CONFIG = """\
logging: {level: info, format: text}
workers: 2
data_dir: %(dir)s/data
script_timeout: 200ms
inputs:
  http: {listen: "127.0.0.1:18080", max_body: 1MiB, token: "${CHECK_INGEST_TOKEN}"}
local_forwarder: {enabled: true, transmit_message_types: [POLICY_EVENTS, SECURE_AUDIT]}
integrations:
  - name: hook
    type: WEBHOOK
    channels: [SECURE_EVENTS_POLICIES, ACTIVITY_AUDIT]
    min_severity: Medium
    configuration:
      endpoint: "http://127.0.0.1:9/hook"
      output: ndjson
      timestampFormat: milliseconds
      auth: BASIC_AUTH
      secret: "alice:Pa55-basic-SECRET"
      headers: [{key: X-Site, value: lab}]
  - name: bearer
    type: WEBHOOK
    channels: [SECURE_EVENTS_POLICIES]
    configuration:
      endpoint: "${CHECK_ENDPOINT:-http://127.0.0.1:9/default-from-env}"
      auth: BEARER_TOKEN
      secret: "${CHECK_BEARER_SECRET}"
  - name: local
    type: FILE
    channels: [SECURE_EVENTS_POLICIES, ACTIVITY_AUDIT]
    configuration: {path: %(dir)s/events.jsonl, rotate_bytes: 1048576, keep_files: 3}
"""

SECRETS = {"CHECK_INGEST_TOKEN": "ingest-TOKEN-do-not-print-7731",
           "CHECK_BEARER_SECRET": "bearer-SECRET-do-not-print-5512"}


def test_check_prints_effective_integrations_with_secrets_masked(tmp_path):
    cfg = write(tmp_path, "cfg.yaml", CHECK_CONFIG % {"dir": tmp_path})
    env = dict(SECRETS)
    env.pop("CHECK_ENDPOINT", None)
    p = run_cli(["--check", "-c", cfg], env=env)
    assert p.returncode == 0, "--check failed:\n" + p.stderr
    assert_no_sanitizer(p)
    out = p.stdout
    both = p.stdout + p.stderr
    for secret in ("Pa55-basic-SECRET", "alice:Pa55", SECRETS["CHECK_INGEST_TOKEN"], SECRETS["CHECK_BEARER_SECRET"]):
        assert secret not in both, "secret %r printed by --check" % secret
    assert "******" in out

    for name, typ in (("hook", "WEBHOOK"), ("bearer", "WEBHOOK"), ("local", "FILE")):
        assert name in out and typ in out

    hook = find_configuration(out, "endpoint", "http://127.0.0.1:9/hook")
    assert hook.get("secret") == "******", hook
    assert hook.get("output") == "ndjson"
    assert hook.get("timestampFormat", hook.get("timestampformat")) == "milliseconds"

    bearer = find_configuration(out, "endpoint", "http://127.0.0.1:9/default-from-env")
    assert bearer.get("secret") == "******", bearer

    local = find_configuration(out, "path", str(tmp_path / "events.jsonl"))
    assert local.get("rotate_bytes") == 1048576 and local.get("keep_files") == 3, local

    # Channels are printed per integration.
    integ = find_integration(out, "hook")
    if integ is not None:  # the whole integration record is JSON too
        assert integ["type"] == "WEBHOOK"
        assert set(integ["channels"]) == {"SECURE_EVENTS_POLICIES", "ACTIVITY_AUDIT"}
        assert integ["configuration"]["secret"] == "******"
    else:
        for ch in ("SECURE_EVENTS_POLICIES", "ACTIVITY_AUDIT"):
            assert ch in out


def test_check_env_default_and_override(tmp_path):
    cfg = write(tmp_path, "cfg.yaml", CHECK_CONFIG % {"dir": tmp_path})
    env = dict(SECRETS, CHECK_ENDPOINT="http://127.0.0.1:9/from-env")
    p = run_cli(["--check", "-c", cfg], env=env)
    assert p.returncode == 0, p.stderr
    find_configuration(p.stdout, "endpoint", "http://127.0.0.1:9/from-env")
    assert "default-from-env" not in p.stdout


def test_check_keys_are_case_insensitive(tmp_path):
    text = """\
LOGGING: {Level: info, FORMAT: text}
Workers: 1
Data_Dir: %(dir)s/data
Integrations:
  - Name: hook
    Type: WEBHOOK
    Channels: [SECURE_EVENTS_POLICIES]
    Configuration:
      ENDPOINT: "http://127.0.0.1:9/ci"
      Output: json
      TimestampFormat: seconds
""" % {"dir": tmp_path}
    cfg = write(tmp_path, "ci.yaml", text)
    p = run_cli(["--check", "-c", cfg])
    assert p.returncode == 0, p.stderr
    assert "hook" in p.stdout and "WEBHOOK" in p.stdout
    find_configuration(p.stdout, "endpoint", "http://127.0.0.1:9/ci")


def test_check_merges_several_files(tmp_path):
    a = write(tmp_path, "a.yaml", """\
data_dir: %s/data
integrations:
  - name: first
    type: WEBHOOK
    channels: [SECURE_EVENTS_POLICIES]
    configuration: {endpoint: "http://127.0.0.1:9/first"}
""" % tmp_path)
    b = write(tmp_path, "b.yaml", """\
integrations:
  - name: second
    type: FILE
    channels: [ACTIVITY_AUDIT]
    configuration: {path: %s/second.jsonl}
""" % tmp_path)
    p = run_cli(["--check", "-c", a, "-c", b])
    assert p.returncode == 0, p.stderr
    find_configuration(p.stdout, "endpoint", "http://127.0.0.1:9/first")
    find_configuration(p.stdout, "path", str(tmp_path / "second.jsonl"))
    assert p.stdout.index("first") < p.stdout.index("second"), "integration lists are concatenated in order"


# ---- configuration errors: FILE:LINE: message naming the key -------------

BASE = """\
logging: {level: info, format: text}
data_dir: /tmp/siemrelay-cli-test
"""


def test_unknown_top_level_key_suggests(tmp_path):
    text = BASE + """\
wrokers: 2
integrations:
  - name: siem
    type: WEBHOOK
    channels: [SECURE_EVENTS_POLICIES]
    configuration: {endpoint: "http://127.0.0.1:9/x"}
"""
    cfg = write(tmp_path, "cfg.yaml", text)
    p = run_cli(["--check", "-c", cfg])
    check_error(p, cfg, line_of(text, "wrokers"), "unknown key 'wrokers'", "did you mean 'workers'?")


def test_unknown_integration_key_suggests(tmp_path):
    text = BASE + """\
workers: 1
integrations:
  - name: siem
    type: WEBHOOK
    channels: [SECURE_EVENTS_POLICIES]
    configuration:
      output: json
      endpont: "http://127.0.0.1:9/x"
"""
    cfg = write(tmp_path, "cfg.yaml", text)
    p = run_cli(["--check", "-c", cfg])
    check_error(p, cfg, line_of(text, "endpont"), "integration 'siem'", "(WEBHOOK)",
                "unknown key 'endpont'", "did you mean 'endpoint'?")


def test_unknown_integration_level_key_suggests(tmp_path):
    text = BASE + """\
integrations:
  - name: siem
    type: WEBHOOK
    chanels: [SECURE_EVENTS_POLICIES]
    configuration: {endpoint: "http://127.0.0.1:9/x"}
"""
    cfg = write(tmp_path, "cfg.yaml", text)
    p = run_cli(["--check", "-c", cfg])
    check_error(p, cfg, line_of(text, "chanels"), "'chanels'", "did you mean 'channels'?")


def test_missing_required_key(tmp_path):
    text = BASE + """\
integrations:
  - name: siem
    type: WEBHOOK
    channels: [SECURE_EVENTS_POLICIES]
    configuration:
      output: ndjson
"""
    cfg = write(tmp_path, "cfg.yaml", text)
    p = run_cli(["--check", "-c", cfg])
    first = line_of(text, "- name: siem")
    check_error(p, cfg, range(first, line_of(text, "output: ndjson") + 1),
                "missing required key 'endpoint'")


def test_unknown_integration_type(tmp_path):
    text = BASE + """\
integrations:
  - name: siem
    type: WEBHOK
    channels: [SECURE_EVENTS_POLICIES]
    configuration: {endpoint: "http://127.0.0.1:9/x"}
"""
    cfg = write(tmp_path, "cfg.yaml", text)
    p = run_cli(["--check", "-c", cfg])
    msg = check_error(p, cfg, line_of(text, "WEBHOK"), "WEBHOK")
    assert "WEBHOOK" in msg, "no suggestion of the closest type: %r" % msg


@pytest.mark.parametrize("key,bad", [
    ("workers", "lots"),
    ("script_timeout", "soon"),
])
def test_bad_value_type(tmp_path, key, bad):
    text = BASE + "%s: %s\n" % (key, bad)
    cfg = write(tmp_path, "cfg.yaml", text)
    p = run_cli(["--check", "-c", cfg])
    check_error(p, cfg, line_of(text, bad), key)


def test_bad_enum_value_in_configuration(tmp_path):
    text = BASE + """\
integrations:
  - name: siem
    type: WEBHOOK
    channels: [SECURE_EVENTS_POLICIES]
    configuration:
      endpoint: "http://127.0.0.1:9/x"
      output: xml
"""
    cfg = write(tmp_path, "cfg.yaml", text)
    p = run_cli(["--check", "-c", cfg])
    check_error(p, cfg, line_of(text, "output: xml"), "output", "xml")


def test_unknown_channel(tmp_path):
    text = BASE + """\
integrations:
  - name: siem
    type: WEBHOOK
    channels: [SECURE_EVENTS_POLICIES, ACTIVTY_AUDIT]
    configuration: {endpoint: "http://127.0.0.1:9/x"}
"""
    cfg = write(tmp_path, "cfg.yaml", text)
    p = run_cli(["--check", "-c", cfg])
    check_error(p, cfg, line_of(text, "ACTIVTY_AUDIT"), "ACTIVTY_AUDIT")


def test_unset_environment_variable(tmp_path):
    text = BASE + """\
integrations:
  - name: siem
    type: WEBHOOK
    channels: [SECURE_EVENTS_POLICIES]
    configuration:
      endpoint: "http://127.0.0.1:9/x"
      auth: BEARER_TOKEN
      secret: "${SIEMRELAY_TEST_SURELY_UNSET_VAR}"
"""
    cfg = write(tmp_path, "cfg.yaml", text)
    env = {k: v for k, v in os.environ.items() if k != "SIEMRELAY_TEST_SURELY_UNSET_VAR"}
    p = run_cli(["--check", "-c", cfg], env=env)
    # run_cli merges env over os.environ; make sure the variable is unset there too
    assert "SIEMRELAY_TEST_SURELY_UNSET_VAR" not in os.environ
    check_error(p, cfg, line_of(text, "SIEMRELAY_TEST_SURELY_UNSET_VAR"), "SIEMRELAY_TEST_SURELY_UNSET_VAR")


def test_secret_never_in_error_message(tmp_path):
    """An error in an integration with a secret does not print the secret."""
    text = BASE + """\
integrations:
  - name: siem
    type: WEBHOOK
    channels: [SECURE_EVENTS_POLICIES]
    configuration:
      auth: BASIC_AUTH
      secret: "bob:very-SECRET-pw-0042"
      endpont: "http://127.0.0.1:9/x"
"""
    cfg = write(tmp_path, "cfg.yaml", text)
    p = run_cli(["--check", "-c", cfg])
    check_error(p, cfg, line_of(text, "endpont"), "endpont")
    assert "very-SECRET-pw-0042" not in p.stdout + p.stderr


# ---- the repository's own configuration files -----------------------------

SYSDIG_FILES = ["local_forwarder_config.yaml", "dragent.yaml", "values.yaml"]

SECRET_KEY_RX = re.compile(r"^([ \t]*-?[ \t]*)(ServiceToken|token|secret|password)([ \t]*:[ \t]*)(\S.*?)[ \t]*$",
                           re.IGNORECASE | re.MULTILINE)


def sysdig_file(name):
    path = repo_path("config", "sysdig", name)
    assert os.path.isfile(path), "%s is missing (written by the config engineer)" % path
    return path


@pytest.mark.parametrize("name", SYSDIG_FILES)
def test_sysdig_file_passes_check(tmp_path, name):
    path = sysdig_file(name)
    p = run_cli(["--check", "-c", path], cwd=str(tmp_path))
    assert p.returncode == 0, "%s fails --check:\n%s" % (name, p.stderr)
    assert_no_sanitizer(p)
    # Never the token: the published example's token is "***"; with the
    # masks removed, no "***" may remain.
    with open(path, encoding="utf-8") as f:
        text = f.read()
    both = (p.stdout + p.stderr).replace("******", "")
    for m in SECRET_KEY_RX.finditer(text):
        value = m.group(4).strip().strip("'\"")
        if value and not value.startswith("${"):
            assert value not in both, "%s: --check printed the %s value" % (name, m.group(2))
    if "ServiceToken" in text:
        assert "******" in p.stdout, "the SPLUNK token is not shown masked"


@pytest.mark.parametrize("name", SYSDIG_FILES)
def test_sysdig_file_token_never_printed(tmp_path, name):
    """The same file with every token/secret replaced by a unique value:
    --check passes and prints none of them."""
    path = sysdig_file(name)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    sentinels = []

    def sub(m):
        s = "sentinel-%s-%d-value" % (m.group(2).lower(), len(sentinels))
        sentinels.append(s)
        return "%s%s%s\"%s\"" % (m.group(1), m.group(2), m.group(3), s)

    changed = SECRET_KEY_RX.sub(sub, text)
    if not sentinels:
        pytest.skip("%s holds no token or secret" % name)
    copy = tmp_path / name
    copy.write_text(changed, encoding="utf-8")
    p = run_cli(["--check", "-c", str(copy)], cwd=str(tmp_path))
    assert p.returncode == 0, "%s (tokens replaced) fails --check:\n%s" % (name, p.stderr)
    for s in sentinels:
        assert s not in p.stdout + p.stderr, "--check printed a secret value"
    assert "******" in p.stdout


def test_local_forwarder_config_is_sysdig_splunk_example():
    """The file is Sysdig's published SPLUNK example: a top-level
    integrations list with type SPLUNK and the PascalCase local keys."""
    with open(sysdig_file("local_forwarder_config.yaml"), encoding="utf-8") as f:
        text = f.read()
    assert re.search(r"^integrations:", text, re.M)
    assert re.search(r"type:\s*SPLUNK", text)
    for key in ("ServiceURL", "ServiceToken: ***", "Index", "SECURE_EVENTS_POLICIES", "ACTIVITY_AUDIT"):
        assert key in text, key


def test_default_config_passes_check(tmp_path):
    p = run_cli(["--check", "-c", repo_path("config", "siemrelay.yaml")], cwd=str(tmp_path))
    assert p.returncode == 0, p.stderr
    assert_no_sanitizer(p)
    assert "local-file" in p.stdout and "FILE" in p.stdout
    # Out of the box, nothing to warn about: every channel has a taker.
    assert not re.search(r"\b(warn|warning|error)\b", p.stderr), p.stderr


# ---- a running gateway's log format ---------------------------------------

def test_json_log_format(tmp_path):
    gw = Gateway(tmp_path / "gw", conf={"logging": {"level": "info", "format": "json"}},
                 integrations=[file_integration("local", str(tmp_path / "events.jsonl"))])
    try:
        gw.start()
        wait_until(lambda: "siemrelay ready" in gw.stderr(), 5, message="no 'siemrelay ready' log line")
        rc, err = gw.stop()  # raises on a non-zero exit or a sanitizer report
    finally:
        gw.kill()
    assert rc == 0, err
    lines = [l for l in err.split("\n") if l.strip()]
    assert lines, "no log lines"
    ready = None
    for l in lines:
        obj = strict_loads(l)  # every line one JSON object
        assert isinstance(obj, dict), l
        for k in ("time", "level", "component", "msg"):
            assert k in obj, "log line lacks %r: %s" % (k, l)
        if "siemrelay ready" in obj["msg"]:
            ready = obj
    assert ready is not None, "no JSON log line with 'siemrelay ready':\n" + err
    assert ready["level"].lower().startswith("info"), ready
