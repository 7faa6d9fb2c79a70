"""The installation (cmake/packaging.cmake, docs/install.md), staged with
DESTDIR as `make install DESTDIR=...` does, without root:

  - every file lands where docs/install.md says: the binary, the Lua tree
    (lib, integrations, examples), the configuration, the systemd unit
    (with the paths of the build's prefix and the hardening it promises),
    the docs;
  - the staged binary passes --check on the staged configuration;
  - the staged binary uses the Lua tree installed beside it, not the
    source tree it was built from: an integration type that exists only in
    the staged tree works, and the ready line names the staged tree.

The Debian package itself (dpkg -i, the service user, dpkg -r) is checked
by .ci/package-check, which needs root.
"""

import json
import os
import re
import shutil
import subprocess

import pytest

from harness import Gateway, sample_bytes, wait_until

BUILD_DIR = os.environ.get("SIEMRELAY_BUILD_DIR")

pytestmark = pytest.mark.skipif(not BUILD_DIR, reason="SIEMRELAY_BUILD_DIR is not set")

UNIT_LINES = [
    "User=siemrelay",
    "Group=siemrelay",
    "ExecReload=/bin/kill -HUP $MAINPID",
    "StateDirectory=siemrelay",
    "NoNewPrivileges=yes",
    "CapabilityBoundingSet=",
    "AmbientCapabilities=",
    "ProtectSystem=strict",
    "ProtectHome=yes",
    "PrivateTmp=yes",
]


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    """DESTDIR install of the test build; returns (stage, prefix), prefix
    being the build's CMAKE_INSTALL_PREFIX as it appears under the stage."""
    stage = str(tmp_path_factory.mktemp("stage"))
    env = dict(os.environ, DESTDIR=stage)
    p = subprocess.run(["cmake", "--install", BUILD_DIR], env=env, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    found = [root for root, _dirs, files in os.walk(stage)
             if "siemrelay" in files and os.path.basename(root) == "bin"]
    assert len(found) == 1, found
    return stage, os.path.dirname(found[0])


def unstaged(stage, path):
    return "/" + os.path.relpath(path, stage)


def conf_dir(stage, prefix):
    """<sysconfdir>/siemrelay: /etc for the prefix /usr, else <prefix>/etc."""
    plain = os.path.join(prefix, "etc", "siemrelay")
    return plain if os.path.isdir(plain) else os.path.join(stage, "etc", "siemrelay")


def test_files_where_the_docs_say(staged):
    stage, prefix = staged
    for rel in ["bin/siemrelay",
                "share/siemrelay/lua/lib/event.lua",
                "share/siemrelay/lua/lib/event_loop.lua",
                "share/siemrelay/lua/integrations/splunk.lua",
                "share/siemrelay/lua/integrations/kafka.lua",
                "share/siemrelay/lua/examples/enrich.lua",
                "share/siemrelay/lua/examples/enrich.test.yaml",
                "share/doc/siemrelay/README.md",
                "share/doc/siemrelay/install.md",
                "share/doc/siemrelay/examples/splunk.yaml",
                "lib/systemd/system/siemrelay.service"]:
        assert os.path.isfile(os.path.join(prefix, rel)), rel
    assert os.access(os.path.join(prefix, "bin", "siemrelay"), os.X_OK)
    conf = os.path.join(conf_dir(stage, prefix), "siemrelay.yaml")
    assert os.path.isfile(conf)
    # The same Lua tree as the source's, file for file.
    src = os.path.join(os.environ["SIEMRELAY_SOURCE_DIR"], "lua")
    dst = os.path.join(prefix, "share", "siemrelay", "lua")
    def tree(root):
        return sorted(os.path.relpath(os.path.join(r, f), root)
                      for r, _d, fs in os.walk(root) for f in fs)
    assert tree(dst) == tree(src)


def test_unit_runs_the_installed_binary_hardened(staged):
    stage, prefix = staged
    with open(os.path.join(prefix, "lib", "systemd", "system", "siemrelay.service")) as f:
        unit = f.read()
    lines = [l.strip() for l in unit.splitlines()]
    conf = os.path.join(conf_dir(stage, prefix), "siemrelay.yaml")
    want = "ExecStart=%s -c %s" % (unstaged(stage, os.path.join(prefix, "bin", "siemrelay")),
                                   unstaged(stage, conf))
    assert want in lines, unit
    for l in UNIT_LINES:
        assert l in lines, l
    assert not re.search(r"@[A-Z_]+@", unit), "unfilled @VAR@"


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_unit_exposure_as_systemd_rates_it(staged):
    """`systemd-analyze security` (0 best, 10 worst): 1.4 when written; a
    hardening line dropped raises it past 2.0."""
    stage, prefix = staged
    unit = os.path.join(prefix, "lib", "systemd", "system", "siemrelay.service")
    p = subprocess.run(["systemd-analyze", "security", "--offline=yes", unit],
                       capture_output=True, text=True, timeout=60)
    if "--offline" in p.stderr:
        pytest.skip("systemd-analyze has no --offline (systemd < 250)")
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", p.stdout)
    assert m, p.stdout + p.stderr
    assert float(m.group(1)) <= 2.0, p.stdout


def test_check_accepts_the_installed_configuration(staged, tmp_path):
    stage, prefix = staged
    conf = os.path.join(conf_dir(stage, prefix), "siemrelay.yaml")
    p = subprocess.run([os.path.join(prefix, "bin", "siemrelay"), "--check", "-c", conf],
                       capture_output=True, text=True, timeout=60, cwd=str(tmp_path))
    assert p.returncode == 0, p.stderr
    assert "configuration OK" in p.stderr, p.stderr
    # Out of the box, nothing to warn about (every channel has a taker).
    assert not re.search(r"\b(warn|error)\b", p.stderr), p.stderr
    settings = json.loads(p.stdout)["settings"]
    assert settings["data_dir"] == "/var/lib/siemrelay"
    assert settings["inputs"]["http"]["listen"] == "127.0.0.1:8080"
    assert settings["admin"]["listen"] == "127.0.0.1:9090"


def test_installed_binary_uses_the_installed_lua_tree(staged, tmp_path, monkeypatch):
    """A type that only the staged tree has: the gateway can only start, and
    deliver through it, if it reads that tree."""
    stage, prefix = staged
    lua = os.path.join(prefix, "share", "siemrelay", "lua")
    with open(os.path.join(lua, "integrations", "file.lua")) as f:
        text = f.read()
    text, n = re.subn(r'M\.type = "FILE"', 'M.type = "STAGEDFILE"', text)
    assert n == 1
    with open(os.path.join(lua, "integrations", "stagedfile.lua"), "w") as f:
        f.write(text)
    try:
        out = str(tmp_path / "out.jsonl")
        monkeypatch.setenv("SIEMRELAY_BIN", os.path.join(prefix, "bin", "siemrelay"))
        monkeypatch.delenv("SIEMRELAY_LUA_DIR", raising=False)
        gw = Gateway(tmp_path / "gw", [{"name": "staged", "type": "STAGEDFILE",
                                         "channels": ["SECURE_EVENTS_POLICIES"],
                                         "configuration": {"path": out}}]).start()
        try:
            assert re.search(r"siemrelay ready: .*; lua %s$" % re.escape(lua), gw.stderr(),
                             re.M), gw.stderr()
            raw = sample_bytes("policy_event.json")
            event = json.loads(raw)
            r = gw.post(raw)
            assert r.status_code == 200, r.text
            wait_until(lambda: os.path.exists(out) and os.path.getsize(out) > 0, 15,
                       message="no record in " + out)
            with open(out) as f:
                got = json.loads(f.readline())
            assert got["id"] == event["id"]
        finally:
            gw.stop()
    finally:
        os.unlink(os.path.join(lua, "integrations", "stagedfile.lua"))
