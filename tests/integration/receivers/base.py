"""base.py - plumbing for protocol receivers other than the webhook
(splunk.py, elastic.py): the webhook receiver's server, request reading
(chunked bodies too), answers, lifecycle and request log, with another
request handler and a few waits.

    class MyHandler(Handler):
        def do_POST(self):
            rcv = self.server.receiver
            req = MyRequest(self.command, self.path, self.headers, self._read_body())
            ...
            rcv._record(req)
            self._answer(status, body_bytes, {"Content-Type": ...})

    class MyReceiver(Receiver):
        handler = MyHandler
        name = "my-receiver"
"""

import time

import threading

try:
    from receivers.webhook import Request as WebhookRequest, WebhookReceiver, _Handler, _Server
except ImportError:  # run as a script from this directory
    from webhook import Request as WebhookRequest, WebhookReceiver, _Handler, _Server


class Request(WebhookRequest):
    """What arrived: method, path, headers (header()), body, status."""

    def __repr__(self):
        return "<%s %s -> %s, %d bytes>" % (self.method, self.path, self.status, len(self.body))


class Handler(_Handler):
    """The webhook handler's reading and answering; subclasses define do_*."""

    server_version = "siemrelay-test-peer"

    def _not_allowed(self):
        self._read_body()
        self._answer(405, b'{"error":"method not allowed"}')

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET = _not_allowed


class Receiver(WebhookReceiver):
    handler = Handler
    name = "receiver"

    def __init__(self, host="127.0.0.1", port=0):
        super().__init__(host=host, port=port)

    def start(self):
        # WebhookReceiver.start with this receiver's handler.
        self._server = _Server((self.host, self.port), self.handler)
        self._server.receiver = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True, name="%s-%d" % (self.name, self.port))
        self._thread.start()
        return self

    def url(self, path=""):
        return "http://%s:%d%s" % (self.host, self.port, path)

    def wait_value(self, get, timeout, message):
        """Waits (on the request log's condition) until get() returns
        something truthy; returns it. get() runs with the lock held."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                v = get()
                if v:
                    return v
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("%s within %.1fs; last requests: %r"
                                         % (message(), timeout, self._requests[-10:]))
                self._cond.wait(min(left, 0.05))

    def wait_matching(self, predicate, n=1, timeout=15.0):
        """Waits until n requests satisfy predicate(request); returns them."""
        def got():
            rs = [r for r in self._requests if predicate(r)]
            return rs if len(rs) >= n else None
        return self.wait_value(got, timeout, lambda: "fewer than %d matching request(s)" % n)


def log_forever(receiver, describe=repr):
    """For running a receiver by hand: prints each request until ^C."""
    seen = 0
    try:
        while True:
            rs = receiver.requests
            for req in rs[seen:]:
                print(describe(req), flush=True)
            seen = len(rs)
            time.sleep(0.1)
    except KeyboardInterrupt:
        pass
    finally:
        receiver.stop()
    return 0
