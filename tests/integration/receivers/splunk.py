#!/usr/bin/python3
"""splunk.py - a strict stand-in for Splunk's HTTP Event Collector (HEC).

It speaks HEC's event endpoint as Splunk does, with Splunk's codes and
bodies, and refuses anything a real HEC would refuse (and a little more:
unknown envelope keys, which HEC would index as nothing useful):

  POST /services/collector/event, /services/collector, /services/collector/event/1.0
    Authorization: Splunk <token>      missing: 401 code 2; not "Splunk ...": 401 code 3;
                                       unknown: 403 code 4; disabled: 403 code 1
    Content-Encoding: gzip             inflated; any other encoding: 415
    body: envelopes concatenated       {"time":..,"host":..,"source":..,"sourcetype":..,
          (whitespace between allowed)  "index":..,"event":..,"fields":{..}}
      no body                          400 code 5 "No data"
      object k not JSON / not an       400 code 6 "Invalid data format", invalid-event-number k
        object / bad key or type
      object k without "event"         400 code 12, invalid-event-number k
      object k with a blank event      400 code 13, invalid-event-number k
      object k with an index the       400 code 7 "Incorrect index", invalid-event-number k
        token may not write
    As in Splunk, the objects before k are indexed and those from k on are not.
    over max_content_length bytes      413, text/plain (splunkd's HTTP layer, before HEC)
  GET /services/collector/health       200 code 17 "HEC is healthy" (no token needed)
  anything else                        404

In-process use (the tests):

    hec = HecReceiver(tokens={"t0k": ["main", "security"]})   # token -> allowed indexes
    hec.start(); url = hec.url()                # base URL, http://127.0.0.1:PORT
    hec.invalid_when(lambda ev: ev.get("id") == "bad")   # such an event: code 6 at its place
    hec.respond_with(503, {"text": "Server is busy", "code": 9}, count=1)
    hec.disable_token("t0k") / hec.enable_token("t0k")
    hec.wait_for(n) -> indexed envelopes (Envelope: .event, .time (Decimal), .time_text, .fields)
    hec.requests                              every request, with its status and HEC reply
    hec.stop()

Envelope `time` is kept both as text and as a Decimal, so a test can check
that nanoseconds arrived exactly; events are parsed with Python's json (ints
exact), as the other tests compare them.
"""

import argparse
import decimal
import gzip
import json
import re
import sys
import zlib

try:
    from receivers.base import Handler, Receiver, Request as BaseRequest, log_forever
except ImportError:  # run as a script from this directory
    from base import Handler, Receiver, Request as BaseRequest, log_forever

COLLECTOR_PATHS = ("/services/collector", "/services/collector/event", "/services/collector/event/1.0")
ENVELOPE_KEYS = {"time", "host", "source", "sourcetype", "index", "event", "fields"}

SUCCESS = {"text": "Success", "code": 0}
HEALTHY = {"text": "HEC is healthy", "code": 17}
TOKEN_DISABLED = (403, {"text": "Token disabled", "code": 1})
TOKEN_REQUIRED = (401, {"text": "Token is required", "code": 2})
INVALID_AUTHORIZATION = (401, {"text": "Invalid authorization", "code": 3})
INVALID_TOKEN = (403, {"text": "Invalid token", "code": 4})
NO_DATA = (400, {"text": "No data", "code": 5})
NOT_FOUND = (404, {"text": "The requested URL was not found on this server.", "code": 404})
# splunkd's HTTP layer refuses an oversize body before HEC sees it; its
# answer is not a HEC code.
TOO_LARGE = b"Content-Length of %d too large (maximum is %d)"
UNSUPPORTED_ENCODING = (415, {"text": "Unsupported Media Type", "code": 415})


def _no_constants(name):
    raise ValueError("not JSON: %s" % name)


_WS = re.compile(r"[ \t\r\n]*")


