"""The admin API's privilege boundary: integrations defined through it reach
only admin.script_dir (scripts) and admin.files_dir (FILE paths), never
through a symbolic link, never a file the gateway did not create; settings
of the configuration files stay theirs; a stored secret goes only to the
destination it was given for; errors never quote a file's content (answer,
audit trail, log); and the process gives up root once its listeners are
bound (`user:`/`group:`, tested when running as root)."""

import json
import os
import pwd
import grp
import re
import shutil
import subprocess
import tempfile

import pytest

from admin_util import Admin, read_jsonl, tokens_conf, wait_audit
from harness import Gateway, GatewayError, file_integration, gateway_bin, run_cli, sample_bytes, strict_loads, wait_until
from receivers.controlled import ControlledReceiver

SECRET = "hook-secret-9c1d47e2b5"
# What a token file looks like: to Lua a malformed number it would quote.
TOKEN_TEXT = "7f3a9c1e5b2d8f4a6c0e9b7d3f1a5c8e\n"
TOKEN_RX = re.compile(r"7f3a9c1e|5b2d8f4a|3f1a5c8e")

MARK_LUA = """-- writes a marker when it is loaded: proof that it ran
local f = io.open(%r, "w")
if f then f:write("ran") f:close() end
local M = {}
function M.process(ev, ctx)
    ev:set("boundary_tag", "inside")
    return true
end
return M
"""


def policy_events(n, prefix):
    base = json.loads(sample_bytes("policy_event.json"))
    return [dict(base, id="%s-%d" % (prefix, i)) for i in range(n)]


def start(gateway_factory, tmp_path, script_dir=None, files_dir=None, **kw):
    admin = tokens_conf()
    if script_dir is not None:
        admin["script_dir"] = str(script_dir)
    if files_dir is not None:
        admin["files_dir"] = str(files_dir)
    conf = {"admin": admin, "delivery": {"backoff": "100ms", "backoff_max": "200ms", "inhibit": "1s",
                                         "shutdown_timeout": "2s"}}
    conf.update(kw.pop("conf", {}))
    return gateway_factory(kw.pop("integrations", []), conf=conf, **kw)


def file_entry(name, path, **configuration):
    e = file_integration(name, path, channels=["SECURE_EVENTS_POLICIES"], **configuration)
    e["batch"] = {"max_events": 10, "linger": "20ms"}
    return e


def refused(r, field, *words):
    """A 400 about `field` (None: whichever) whose error has every word."""
    assert r.status_code == 400, (r.status_code, r.text)
    body = strict_loads(r.content)
    assert field is None or body["field"] == field, body
    for w in words:
        assert w in body["error"], body
    return body["error"]


def ids_in(path):
    return [e["id"] for e in read_jsonl(str(path))]


def first_id(path):
    lines = read_jsonl(str(path))
    return lines[0]["id"] if lines else None


def api_file_text(gw):
    p = os.path.join(gw.data_dir, "api-integrations.yaml")
    if not os.path.exists(p):
        return ""
    with open(p, encoding="utf-8") as f:
        return f.read()


# ---- scripts ----------------------------------------------------------------


