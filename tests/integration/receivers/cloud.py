"""cloud.py - what the Azure, SQS and IBM receivers share, on base.py's
plumbing: one handler for every method that hands each request to the
receiver's route(), answers it and records it with its kind; scripted
failures per kind; issued bearer tokens that can be expired at once; a
strict JSON reader; polling waits.

    class MyReceiver(CloudReceiver):
        name = "my-receiver"
        def route(self, req):            # -> (kind, handler) or raise Refuse(404, ...)
            return "api", self._api
        def _api(self, req):             # -> (status, doc or bytes or None[, headers])
            ...

    r.fail("api", 503, {"error": "busy"}, count=1, headers={"Retry-After": "1"})
    r.of("api")                          # the requests of a kind, in order
    r.wait(lambda: len(r.of("api")) >= 2)
"""

import json
import secrets
import threading
import time

try:
    from receivers.base import Handler, Receiver, Request
except ImportError:  # run as a script from this directory
    from base import Handler, Receiver, Request


class Refuse(Exception):
    """An answer other than success: status, document (dict, bytes or
    None) and extra headers."""

    def __init__(self, status, doc=None, headers=None):
        super().__init__("%d %r" % (status, doc))
        self.status = status
        self.doc = doc
        self.headers = headers or {}


def _no_constants(name):
    raise ValueError("not JSON: %s" % name)


def strict_json(data):
    """JSON (exact integers, no NaN), from strict UTF-8; raises ValueError."""
    if isinstance(data, (bytes, bytearray)):
        data = bytes(data).decode("utf-8")
    return json.loads(data, parse_constant=_no_constants)


class CloudRequest(Request):
    kind = None     # what route() called it ("token", "logs", ...)
    reply = None    # the document answered

    def __repr__(self):
        return "<%s %s %s -> %s %r>" % (self.kind, self.method, self.path, self.status,
                                        self.reply if not isinstance(self.reply, bytes) else self.reply[:80])


class _Handler(Handler):
    def _dispatch(self):
        rcv = self.server.receiver
        req = CloudRequest(self.command, self.path, self.headers, self._read_body())
        status, body, headers = rcv._serve(req)
        self._answer(status, body, headers)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _dispatch


class Tokens:
    """Bearer tokens a receiver issued: valid until they expire or
    expire_all() is called (as if the platform had revoked them)."""

    def __init__(self, prefix):
        self.prefix = prefix
        self._lock = threading.Lock()
        self._live = {}     # token -> (expiry, what it was issued for)
        self.issued = []

    def issue(self, lifetime, grant=None):
        tok = "%s-%s" % (self.prefix, secrets.token_urlsafe(24))
        with self._lock:
            self._live[tok] = (time.time() + lifetime, grant)
            self.issued.append(tok)
        return tok

    def grant(self, token):
        """What the token was issued for, or None when it is not (or no
        longer) valid."""
        with self._lock:
            v = self._live.get(token)
            if v is None or v[0] < time.time():
                return None
            return v[1] if v[1] is not None else True

    def expire_all(self):
        with self._lock:
            self._live.clear()


def bearer_of(req):
    got = req.header("authorization") or ""
    scheme, _, token = got.partition(" ")
    return token if scheme == "Bearer" and token else None


class CloudReceiver(Receiver):
    handler = _Handler

    def __init__(self, host="127.0.0.1", port=0):
        super().__init__(host=host, port=port)
        self._failures = {}

    # ---- behaviour ------------------------------------------------------

    def route(self, req):
        raise Refuse(404, {"error": "not found"})

    def fail(self, kind, status, doc=None, count=1, headers=None):
        """The next `count` requests of this kind get this answer, before
        anything else is checked or stored."""
        with self._lock:
            self._failures.setdefault(kind, []).extend([(status, doc, dict(headers or {}))] * count)

    def _scripted(self, kind):
        with self._lock:
            q = self._failures.get(kind)
            return q.pop(0) if q else None

    def _serve(self, req):
        headers = {}
        try:
            kind, fn = self.route(req)
            req.kind = kind
            scripted = self._scripted(kind)
            if scripted is not None:
                status, doc, headers = scripted
            else:
                out = fn(req)
                status, doc = out[0], out[1]
                headers = out[2] if len(out) > 2 else {}
        except Refuse as r:
            status, doc, headers = r.status, r.doc, r.headers
        req.status, req.reply = status, doc
        self._record(req)
        if doc is None:
            body = b""
        elif isinstance(doc, bytes):
            body = doc
        else:
            body = json.dumps(doc, separators=(",", ":")).encode()
        h = {"Content-Type": "application/json; charset=utf-8"}
        h.update(headers)
        return status, body, h

    # ---- what arrived ---------------------------------------------------

    def of(self, kind, status=None):
        return [r for r in self.requests if r.kind == kind and (status is None or r.status == status)]

    def wait(self, predicate, timeout=15.0, message=None):
        """Polls predicate() (which may read the request log) until truthy."""
        from harness import wait_until  # the tests' own poller (not needed to run a receiver by hand)
        try:
            return wait_until(predicate, timeout)
        except AssertionError:
            raise AssertionError("%s within %.1fs; last requests: %r"
                                 % (message or "condition not met", timeout, self.requests[-8:])) from None
