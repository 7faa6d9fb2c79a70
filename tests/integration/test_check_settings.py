"""`siemrelay --check`'s "settings": every setting with its value in effect,
from the binary, for siemrelay's own sections and for Sysdig's formats,
secrets masked; and `--print-config-reference` against
docs/configuration.md."""

import hashlib

from harness import SANITIZER_MARKERS, repo_path, run_cli, strict_loads


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return str(p)


def check(*paths, env=None):
    args = ["--check"]
    for p in paths:
        args += ["-c", p]
    p = run_cli(args, env=env)
    for m in SANITIZER_MARKERS:
        assert m not in p.stderr, p.stderr
    assert p.returncode == 0, p.stderr
    return strict_loads(p.stdout), p.stdout + p.stderr


TLS_DEFAULTS = {"cert": None, "key": None, "client_ca": None, "require_client_cert": False,
                "min_version": "1.2", "ciphers": None}
FAILED_AUTH_DEFAULTS = {"max_failures": 20, "window": "1m", "log_lines": 10, "peers": 4096}
# Connection limits and request deadlines of every listener (conn_guard.h).
FLOOD_DEFAULTS = {"min_progress_bytes": "1KiB", "progress_interval": "10s",
                  "max_connections": 10000, "max_connections_per_peer": 256}
ADMIN_DEADLINE_DEFAULTS = {"idle_timeout": "10s", "header_timeout": "5s", "min_progress_bytes": "1KiB",
                           "progress_interval": "5s"}

DEFAULTS = {
    "logging": {"level": "info", "format": "text"},
    "workers": 0,
    "data_dir": "./data",
    "user": None,
    "group": None,
    "lua_dir": None,
    "integration_paths": [],
    "scripts": [],
    "script_timeout": "200ms",
    "inputs": {
        "http": {"enabled": True, "listen": "127.0.0.1:8080", "max_body": "16MiB", "token": None,
                 "idle_timeout": "1m", "tls": TLS_DEFAULTS, "max_body_total": "64MiB",
                 "failed_auth": FAILED_AUTH_DEFAULTS, "header_timeout": "10s", **FLOOD_DEFAULTS},
        "tcp": {"enabled": True, "listen": "127.0.0.1:5140", "max_line": "1MiB", "idle_timeout": "1m",
                "tls": TLS_DEFAULTS, **FLOOD_DEFAULTS},
    },
    "queue": {"type": "memory", "max_bytes": "16MiB", "overflow": "block", "fsync": "always",
              "fsync_interval": "1s", "segment_bytes": "64MiB", "keep_events": True},
    "delivery": {"max_attempts": 3, "backoff": "1s", "backoff_max": "30s", "inhibit": "5m",
                 "status_window": "24h", "shutdown_timeout": "10s"},
    "admin": {"enabled": True, "listen": "127.0.0.1:9090", "tokens": [], "script_dir": None, "credentials_dir": None,
              "files_dir": None, "failed_auth": FAILED_AUTH_DEFAULTS, "tls": TLS_DEFAULTS,
              "allowed_hosts": [], "max_connections": 4096, "max_connections_per_peer": 64,
              **ADMIN_DEADLINE_DEFAULTS},
    "local_forwarder": {"enabled": True,
                        "transmit_message_types": ["POLICY_EVENTS", "SECURE_AUDIT", "MONITOR_EVENTS"]},
}


def test_defaults_of_an_empty_file(tmp_path):
    doc, _ = check(write(tmp_path, "empty.yaml", "# nothing\n"))
    assert doc["integrations"] == []
    s = doc["settings"]
    # Sections added since (inputs.kafka, ...) carry their own tests.
    for key, want in DEFAULTS.items():
        if key == "inputs":
            for name in ("http", "tcp"):
                assert s["inputs"][name] == want[name], name
        else:
            assert s[key] == want, key