def test_scripts_only_from_script_dir_never_through_a_link(gateway_factory, tmp_path):
    rcv = ControlledReceiver().start()
    try:
        outside = tmp_path / "outside"
        outside.mkdir()
        sdir = tmp_path / "scripts"
        sdir.mkdir()
        out_marker = tmp_path / "outside-ran"
        (outside / "evil.lua").write_text(MARK_LUA % str(out_marker), encoding="utf-8")
        in_marker = tmp_path / "inside-ran"
        (sdir / "tag.lua").write_text(MARK_LUA % str(in_marker), encoding="utf-8")
        os.symlink(str(outside / "evil.lua"), str(sdir / "link.lua"))
        os.symlink(str(outside), str(sdir / "linkdir"))

        def hook(name, scripts):
            return {"name": name, "type": "WEBHOOK", "channels": ["SECURE_EVENTS_POLICIES"],
                    "scripts": scripts, "batch": {"max_events": 10, "linger": "20ms"},
                    "configuration": {"endpoint": rcv.url("/" + name), "output": "ndjson"}}

        # No script_dir: no scripts at all, whatever the path.
        gw = start(gateway_factory, tmp_path / "a")
        admin = Admin(gw)
        refused(admin.create(hook("h", [str(sdir / "tag.lua")])), "scripts", "admin.script_dir is not set")
        assert not in_marker.exists()
        gw.stop()

        gw = start(gateway_factory, tmp_path / "b", script_dir=sdir)
        admin = Admin(gw)
        refused(admin.create(hook("h", [str(outside / "evil.lua")])), "scripts", "is outside")
        refused(admin.create(hook("h", "../outside/evil.lua")), "scripts", "'..'")
        refused(admin.create(hook("h", [{"path": "link.lua", "params": {}}])), "scripts", "symbolic link")
        refused(admin.create(hook("h", ["linkdir/evil.lua"])), "scripts", "symbolic link")
        refused(admin.create(dict(hook("h", []), SCRIPTS=[str(outside / "evil.lua")])), "scripts",
                "is outside")  # keys are case-insensitive to the loader, and here
        refused(admin.create(hook("h", ["nothere.lua"])), "scripts")
        assert not out_marker.exists(), "a refused script ran"
        assert "evil.lua" not in api_file_text(gw)
        assert admin.names() == []

        # Inside: accepted, stored as the absolute path under the directory, and run.
        r = admin.create(hook("h", ["tag.lua"]))
        assert r.status_code == 201, r.text
        assert str(sdir.resolve() / "tag.lua") in api_file_text(gw)
        assert in_marker.exists()
        assert gw.post_ndjson(policy_events(1, "in")).status_code == 200
        wait_until(lambda: rcv.events("/h"), 10)
        assert rcv.events("/h")[0]["boundary_tag"] == "inside"
        # and the way out: replacing it with an outside script is refused, the inside one stays
        refused(admin.replace("h", hook("h", [str(outside / "evil.lua")])), "scripts", "is outside")
        assert str(sdir.resolve() / "tag.lua") in api_file_text(gw)
        assert not out_marker.exists()
    finally:
        rcv.down()


def test_script_swapped_for_a_link_after_the_check_is_not_followed(gateway_factory, tmp_path):
    # The loader reads an API-defined integration's script the way the
    # check did: below admin.script_dir without following a link. A script
    # replaced by a link after it was accepted fails the next load, and the
    # file the link points to never runs.
    rcv = ControlledReceiver().start()
    try:
        sdir, outside = tmp_path / "scripts", tmp_path / "outside"
        sdir.mkdir()
        outside.mkdir()
        out_marker, in_marker = tmp_path / "outside-ran", tmp_path / "inside-ran"
        (outside / "evil.lua").write_text(MARK_LUA % str(out_marker), encoding="utf-8")
        (sdir / "tag.lua").write_text(MARK_LUA % str(in_marker), encoding="utf-8")
        gw = start(gateway_factory, tmp_path / "gw", script_dir=sdir)
        admin = Admin(gw)
        r = admin.create({"name": "h", "type": "WEBHOOK", "channels": ["SECURE_EVENTS_POLICIES"],
                          "scripts": ["tag.lua"], "batch": {"max_events": 10, "linger": "20ms"},
                          "configuration": {"endpoint": rcv.url("/h"), "output": "ndjson"}})
        assert r.status_code == 201, r.text
        os.unlink(str(sdir / "tag.lua"))
        os.symlink(str(outside / "evil.lua"), str(sdir / "tag.lua"))
        r = admin.call("POST", "/api/reload")
        assert r.status_code >= 400, r.text
        assert "symbolic link" in r.text and "tag.lua" in r.text, r.text
        assert not out_marker.exists(), "the loader followed the link"
        gw.wait_stderr(r"configuration reload failed: .*tag\.lua is a symbolic link")
        # the running configuration stays: the accepted script still tags
        assert gw.post_ndjson(policy_events(1, "after")).status_code == 200
        wait_until(lambda: rcv.events("/h"), 10)
        assert rcv.events("/h")[0]["boundary_tag"] == "inside"
        # a restart refuses to run it too
        gw.stop()
        r = run_cli(["--check", "-c", gw.config_path])
        assert r.returncode != 0 and "symbolic link" in r.stderr, r.stderr
        assert not out_marker.exists()
    finally:
        rcv.down()


