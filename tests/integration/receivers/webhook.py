#!/usr/bin/python3
"""webhook.py - a threaded HTTP receiver standing in for a SIEM webhook.

In-process use (the tests):

    r = WebhookReceiver(auth=("basic", "alice", "s3cret"))   # or None,
        # ("bearer", token), ("signature", secret, header_name)
    r.start()
    url = r.url("/hook")
    ...
    events = r.wait_for(3, timeout=10)        # parsed events, 2xx requests only
    r.requests                                 # every request: method, path, headers, body, status
    r.auth_failures                            # requests refused with 401, with the reason
    r.respond_with(503, count=2, retry_after=None)   # the next 2 requests get 503
    r.stop()

As a script (manual debugging):

    webhook.py --port 9000 [--basic user:pass | --bearer TOKEN |
               --signature SECRET [--signature-header NAME]]

prints one line per request.

Every request is recorded, whatever its outcome. Auth is checked before
anything else; a failure answers 401 and is recorded with its reason. Bodies
are parsed into events as: NDJSON (Content-Type application/x-ndjson, one
event per non-empty line), else one JSON document (an object is one event,
an array is its elements). Chunked request bodies and Expect: 100-continue
are handled.
"""

import argparse
import base64
import hashlib
import hmac
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Request:
    def __init__(self, method, path, headers, body):
        self.method = method
        self.path = path
        self.header_items = list(headers.items())  # as received, duplicates kept
        self.headers = {k.lower(): v for k, v in self.header_items}
        self.body = body
        self.status = None
        self.auth_error = None
        self.time = time.monotonic()
        self._events = None

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def header_values(self, name):
        return [v for k, v in self.header_items if k.lower() == name.lower()]

    def events(self):
        if self._events is None:
            self._events = parse_events(self.body, self.header("content-type", ""))
        return list(self._events)

    def __repr__(self):
        return "<Request %s %s status=%s auth_error=%r %d bytes>" % (
            self.method, self.path, self.status, self.auth_error, len(self.body))


def _no_constants(name):
    raise ValueError("not JSON: %s" % name)


def parse_events(body, content_type=""):
    text = body.decode("utf-8")  # strict: invalid UTF-8 from the gateway is a failure
    if content_type.split(";")[0].strip().lower() == "application/x-ndjson":
        return [json.loads(line, parse_constant=_no_constants) for line in text.split("\n") if line.strip()]
    try:
        doc = json.loads(text, parse_constant=_no_constants)
    except ValueError:
        return [json.loads(line, parse_constant=_no_constants) for line in text.split("\n") if line.strip()]
    if isinstance(doc, list):
        return doc
    return [doc]