def test_every_section_as_written(tmp_path):
    token_sha = hashlib.sha256(b"admin-token-x").hexdigest()
    scripts = [repo_path("lua", "examples", "drop_info.lua"), repo_path("lua", "examples", "enrich.lua")]
    cfg = write(tmp_path, "all.yaml", """\
Logging: {LEVEL: warning, format: json}
workers: 3
data_dir: %(dir)s/data
lua_dir: %(lua)s
integration_paths: %(dir)s
scripts: [%(a)s, %(b)s]
script_timeout: 1500ms
inputs:
  http: {listen: "[::1]:18443", max_body: 3MiB, token: "${CHECK_SETTINGS_TOKEN}", idle_timeout: 90s,
         max_body_total: 20MiB, failed_auth: {max_failures: 5, window: 2m},
         tls: {cert: /c.pem, key: /k.pem, min_version: "1.3", ciphers: "ECDHE+AESGCM"}}
  tcp: {enabled: false, max_line: 4096}
queue: {type: disk, overflow: drop_oldest, fsync: interval, fsync_interval: 250ms}
delivery: {max_attempts: 5, backoff: 2s, backoff_max: 1m, inhibit: 1h, status_window: 90s}
admin:
  listen: 127.0.0.1:19090
  tokens: [{name: ops, role: viewer, sha256: %(sha)s}]
  allowed_hosts: [gw.example, admin.example]
  failed_auth: {log_lines: 3, peers: 64}
local_forwarder: {transmit_message_types: [SECURE_AUDIT]}
""" % {"sha": token_sha, "dir": tmp_path, "lua": repo_path("lua"), "a": scripts[0], "b": scripts[1]})
    secret = "ingest-token-never-printed-8812"
    doc, both = check(cfg, env={"CHECK_SETTINGS_TOKEN": secret})
    assert secret not in both and token_sha not in both
    s = doc["settings"]
    assert s["logging"] == {"level": "warn", "format": "json"}
    assert s["workers"] == 3
    assert s["data_dir"] == "%s/data" % tmp_path and s["lua_dir"] == repo_path("lua")
    assert s["integration_paths"] == [str(tmp_path)] and s["scripts"] == scripts
    assert s["script_timeout"] == "1500ms"
    assert s["inputs"]["http"] == {
        "enabled": True, "listen": "[::1]:18443", "max_body": "3MiB", "token": "******",
        "idle_timeout": "90s", "max_body_total": "20MiB",
        "tls": {"cert": "/c.pem", "key": "/k.pem", "client_ca": None, "require_client_cert": False,
                "min_version": "1.3", "ciphers": "ECDHE+AESGCM"},
        "failed_auth": {"max_failures": 5, "window": "2m", "log_lines": 10, "peers": 4096},
        "header_timeout": "10s", **FLOOD_DEFAULTS}
    assert s["inputs"]["tcp"]["enabled"] is False and s["inputs"]["tcp"]["max_line"] == "4KiB"
    # A disk queue's bound defaults to 1 GiB.
    assert s["queue"] == {"type": "disk", "max_bytes": "1GiB", "overflow": "drop_oldest",
                          "fsync": "interval", "fsync_interval": "250ms", "segment_bytes": "64MiB",
                          "keep_events": False}
    assert s["delivery"] == {"max_attempts": 5, "backoff": "2s", "backoff_max": "1m", "inhibit": "1h",
                             "status_window": "90s", "shutdown_timeout": "10s"}
    assert s["admin"] == {"enabled": True, "listen": "127.0.0.1:19090",
                          "tokens": [{"name": "ops", "role": "viewer"}], "script_dir": None, "credentials_dir": None,
                          "files_dir": None, "allowed_hosts": ["gw.example", "admin.example"],
                          "tls": TLS_DEFAULTS,
                          "failed_auth": {"max_failures": 20, "window": "1m", "log_lines": 3, "peers": 64},
                          "max_connections": 4096, "max_connections_per_peer": 64,
                          **ADMIN_DEADLINE_DEFAULTS}
    assert s["local_forwarder"] == {"enabled": True, "transmit_message_types": ["SECURE_AUDIT"]}


def test_sysdig_formats_set_the_same_settings(tmp_path):
    dragent = write(tmp_path, "dragent.yaml", """\
customerid: 1234
local_forwarder: {enabled: false, transmit_message_types: [POLICY_EVENTS, MONITOR_EVENTS]}
""")
    helm = write(tmp_path, "values.yaml", """\
localForwarder: {enabled: false, transmitMessageTypes: [POLICY_EVENTS, MONITOR_EVENTS]}
""")
    a, _ = check(dragent)
    b, _ = check(helm)
    want = {"enabled": False, "transmit_message_types": ["POLICY_EVENTS", "MONITOR_EVENTS"]}
    assert a["settings"]["local_forwarder"] == want
    assert b["settings"]["local_forwarder"] == want
    assert a["settings"] == b["settings"]


def test_later_files_win_key_by_key(tmp_path):
    a = write(tmp_path, "a.yaml", "delivery: {max_attempts: 4, inhibit: 2m}\nworkers: 2\n")
    b = write(tmp_path, "b.yaml", "delivery: {inhibit: 3m}\n")
    doc, _ = check(a, b)
    d = doc["settings"]["delivery"]
    assert (d["max_attempts"], d["inhibit"], d["backoff"]) == (4, "3m", "1s")
    assert doc["settings"]["workers"] == 2


def test_reference_is_the_docs_tables():
    p = run_cli(["--print-config-reference"])
    assert p.returncode == 0, p.stderr
    tables = p.stdout.split("\n\n")
    assert len(tables) == 2, p.stdout
    with open(repo_path("docs", "configuration.md"), encoding="utf-8") as f:
        docs = f.read()
    for t in tables:
        t = t.rstrip("\n") + "\n"
        assert t.startswith("| key | default | meaning |\n")
        at = docs.find(t)
        assert at >= 0, "docs/configuration.md lacks:\n" + t
        assert not docs[at + len(t):].startswith("|"), "the docs table has rows the schema lacks"
    assert "| `delivery.status_window` | `24h` |" in tables[0]
    assert "| `inputs.http.token` (*secret*) | none |" in tables[0]