class Envelope:
    def __init__(self, raw, obj, exact, request_no):
        self.raw = raw            # the object's text as sent
        self.obj = obj            # parsed (floats as float)
        self.event = obj["event"]
        self.time = exact.get("time")   # Decimal (or int), exact
        self.time_text = None if self.time is None else str(self.time)  # the digits as sent
        self.request_no = request_no

    def get(self, key, default=None):
        return self.obj.get(key, default)

    def __repr__(self):
        return "<Envelope %r>" % (self.raw[:200],)


class Request(BaseRequest):
    def __init__(self, method, path, headers, body):
        super().__init__(method, path, headers, body)  # body as received (maybe gzip)
        self.data = None              # inflated
        self.reply = None             # HEC's answer
        self.envelopes = []           # what this request got indexed
        self.objects = 0              # envelopes the body held

    def __repr__(self):
        return "<HEC %s %s -> %s %s, %d bytes, %d object(s)>" % (
            self.method, self.path, self.status, self.reply, len(self.body), self.objects)


def split_envelopes(text):
    """Splits concatenated JSON values as HEC does. Returns [(raw text or
    None, error or None)], stopping at the first unreadable one."""
    out = []
    dec = json.JSONDecoder(parse_constant=_no_constants)
    i = _WS.match(text, 0).end()
    while i < len(text):
        try:
            _, end = dec.raw_decode(text, i)
        except ValueError as e:
            out.append((None, "not JSON at offset %d: %s" % (i, e)))
            return out
        out.append((text[i:end], None))
        i = _WS.match(text, end).end()
    return out


class _Handler(Handler):
    server_version = "Splunkd"

    def _reply(self, req, status, doc):
        req.status, req.reply = status, doc
        self.server.receiver._record(req)
        if isinstance(doc, bytes):
            self._answer(status, doc, {"Content-Type": "text/plain; charset=UTF-8"})
        else:
            self._answer(status, json.dumps(doc, separators=(",", ":")).encode(),
                         {"Content-Type": "application/json; charset=UTF-8", "X-Content-Type-Options": "nosniff"})

    def do_GET(self):
        req = Request("GET", self.path, self.headers, b"")
        if self.path.split("?")[0] == "/services/collector/health":
            self._reply(req, 200, HEALTHY)
        else:
            self._reply(req, *NOT_FOUND)

    def do_POST(self):
        req = Request("POST", self.path, self.headers, self._read_body())
        self._reply(req, *self.server.receiver._handle(req))


