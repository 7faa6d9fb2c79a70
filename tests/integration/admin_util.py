"""admin_util.py - shared by the admin write and page tests: tokens, a
gateway with admin.tokens, an admin API client, and a FILE integration that
collects the gateway's own audit trail (PLATFORM_AUDIT)."""

import hashlib
import json
import os
import urllib.parse

import requests

from harness import strict_loads, wait_until

ADMIN_TOKEN = "adm-tok-5f2c9e71d0"
VIEWER_TOKEN = "view-tok-8b31aa40c6"


def sha256_hex(token):
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def tokens_conf():
    return {"tokens": [{"name": "alice", "role": "admin", "sha256": sha256_hex(ADMIN_TOKEN)},
                       {"name": "victor", "role": "viewer", "sha256": sha256_hex(VIEWER_TOKEN)}]}


def audit_sink(workdir):
    """A file-defined FILE integration taking only the platform audit
    channel, and where its lines land."""
    path = os.path.join(str(workdir), "audit-forwarded.jsonl")
    entry = {"name": "audit-archive", "type": "FILE", "channels": ["PLATFORM_AUDIT"],
             "batch": {"max_events": 100, "linger": "20ms"}, "configuration": {"path": path}}
    return entry, path


def read_jsonl(path):
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        return [strict_loads(line) for line in f.read().split(b"\n") if line.strip()]


class Admin:
    """requests against one gateway's admin API with one token (or none)."""

    def __init__(self, gw, token=ADMIN_TOKEN):
        self.gw = gw
        self.token = token

    def headers(self):
        return {"Authorization": "Bearer " + self.token} if self.token else {}

    def call(self, method, path, body=None, raw=None, timeout=30):
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        return requests.request(method, self.gw.admin_url(path), data=data, headers=self.headers(),
                                timeout=timeout)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def create(self, entry):
        return self.call("POST", "/api/integrations", entry)

    def replace(self, name, entry):
        return self.call("PUT", "/api/integrations/" + urllib.parse.quote(name, safe=""), entry)

    def delete(self, name, queued="discard"):
        q = "" if queued is None else "?queued=" + queued
        return self.call("DELETE", "/api/integrations/" + urllib.parse.quote(name, safe="") + q)

    def test(self, name):
        return self.call("POST", "/api/integrations/" + urllib.parse.quote(name, safe="") + "/test")

    def one(self, name):
        r = self.get("/api/integrations/" + urllib.parse.quote(name, safe=""))
        return strict_loads(r.content) if r.status_code == 200 else None

    def names(self):
        r = self.get("/api/integrations")
        assert r.status_code == 200, r.text
        return [o["name"] for o in strict_loads(r.content)]

    def audit(self, limit=100):
        r = self.get("/api/audit?limit=%d" % limit)
        assert r.status_code == 200, r.text
        return strict_loads(r.content)


def wait_audit(path, predicate, timeout=10):
    def find():
        return [e for e in read_jsonl(path) if predicate(e)]

    return wait_until(find, timeout, message="no matching audit event in %s: %r" % (path, read_jsonl(path)[-5:]))