def check_auth(auth, headers, body):
    """None when the request passes `auth`, else the reason it does not."""
    if auth is None:
        return None
    kind = auth[0]
    if kind == "basic":
        want = "Basic " + base64.b64encode(("%s:%s" % (auth[1], auth[2])).encode("utf-8")).decode("ascii")
        got = headers.get("authorization")
        if got is None:
            return "no Authorization header"
        if not hmac.compare_digest(got.encode("utf-8", "replace"), want.encode("utf-8")):
            return "wrong basic credentials: %r" % got
        return None
    if kind == "bearer":
        want = "Bearer " + auth[1]
        got = headers.get("authorization")
        if got is None:
            return "no Authorization header"
        if not hmac.compare_digest(got.encode("utf-8", "replace"), want.encode("utf-8")):
            return "wrong bearer token: %r" % got
        return None
    if kind == "signature":
        secret, header = auth[1], auth[2]
        got = headers.get(header.lower())
        if got is None:
            return "no %s header" % header
        if not got.startswith("sha256="):
            return "signature header without sha256= prefix: %r" % got
        digest = got[len("sha256="):]
        want = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
        if digest != digest.lower():
            return "signature not lower-case hex: %r" % got
        if not hmac.compare_digest(digest.encode("ascii", "replace"), want.encode("ascii")):
            return "bad signature %r (want %s over %d bytes)" % (got, want, len(body))
        return None
    raise ValueError("unknown auth kind %r" % (kind,))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "siemrelay-test-receiver"

    def log_message(self, fmt, *args):  # keep pytest output clean
        pass

    def _read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    break
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while True:  # trailers
                        t = self.rfile.readline(65537)
                        if not t or t in (b"\r\n", b"\n"):
                            break
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(3)
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _answer(self, status, body=b"", headers=None):
        self.send_response(status)
        hdrs = {"Content-Type": "application/json"}
        hdrs.update(headers or {})
        for k, v in hdrs.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self):
        rcv = self.server.receiver
        body = self._read_body()
        req = Request(self.command, self.path, self.headers, body)
        auth = rcv.auth_for(self.path)
        reason = check_auth(auth, req.headers, body)
        status, extra_headers, resp_body = 200, {}, b'{"ok":true}'
        if reason is not None:
            req.auth_error = reason
            status, resp_body = 401, json.dumps({"error": reason}).encode()
        else:
            scripted = rcv._next_scripted()
            if scripted is not None:
                status, extra_headers, resp_body = scripted
        req.status = status
        rcv._record(req)
        self._answer(status, resp_body, extra_headers)

    do_POST = _handle
    do_PUT = _handle
    do_GET = _handle
    do_DELETE = _handle
    do_PATCH = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class WebhookReceiver:
    def __init__(self, auth=None, host="127.0.0.1", port=0, auth_by_path=None):
        self.auth = auth
        self.auth_by_path = dict(auth_by_path or {})
        self.host = host
        self.port = port
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._requests = []
        self._script = []  # [(status, headers, body)] answered in order
        self._server = None
        self._thread = None

    # ---- lifecycle ------------------------------------------------------

    def start(self):
        self._server = _Server((self.host, self.port), _Handler)
        self._server.receiver = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True, name="webhook-receiver-%d" % self.port)
        self._thread.start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def url(self, path="/hook"):
        return "http://%s:%d%s" % (self.host, self.port, path)

    # ---- behaviour ------------------------------------------------------

    def auth_for(self, path):
        p = path.split("?")[0]
        if p in self.auth_by_path:
            return self.auth_by_path[p]
        return self.auth

    def respond_with(self, status, count=1, retry_after=None, body=b'{"error":"scripted"}'):
        headers = {}
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        with self._lock:
            self._script.extend([(status, headers, body)] * count)

    def _next_scripted(self):
        with self._lock:
            return self._script.pop(0) if self._script else None

    def _record(self, req):
        with self._cond:
            self._requests.append(req)
            self._cond.notify_all()

    # ---- what arrived ---------------------------------------------------

    @property
    def requests(self):
        with self._lock:
            return list(self._requests)

    def requests_for(self, path):
        return [r for r in self.requests if r.path.split("?")[0] == path]

    @property
    def auth_failures(self):
        return [r for r in self.requests if r.auth_error is not None]

    def events(self, path=None):
        out = []
        for r in self.requests:
            if path is not None and r.path.split("?")[0] != path:
                continue
            if r.status is not None and 200 <= r.status < 300:
                out.extend(r.events())
        return out

    def wait_for(self, n, timeout=10.0, path=None):
        """Waits until at least n events were accepted (2xx); returns them all."""
        deadline = time.monotonic() + timeout
        while True:
            evs = self.events(path)
            if len(evs) >= n:
                return evs
            left = deadline - time.monotonic()
            if left <= 0:
                rs = self.requests
                raise AssertionError(
                    "receiver%s got %d event(s), expected %d within %.1fs; last requests: %r; auth failures: %r"
                    % (" " + path if path else "", len(evs), n, timeout, rs[-10:],
                       [r.auth_error for r in rs if r.auth_error][:5]))
            with self._cond:
                self._cond.wait(min(left, 0.05))

    def wait_requests(self, n, timeout=10.0, path=None):
        deadline = time.monotonic() + timeout
        while True:
            rs = self.requests_for(path) if path else self.requests
            if len(rs) >= n:
                return rs
            if time.monotonic() >= deadline:
                raise AssertionError("receiver got %d request(s), expected %d within %.1fs: %r"
                                     % (len(rs), n, timeout, rs))
            time.sleep(0.02)


def main():
    ap = argparse.ArgumentParser(description="siemrelay test webhook receiver")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--basic", metavar="USER:PASS")
    g.add_argument("--bearer", metavar="TOKEN")
    g.add_argument("--signature", metavar="SECRET")
    ap.add_argument("--signature-header", default="X-Siemrelay-Signature")
    a = ap.parse_args()
    auth = None
    if a.basic:
        user, _, pw = a.basic.partition(":")
        auth = ("basic", user, pw)
    elif a.bearer:
        auth = ("bearer", a.bearer)
    elif a.signature:
        auth = ("signature", a.signature, a.signature_header)
    r = WebhookReceiver(auth=auth, host=a.host, port=a.port).start()
    print("listening on %s" % r.url("/"), flush=True)
    seen = 0
    try:
        while True:
            rs = r.requests
            for req in rs[seen:]:
                print("%s %s -> %s%s: %s" % (req.method, req.path, req.status,
                                             " (%s)" % req.auth_error if req.auth_error else "",
                                             req.body[:2000].decode("utf-8", "replace")), flush=True)
            seen = len(rs)
            time.sleep(0.1)
    except KeyboardInterrupt:
        pass
    finally:
        r.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