class HecReceiver(Receiver):
    handler = _Handler
    name = "hec-receiver"

    def __init__(self, tokens=None, host="127.0.0.1", port=0, max_content_length=None,
                 default_index="main"):
        super().__init__(host=host, port=port)
        # token -> indexes it may write (None: any)
        self.tokens = dict(tokens if tokens is not None else {"00000000-0000-0000-0000-000000000000": None})
        self.disabled = set()
        self.default_index = default_index
        self.max_content_length = max_content_length
        self._indexed = []
        self._invalid = None

    # ---- behaviour ------------------------------------------------------

    def respond_with(self, status, doc, count=1):
        """The next `count` collector requests that pass auth get this
        answer and index nothing."""
        with self._lock:
            self._script.extend([(status, doc)] * count)

    def invalid_when(self, predicate):
        """Events for which predicate(event) is true are refused with code 6
        at their place in the batch, as HEC refuses an object it cannot
        read (the events before it are indexed)."""
        self._invalid = predicate

    def disable_token(self, token):
        with self._lock:
            self.disabled.add(token)

    def enable_token(self, token):
        with self._lock:
            self.disabled.discard(token)

    def _auth(self, req):
        got = req.header("authorization")
        if got is None:
            return None, TOKEN_REQUIRED
        scheme, _, token = got.partition(" ")
        if scheme != "Splunk" or not token:
            return None, INVALID_AUTHORIZATION
        with self._lock:
            if token not in self.tokens:
                return None, INVALID_TOKEN
            if token in self.disabled:
                return None, TOKEN_DISABLED
        return token, None

    def _handle(self, req):
        if req.path.split("?")[0] not in COLLECTOR_PATHS:
            return NOT_FOUND
        if self.max_content_length is not None and len(req.body) > self.max_content_length:
            return 413, TOO_LARGE % (len(req.body), self.max_content_length)
        token, failure = self._auth(req)
        if failure:
            return failure
        body = req.body
        enc = (req.header("content-encoding") or "").strip().lower()
        if enc == "gzip":
            try:
                body = gzip.decompress(body)
            except (OSError, EOFError, zlib.error):
                return 400, {"text": "Invalid data format", "code": 6, "invalid-event-number": 0}
        elif enc not in ("", "identity"):
            return UNSUPPORTED_ENCODING
        req.data = body
        with self._lock:
            if self._script:
                return self._script.pop(0)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return 400, {"text": "Invalid data format", "code": 6, "invalid-event-number": 0}
        pieces = split_envelopes(text)
        req.objects = len(pieces)
        if not pieces:
            return NO_DATA
        allowed = self.tokens[token]
        for k, (raw, err) in enumerate(pieces):
            failure = None
            if err is None:
                failure = self._check(raw, allowed)
            else:
                failure = (6, "Invalid data format")
            if failure is None:
                obj = json.loads(raw, parse_constant=_no_constants)
                exact = json.loads(raw, parse_constant=_no_constants, parse_float=decimal.Decimal)
                if self._invalid is not None and self._invalid(obj["event"]):
                    failure = (6, "Invalid data format")
            if failure is not None:
                code, text_ = failure
                return 400, {"text": text_, "code": code, "invalid-event-number": k}
            env = Envelope(raw, obj, exact, len(self._requests))
            req.envelopes.append(env)
            with self._cond:
                self._indexed.append(env)
                self._cond.notify_all()
        return 200, SUCCESS

    def _check(self, raw, allowed):
        """(code, text) when HEC would refuse this object, else None."""
        try:
            obj = json.loads(raw, parse_constant=_no_constants)
        except ValueError:
            return 6, "Invalid data format"
        if not isinstance(obj, dict) or set(obj) - ENVELOPE_KEYS:
            return 6, "Invalid data format"
        if "event" not in obj:
            return 12, "Event field is required"
        if obj["event"] in ("", None, {}):
            return 13, "Event field cannot be blank"
        if "time" in obj and (isinstance(obj["time"], bool) or not isinstance(obj["time"], (int, float))):
            return 6, "Invalid data format"
        for k in ("host", "source", "sourcetype", "index"):
            if k in obj and not isinstance(obj[k], str):
                return 6, "Invalid data format"
        if "fields" in obj and not isinstance(obj["fields"], dict):
            return 15, "Error in handling indexed fields"
        index = obj.get("index", self.default_index)
        if allowed is not None and index not in allowed:
            return 7, "Incorrect index"
        return None

    # ---- what arrived ---------------------------------------------------

    @property
    def indexed(self):
        with self._lock:
            return list(self._indexed)

    def wait_for(self, n, timeout=15.0):
        """Waits until at least n envelopes were indexed; returns them all."""
        return self.wait_value(lambda: list(self._indexed) if len(self._indexed) >= n else None, timeout,
                               lambda: "HEC indexed %d event(s), expected %d" % (len(self._indexed), n))


def main():
    ap = argparse.ArgumentParser(description="siemrelay test HEC receiver")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8088)
    ap.add_argument("--token", default="00000000-0000-0000-0000-000000000000")
    ap.add_argument("--max-content-length", type=int, default=None)
    a = ap.parse_args()
    r = HecReceiver(tokens={a.token: None}, host=a.host, port=a.port,
                    max_content_length=a.max_content_length).start()
    print("HEC listening on %s" % r.url(), flush=True)
    return log_forever(r)


if __name__ == "__main__":
    sys.exit(main())
