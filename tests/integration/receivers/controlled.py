"""controlled.py - an HTTP receiver whose behaviour the test changes while
the gateway runs, for the delivery tests (tests/integration/test_delivery_*).

    r = ControlledReceiver().start()
    url = r.url("/hook")
    r.down()                 # stop listening: connections are refused
    r.up()                   # listen again, on the same port
    r.fail(503)              # answer every request with 503 until r.ok()
    r.fail(503, count=2)     # the next two requests get 503, then normal
    r.fail(400, body=b'{"error":"bad format"}')
    r.slow(0.5)              # wait 0.5 s before answering (0 = not slow)
    r.ok()                   # 200 for everything (the default)
    r.handler = fn           # fn(Request) -> (status, headers dict, body bytes)
                             # or None for the default; takes precedence over
                             # fail() when set

Every request that reached a handler is recorded, with its arrival time
(time.monotonic()), its parsed events and the status it got:

    r.requests               # [Request]
    r.accepted_events()      # events of 2xx requests, in arrival order
    r.wait_events(n, timeout)
    r.wait_requests(n, timeout)
    r.wait(predicate, timeout)

Requests are parsed as NDJSON (the WEBHOOK `output: ndjson` framing) and,
failing that, as one JSON document. The receiver never raises into the
gateway: a body it cannot parse is recorded with events() == [] and
parse_error set.
"""

import json
import socket
import threading
import time
from receivers import webhook


class Request:
    def __init__(self, method, path, headers, body):
        self.method = method
        self.path = path
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.body = body
        self.time = time.monotonic()
        self.status = None
        self.parse_error = None
        self._events = None

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def events(self):
        if self._events is None:
            try:
                text = self.body.decode("utf-8")
                lines = [ln for ln in text.split("\n") if ln.strip()]
                try:
                    self._events = [json.loads(ln) for ln in lines]
                except ValueError:
                    doc = json.loads(text)
                    self._events = doc if isinstance(doc, list) else [doc]
            except ValueError as e:
                self.parse_error = str(e)
                self._events = []
        return list(self._events)

    def ids(self):
        return [e.get("id") for e in self.events()]

    def __repr__(self):
        return "<Request %s %s status=%s %d event(s) t=%.3f>" % (
            self.method, self.path, self.status, len(self.events()), self.time)


class _Handler(webhook._Handler):
    """webhook.py's handler (body reading, chunked included, and answers)
    with this receiver's behaviour."""
    server_version = "siemrelay-controlled-receiver"
    # Headers and body go in separate writes: without TCP_NODELAY the body
    # waits for the gateway's delayed ACK (40 ms on Linux) and every request
    # would take that long, which hides latency and scheduling effects.
    disable_nagle_algorithm = True

    def _handle(self):
        rcv = self.server.receiver
        body = self._read_body()
        if rcv._server is not self.server:
            # The receiver went down while this kept-alive connection was
            # open: behave like a dead peer (reset, no answer, not recorded).
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        req = Request(self.command, self.path, self.headers, body)
        status, headers, resp = rcv._decide(req)
        delay = rcv._delay
        if delay > 0:
            time.sleep(delay)
        req.status = status
        rcv._record(req)
        try:
            self._answer(status, resp, headers)
        except OSError:
            pass  # the gateway gave up on the request (timeout): fine

    do_POST = _handle
    do_PUT = _handle
    do_GET = _handle
    do_DELETE = _handle
    do_PATCH = _handle


class _Server(webhook._Server):
    request_queue_size = 64

    def __init__(self, *a, **kw):
        self.conns = set()
        self.conns_lock = threading.Lock()
        super().__init__(*a, **kw)

    def process_request(self, request, client_address):
        with self.conns_lock:
            self.conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self.conns_lock:
            self.conns.discard(request)
        super().shutdown_request(request)

    def drop_connections(self):
        with self.conns_lock:
            conns = list(self.conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class ControlledReceiver(webhook.WebhookReceiver):
    """A WebhookReceiver (no auth) whose behaviour the test changes; the
    recording and its queries (requests, events(), wait_requests) are the
    parent's."""

    def __init__(self, host="127.0.0.1", port=0):
        super().__init__(auth=None, host=host, port=port)
        self._fail = None  # [status, headers, body, count or None]
        self._delay = 0.0
        self.handler = None

    # ---- lifecycle ------------------------------------------------------

    def start(self):
        self.up()
        return self

    def up(self):
        """Listens (again) on the receiver's port."""
        if self._server is not None:
            return self
        last = None
        for _ in range(100):  # the port can be briefly unavailable after down()
            try:
                srv = _Server((self.host, self.port), _Handler)
                break
            except OSError as e:
                last = e
                time.sleep(0.05)
        else:
            raise AssertionError("receiver cannot listen on port %d again: %s" % (self.port, last))
        srv.receiver = self
        self.port = srv.server_address[1]
        self._server = srv
        self._thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True, name="controlled-receiver-%d" % self.port)
        self._thread.start()
        return self

    def down(self):
        """Stops listening: new connections are refused. Connections the
        gateway keeps alive are closed too (their handler threads end at
        the next request)."""
        srv, self._server = self._server, None
        if srv is None:
            return self
        srv.shutdown()
        srv.server_close()
        srv.drop_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        return self

    def is_up(self):
        return self._server is not None

    stop = down

    # ---- behaviour ------------------------------------------------------

    def ok(self):
        with self._lock:
            self._fail = None
            self._delay = 0.0
        return self

    def fail(self, status, count=None, body=b'{"error":"scripted failure"}', retry_after=None):
        headers = {}
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        with self._lock:
            self._fail = [status, headers, body, count]
        return self

    def slow(self, seconds):
        with self._lock:
            self._delay = float(seconds)
        return self

    def _decide(self, req):
        h = self.handler
        if h is not None:
            out = h(req)
            if out is not None:
                return out
        with self._lock:
            f = self._fail
            if f is not None:
                status, headers, body, count = f
                if count is not None:
                    f[3] = count - 1
                    if f[3] <= 0:
                        self._fail = None
                return status, headers, body
        return 200, {}, b'{"ok":true}'

    def accepted_events(self):
        """Events of the requests answered 2xx, in arrival order."""
        return self.events()

    def accepted_ids(self):
        return [e.get("id") for e in self.accepted_events()]

    def wait(self, predicate, timeout, message=None):
        """Waits until predicate(receiver) is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        while True:
            v = predicate(self)
            if v:
                return v
            left = deadline - time.monotonic()
            if left <= 0:
                rs = self.requests
                raise AssertionError((message or "receiver condition not met within %.1fs" % timeout)
                                     + "; %d request(s), last: %r" % (len(rs), rs[-5:]))
            with self._cond:
                self._cond.wait(min(left, 0.05))

    def wait_events(self, n, timeout=20.0):
        return self.wait(lambda r: len(r.accepted_events()) >= n and r.accepted_events(), timeout,
                         "receiver accepted fewer than %d event(s)" % n)