# ---- files a destination's settings name, and Kafka properties --------------


def test_credential_files_only_under_credentials_dir(gateway_factory, tmp_path):
    # caFile, certFile and keyFile of an API-defined integration name files
    # under admin.credentials_dir only (none when unset), reached without a
    # link; stored settings then hold the absolute path there
    cdir, outside = tmp_path / "creds", tmp_path / "outside"
    cdir.mkdir()
    outside.mkdir()
    (cdir / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    (outside / "ca.pem").write_text("SECRET-CONTENT-1234\n", encoding="utf-8")
    os.symlink(str(outside / "ca.pem"), str(cdir / "link.pem"))

    def hook(ca):
        return {"name": "h", "type": "WEBHOOK", "channels": ["SECURE_EVENTS_POLICIES"],
                "configuration": {"endpoint": "https://127.0.0.1:1/x", "caFile": ca}}

    gw = start(gateway_factory, tmp_path / "a")
    admin = Admin(gw)
    msg = refused(admin.create(hook(str(cdir / "ca.pem"))), None, "admin.credentials_dir", "not set")
    assert admin.names() == []
    gw.stop()

    gw = start(gateway_factory, tmp_path / "b", conf={"admin": dict(tokens_conf(), credentials_dir=str(cdir))})
    admin = Admin(gw)
    for bad, word in ((str(outside / "ca.pem"), "is outside"), ("../outside/ca.pem", "'..'"),
                      ("link.pem", "symbolic link"), ("nothere.pem", "nothere.pem"), ("/etc/passwd", "is outside")):
        msg = refused(admin.create(hook(bad)), None, word)
        assert "SECRET-CONTENT" not in msg
    assert admin.names() == []
    r = admin.create(hook("ca.pem"))
    assert r.status_code == 201, r.text
    gw.stop()


@pytest.mark.parametrize("prop", ["plugin.library.paths", "sasl.kerberos.kinit.cmd", "ssl.engine.location",
                                  "ssl.providers", "ssl.keystore.location", "ssl.crl.location"])
def test_kafka_properties_that_reach_the_machine_are_refused(gateway_factory, tmp_path, prop):
    gw = start(gateway_factory, tmp_path / "gw")
    admin = Admin(gw)
    entry = {"name": "k", "type": "KAFKA", "channels": ["SECURE_EVENTS_POLICIES"],
             "configuration": {"brokers": ["127.0.0.1:1"], "topic": "t",
                               "properties": {prop: "/tmp/x"}}}
    refused(admin.create(entry), None, "property '%s' refused" % prop, "admin API")
    assert admin.names() == []
    # an ordinary tuning property is fine
    entry["configuration"]["properties"] = {"linger.ms": "5"}
    r = admin.create(entry)
    assert r.status_code == 201, r.text
    gw.stop()


def test_non_lua_file_content_never_echoed(gateway_factory, tmp_path):
    sdir = tmp_path / "scripts"
    sdir.mkdir()
    (sdir / "admin.token").write_text(TOKEN_TEXT, encoding="utf-8")
    outside = tmp_path / "secret.token"
    outside.write_text(TOKEN_TEXT, encoding="utf-8")
    site = tmp_path / "site.lua"  # an operator's global script, from the -c file
    site.write_text("return {process = function(ev) return true end}\n", encoding="utf-8")
    gw = start(gateway_factory, tmp_path / "gw", script_dir=sdir, conf={"scripts": [str(site)]})
    admin = Admin(gw)
    entry = {"name": "h", "type": "FILE", "configuration": {"path": "h.jsonl"}}
    # Inside the directory: loaded, fails, and the message keeps FILE:LINE and the kind of error only.
    err = refused(admin.create(dict(entry, scripts=["admin.token"])), None)
    assert "admin.token:1:" in err and "malformed number" in err, err
    # Outside: refused before anything reads it.
    refused(admin.create(dict(entry, scripts=[str(outside)])), "scripts", "is outside")
    wait_audit(os.path.join(gw.data_dir, "audit.jsonl"),
               lambda e: e["content"]["requestUri"] == "/api/integrations" and e["content"]["responseStatusCode"] == 400)
    answers = [admin.get("/api/audit?limit=1000").text, admin.get("/api/integrations").text]
    for text in answers:
        assert not TOKEN_RX.search(text), text
    with open(os.path.join(gw.data_dir, "audit.jsonl"), encoding="utf-8") as f:
        trail = f.read()
    assert "malformed number" in trail  # the failure is recorded, without the content
    assert not TOKEN_RX.search(trail), trail
    # A reload failing on such a file (the -c file's script, overwritten) is scrubbed the same way.
    site.write_text(TOKEN_TEXT, encoding="utf-8")
    r = admin.call("POST", "/api/reload")
    assert r.status_code == 400 and "malformed number" in r.json()["error"], r.text
    assert not TOKEN_RX.search(r.text), r.text
    gw.wait_stderr("configuration reload failed")
    assert not TOKEN_RX.search(gw.stderr())
    assert not TOKEN_RX.search(admin.get("/api/audit?limit=1000").text)
    with open(os.path.join(gw.data_dir, "audit.jsonl"), encoding="utf-8") as f:
        assert not TOKEN_RX.search(f.read())
    # the way back: the script repaired, the reload works
    site.write_text("return {process = function(ev) return true end}\n", encoding="utf-8")
    assert admin.call("POST", "/api/reload").status_code == 200


def test_script_dir_apart_from_what_others_write(tmp_path):
    """Scripts cannot come from a directory holding what senders or the
    API choose the bytes of: the FILE sinks' directory, data_dir."""
    shared = tmp_path / "shared"
    shared.mkdir()
    cases = [("w1", {"script_dir": str(shared), "files_dir": str(shared / "files")}, "admin.files_dir"),
             ("w2", {"script_dir": str(tmp_path / "w2")}, "data_dir")]  # w2 holds w2/data
    for work, admin, what in cases:
        gw = Gateway(tmp_path / work, conf={"admin": dict(tokens_conf(), **admin)})
        with pytest.raises(GatewayError) as e:
            gw.start()
        gw.kill()
        assert "overlap" in str(e.value) and what in str(e.value), str(e.value)[-2000:]


# ---- FILE paths -----------------------------------------------------------------


def test_file_paths_only_under_files_dir_never_through_a_link(gateway_factory, tmp_path):
    files = tmp_path / "files"
    files.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(str(outside), str(files / "linkdir"))
    os.symlink(str(outside / "target.log"), str(files / "link.log"))
    gw = start(gateway_factory, tmp_path / "gw", files_dir=files)
    admin = Admin(gw)
    refused(admin.create(file_entry("f", str(outside / "x.log"))), "configuration.path", "is outside")
    refused(admin.create(file_entry("f", "/etc/cron.d/siemrelay")), "configuration.path", "is outside")
    refused(admin.create(file_entry("f", "../outside/x.log")), "configuration.path", "'..'")
    refused(admin.create(file_entry("f", "linkdir/x.log")), "configuration.path", "symbolic link")
    refused(admin.create(file_entry("f", "link.log")), "configuration.path", "symbolic link")
    assert os.listdir(str(outside)) == []
    assert admin.names() == []

    # Inside (relative to the directory, or absolute under it): written there.
    r = admin.create(file_entry("f", "sub/dir/out.jsonl"))
    assert r.status_code == 201, r.text
    r = admin.create(file_entry("g", str(files / "g.jsonl")))
    assert r.status_code == 201, r.text
    assert gw.post_ndjson(policy_events(3, "f")).status_code == 200
    wait_until(lambda: len(read_jsonl(str(files / "sub/dir/out.jsonl"))) == 3, 10)
    wait_until(lambda: len(read_jsonl(str(files / "g.jsonl"))) == 3, 10)
    # reported written (fsync'ed), so the reload below resends nothing
    wait_until(lambda: all(admin.one(n)["counters"]["delivered"] == 3 for n in ("f", "g")), 10)

    # The sink holds the line itself: a directory swapped for a link after
    # the API's check makes the next open (at a reload) fail, said in the
    # log, and nothing is written outside.
    shutil.rmtree(str(files / "sub"))
    os.symlink(str(outside), str(files / "sub"))
    since = gw.stderr_len()
    assert admin.call("POST", "/api/reload").status_code == 200
    gw.wait_stderr(r"integration 'f' \(FILE\): sub/dir/out\.jsonl: 'sub' is a symbolic link", since=since)
    assert os.listdir(str(outside)) == []
    assert gw.post_ndjson(policy_events(1, "after")).status_code == 200
    wait_until(lambda: "after-0" in ids_in(files / "g.jsonl"), 10)
    assert os.listdir(str(outside)) == []
    # f keeps its event queued, and its status says why
    wait_until(lambda: "symbolic link" in (admin.one("f")["last_error"] or ""), 10)
    assert admin.one("f")["queue"]["events"] >= 1
    # the way out: the link gone, each attempt opening the sink again
    # delivers the queued event without a reload, then a reload is clean too
    os.unlink(str(files / "sub"))
    wait_until(lambda: "after-0" in ids_in(files / "sub/dir/out.jsonl"), 20)
    assert os.listdir(str(outside)) == []
    assert admin.call("POST", "/api/reload").status_code == 200
    assert gw.post_ndjson(policy_events(1, "back")).status_code == 200
    wait_until(lambda: "back-0" in ids_in(files / "sub/dir/out.jsonl"), 10)


def test_existing_file_never_truncated_or_rotated_away(gateway_factory, tmp_path):
    files = tmp_path / "files"
    files.mkdir()
    existing = files / "existing.log"
    existing.write_text("precious line 1\nprecious line 2\n", encoding="utf-8")
    gw = start(gateway_factory, tmp_path / "gw", files_dir=files)
    admin = Admin(gw)
    r = admin.create(file_entry("f", "existing.log", rotate_bytes=1, keep_files=0))
    refused(r, "configuration.path", "was not created by siemrelay")
    assert existing.read_text(encoding="utf-8") == "precious line 1\nprecious line 2\n"
    # A hard link to it is someone else's file too.
    os.link(str(existing), str(files / "hard.log"))
    refused(admin.create(file_entry("f", "hard.log")), "configuration.path", "was not created by siemrelay")

    # Its own file it may rotate away, even with keep_files 0.
    r = admin.create(file_entry("own", "own.log", rotate_bytes=1, keep_files=0))
    assert r.status_code == 201, r.text
    assert gw.post_ndjson(policy_events(3, "own")).status_code == 200
    wait_until(lambda: first_id(files / "own.log") == "own-2", 10)
    # but never a file it did not create that sits where a rotation would put one
    (files / "keep.log.1").write_text("someone else's\n", encoding="utf-8")
    r = admin.create(file_entry("keep", "keep.log", rotate_bytes=1, keep_files=1))
    assert r.status_code == 201, r.text
    assert gw.post_ndjson(policy_events(2, "keep")).status_code == 200
    gw.wait_stderr(r"would replace keep\.log\.1, which siemrelay did not create", timeout=10)
    assert (files / "keep.log.1").read_text(encoding="utf-8") == "someone else's\n"
    assert existing.read_text(encoding="utf-8") == "precious line 1\nprecious line 2\n"

    # After a restart its own files are still its own (the mark is on the file).
    assert admin.delete("keep").status_code == 200
    gw.stop()
    gw2 = Gateway(gw.workdir, conf=gw.user_conf)
    gw2.start()
    try:
        assert Admin(gw2).one("own") is not None
        assert gw2.post_ndjson(policy_events(1, "again")).status_code == 200
        wait_until(lambda: first_id(files / "own.log") == "again-0", 10)
    finally:
        gw2.stop()


# ---- settings and secrets ---------------------------------------------------------


def test_file_only_settings_refused(gateway_factory, tmp_path):
    gw = start(gateway_factory, tmp_path / "gw")
    admin = Admin(gw)
    for key in ("lua_dir", "Integration_Paths", "user", "data_dir"):
        e = file_entry("f", "f.jsonl")
        e[key] = str(tmp_path)
        refused(admin.create(e), key.lower(), "configuration files only")
    assert admin.names() == []
    gw.stop()
    # A hand-edited API file cannot carry them either.
    api = os.path.join(gw.data_dir, "api-integrations.yaml")
    with open(api, "w", encoding="utf-8") as f:
        f.write("lua_dir: %s\nintegrations: []\n" % tmp_path)
    r = run_cli(["--check", "-c", gw.config_path])
    assert r.returncode != 0
    assert "the API file holds only integrations" in r.stderr and "'lua_dir'" in r.stderr, r.stderr
    os.unlink(api)
    assert run_cli(["--check", "-c", gw.config_path]).returncode == 0


def test_changed_destination_needs_the_secret_again(gateway_factory, tmp_path):
    a, b = ControlledReceiver().start(), ControlledReceiver().start()
    try:
        gw = start(gateway_factory, tmp_path / "gw")
        admin = Admin(gw)

        # What this gateway sent: a port of ours may have served another
        # test's receiver before, whose gateway may still be retrying.
        def ours(rcv):
            return [q for q in rcv.requests if b"secret-again-" in q.body]

        def hook(url, secret):
            return {"name": "s", "type": "WEBHOOK", "channels": ["SECURE_EVENTS_POLICIES"],
                    "batch": {"max_events": 10, "linger": "20ms"},
                    "configuration": {"endpoint": url, "auth": "BEARER_TOKEN", "secret": secret}}

        assert admin.create(hook(a.url("/a"), SECRET)).status_code == 201
        # the same destination: "******" keeps the stored secret
        assert admin.replace("s", hook(a.url("/a"), "******")).status_code == 200
        # another endpoint with "******": refused, nothing changes
        err = refused(admin.replace("s", hook(b.url("/b"), "******")), "configuration.secret",
                      "'endpoint' changed", "send 'secret' again")
        assert SECRET not in err
        assert admin.one("s")["configuration"]["endpoint"] == a.url("/a")
        # a destination key added (TLS verification off) counts as a change too
        e = hook(a.url("/a"), "******")
        e["configuration"]["isInsecure"] = True
        refused(admin.replace("s", e), "configuration.secret", "'isInsecure' changed")
        # an escaped key is the same key
        raw = json.dumps(hook(b.url("/b"), "******")).replace('"endpoint"', '"\\u0065ndpoint"')
        r = admin.call("PUT", "/api/integrations/s", raw=raw)
        refused(r, "configuration.secret", "changed")
        assert gw.post_ndjson(policy_events(1, "secret-again-a")).status_code == 200
        wait_until(lambda: ours(a), 10)
        assert not ours(b)
        # with the secret given again: accepted, and it goes there
        assert admin.replace("s", hook(b.url("/b"), "other-secret-3e8f")).status_code == 200
        assert gw.post_ndjson(policy_events(1, "secret-again-b")).status_code == 200
        wait_until(lambda: ours(b), 10)
        assert all(q.header("Authorization") == "Bearer other-secret-3e8f" for q in ours(b))
        assert all(q.header("Authorization") == "Bearer " + SECRET for q in ours(a)), \
            [(q.path, q.header("Authorization"), q.body[:200]) for q in ours(a)]
    finally:
        a.down()
        b.down()


# ---- privileges -----------------------------------------------------------------


def proc_ids(pid):
    ids = {}
    with open("/proc/%d/status" % pid, encoding="utf-8") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("Uid", "Gid", "Groups"):
                ids[k] = v.split()
    return ids


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping privileges needs root")
def test_drops_privileges_after_binding(gateway_factory):
    user = pwd.getpwnam("nobody")
    group = grp.getgrgid(user.pw_gid).gr_name
    work = tempfile.mkdtemp(prefix="siemrelay-priv-")
    try:
        os.chmod(work, 0o755)
        data = os.path.join(work, "data")
        os.makedirs(data)
        os.chown(data, user.pw_uid, user.pw_gid)
        out = os.path.join(data, "files", "priv.jsonl")
        at_start = os.path.join(data, "archive", "a.jsonl")  # file-defined: opened at start
        disk = file_entry("spooled", os.path.join(data, "archive", "s.jsonl"))
        disk["queue"] = {"type": "disk"}
        gw = Gateway(work, integrations=[file_entry("archive", at_start), disk],
                     conf={"user": "nobody", "group": group, "admin": tokens_conf()})
        gw.start()
        try:
            ids = proc_ids(gw.proc.pid)
            assert ids["Uid"] == [str(user.pw_uid)] * 4, ids
            assert ids["Gid"] == [str(user.pw_gid)] * 4, ids
            assert ids["Groups"] in ([], [str(user.pw_gid)]), ids
            assert "running as uid %d" % user.pw_uid in gw.stderr()
            assert "running as root" not in gw.stderr()
            # what it created during start-up is the user's: it can rotate, spool, persist
            for p in (at_start, os.path.dirname(at_start), os.path.join(data, "audit.jsonl"),
                      os.path.join(data, "spool", "spooled")):
                assert os.stat(p).st_uid == user.pw_uid, p
            assert gw.post_ndjson(policy_events(2, "s")).status_code == 200
            wait_until(lambda: len(read_jsonl(at_start)) == 2, 10)
            # it works as that user: an integration created now writes its file as nobody
            r = Admin(gw).create(file_entry("f", "priv.jsonl"))
            assert r.status_code == 201, r.text
            assert gw.post_ndjson(policy_events(2, "p")).status_code == 200
            wait_until(lambda: len(read_jsonl(out)) == 2, 10)
            wait_until(lambda: os.path.exists(os.path.join(data, "state", "f.json")), 10)
            assert os.stat(os.path.join(data, "state", "f.json")).st_uid == user.pw_uid
            assert os.stat(out).st_uid == user.pw_uid
        finally:
            gw.stop()
        # the way back in: without user/group it stays root, and says so
        gw = Gateway(os.path.join(work, "root"), conf={"admin": tokens_conf()})
        gw.start()
        try:
            assert proc_ids(gw.proc.pid)["Uid"][0] == "0"
            gw.wait_stderr(r"running as root with no 'user:' set: .*root's power; set 'user:'", timeout=10)
        finally:
            gw.stop()
        # a user that does not exist: no start
        gw = Gateway(os.path.join(work, "bad"), conf={"user": "no-such-user-5e1c"})
        with pytest.raises(GatewayError) as e:
            gw.start()
        gw.kill()
        assert "no-such-user-5e1c" in str(e.value) and "no such user" in str(e.value)
        # not root, asked to become someone else: no start either
        if shutil.which("setpriv"):
            cfg = os.path.join(work, "nonroot.yaml")
            with open(cfg, "w", encoding="utf-8") as f:
                f.write("user: root\ndata_dir: %s/nr\ninputs: {http: {enabled: false}, tcp: {enabled: false}}\n"
                        "admin: {enabled: false}\n" % work)
            r = subprocess.run(["setpriv", "--reuid=%d" % user.pw_uid, "--regid=%d" % user.pw_gid,
                                "--clear-groups", gateway_bin(), "-c", cfg], stdin=subprocess.DEVNULL,
                               capture_output=True, text=True, timeout=30)
            assert r.returncode == 1, r.stderr
            assert "cannot set the supplementary groups" in r.stderr and "not root" in r.stderr, r.stderr
    finally:
        shutil.rmtree(work, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() == 0, reason="as root the drop succeeds")
def test_refuses_to_start_when_the_drop_fails(tmp_path):
    gw = Gateway(tmp_path, conf={"user": "root"})
    with pytest.raises(GatewayError) as e:
        gw.start()
    gw.kill()
    assert "cannot" in str(e.value)
