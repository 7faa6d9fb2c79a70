#!/usr/bin/python3
"""elastic.py - a strict stand-in for Elasticsearch's _bulk API.

It answers as Elasticsearch 8 does, with its statuses and error shapes:

  POST /_bulk, /<index>/_bulk
    auth (one of):  ("basic", user, password)  Authorization: Basic base64(user:password)
                    ("bearer", token)          Authorization: Bearer <token>
                    ("apikey", id, key)        Authorization: ApiKey base64(id:key)
      missing: 401 security_exception "missing authentication credentials ...",
      wrong:   401 security_exception "unable to authenticate ..." (with WWW-Authenticate)
    Content-Type    application/x-ndjson or application/json, else 406
    body            over max_content_length: 413 (empty body, as the HTTP layer answers);
                    not ending in "\\n": 400 illegal_argument_exception;
                    pairs of lines: an action line and a source line. Only `create`
                    is accepted (this gateway must send create with _id, so that a
                    retry cannot duplicate): another action, a missing _id or _index,
                    or an unreadable action line: 400 for the whole request
    per item        201 created; 409 version_conflict_engine_exception when the id
                    exists; 400 invalid_index_name_exception for a bad index name;
                    400 mapper_parsing_exception when the source is not a JSON
                    object; scripted 400/403/429/503 (below)
    answer          {"took":N,"errors":bool,"items":[{"create":{...,"status":N}}]},
                    filtered by ?filter_path= as Elasticsearch filters it
  anything else     404 / 405

In-process use (the tests):

    es = ElasticReceiver(auth=("basic", "elastic", "changeme"), max_content_length=None)
    es.start(); url = es.url()
    es.reject_when(pred, status=400, type="mapper_parsing_exception")   # for good
    es.fail_when(pred, times=2, status=429, type="es_rejected_execution_exception")
    es.respond_with(503, count=1, store=False)   # whole-request answers; store=True
                                                 # stores the documents first (a lost answer)
    es.seed(index, id, doc)                      # a document already stored
    es.wait_for(n) -> {(index, id): doc}         # stored documents
    es.created                                   # [(index, id)] in creation order (duplicates impossible)
    es.requests                                  # every request, status, parsed response
    es.stop()
"""

import argparse
import base64
import fnmatch
import hmac
import json
import sys
import time
import uuid

try:
    from receivers.base import Handler, Receiver, Request as BaseRequest, log_forever
except ImportError:  # run as a script from this directory
    from base import Handler, Receiver, Request as BaseRequest, log_forever

BAD_INDEX_CHARS = set('\\/*?"<>| ,#:')


def _no_constants(name):
    raise ValueError("not JSON: %s" % name)


def es_error(status, etype, reason, root=True, **extra):
    err = {"type": etype, "reason": reason}
    err.update(extra)
    doc = {"error": dict(err), "status": status}
    if root:
        doc["error"] = {"root_cause": [dict(err)], **err}
    return doc


def filter_doc(doc, patterns):
    """Elasticsearch's filter_path: dotted paths, `*` matching one key (and
    `**` any depth); arrays are filtered element by element and elements
    left empty are dropped."""
    paths = [p.split(".") for p in patterns if p]

    def walk(node, ps):
        if isinstance(node, list):
            out = []
            for el in node:
                f = walk(el, ps)
                if f is not _DROP:
                    out.append(f)
            return out if out else _DROP
        if not isinstance(node, dict):
            return _DROP
        out = {}
        for key, value in node.items():
            rest, whole = [], False
            for p in ps:
                if p[0] == "**":
                    rest.append(p)          # ** may match more levels
                    if len(p) > 1:
                        if fnmatch.fnmatchcase(key, p[1]):
                            if len(p) == 2:
                                whole = True
                            else:
                                rest.append(p[2:])
                    continue
                if fnmatch.fnmatchcase(key, p[0]):
                    if len(p) == 1:
                        whole = True
                    else:
                        rest.append(p[1:])
            if whole:
                out[key] = value
            elif rest:
                f = walk(value, rest)
                if f is not _DROP:
                    out[key] = f
        return out if out else _DROP

    r = walk(doc, paths)
    return {} if r is _DROP else r


_DROP = object()


class Request(BaseRequest):
    def __init__(self, method, path, headers, body):
        super().__init__(method, path, headers, body)
        self.response = None       # parsed answer, as sent (filtered)
        self.full_response = None  # before filter_path
        self.actions = []          # [(index, id)] of the request, in order

    def __repr__(self):
        return "<ES %s %s -> %s, %d bytes, %d action(s)>" % (self.method, self.path, self.status,
                                                             len(self.body), len(self.actions))


class _Handler(Handler):
    server_version = "elasticsearch-test"

    def _handle(self):
        rcv = self.server.receiver
        req = Request(self.command, self.path, self.headers, self._read_body())
        status, doc, headers = rcv._handle(req)
        req.status = status
        payload = b""
        headers = dict(headers or {}, **{"X-elastic-product": "Elasticsearch"})
        if doc is not None:
            req.full_response = doc
            query = self.path.partition("?")[2]
            fp = [v for k, _, v in (kv.partition("=") for kv in query.split("&")) if k == "filter_path"]
            if fp:
                doc = filter_doc(doc, ",".join(fp).split(","))
            req.response = doc
            payload = json.dumps(doc, separators=(",", ":")).encode()
        rcv._record(req)
        self._answer(status, payload, headers)

    do_POST = do_PUT = do_GET = _handle


class ElasticReceiver(Receiver):
    handler = _Handler
    name = "es-receiver"

    def __init__(self, auth=None, host="127.0.0.1", port=0, max_content_length=None):
        super().__init__(host=host, port=port)
        self.auth = auth
        self.max_content_length = max_content_length
        self._docs = {}           # (index, id) -> source
        self._created = []
        self._seq = 0
        self._rejects = []        # (pred, status, type, reason)
        self._failures = []       # [pred, times left, status, type, reason]
        self._script = []         # (status, store)

    # ---- behaviour ------------------------------------------------------

    def reject_when(self, pred, status=400, type="mapper_parsing_exception",
                    reason="failed to parse field [severity] of type [long]"):
        with self._lock:
            self._rejects.append((pred, status, type, reason))

    def fail_when(self, pred, times=1, status=429, type="es_rejected_execution_exception",
                  reason="rejected execution of coordinating operation"):
        """The first `times` attempts at each matching document fail."""
        with self._lock:
            self._failures.append([pred, times, status, type, reason, {}])

    def respond_with(self, status, count=1, store=False):
        """The next `count` _bulk requests that pass auth get `status` for the
        whole request; with store=True their documents are stored first (the
        answer got lost on the way, as far as the sender can tell)."""
        with self._lock:
            self._script.extend([(status, store)] * count)

    def seed(self, index, doc_id, doc):
        with self._lock:
            self._docs[(index, doc_id)] = doc

    def _check_auth(self, req):
        if self.auth is None:
            return None
        got = req.header("authorization")
        where = "[%s]" % req.path.split("?")[0]
        challenge = {"WWW-Authenticate": 'Basic realm="security" charset="UTF-8"'}
        if got is None:
            return (401, es_error(401, "security_exception",
                                  "missing authentication credentials for REST request " + where), challenge)
        kind = self.auth[0]
        if kind == "basic":
            want = "Basic " + base64.b64encode(("%s:%s" % (self.auth[1], self.auth[2])).encode()).decode()
            who = "[%s]" % self.auth[1]
        elif kind == "bearer":
            want, who = "Bearer " + self.auth[1], "with provided credentials"
        elif kind == "apikey":
            want = "ApiKey " + base64.b64encode(("%s:%s" % (self.auth[1], self.auth[2])).encode()).decode()
            who = "with provided credentials"
        else:
            raise ValueError("unknown auth %r" % (kind,))
        if not hmac.compare_digest(got.encode("utf-8", "replace"), want.encode()):
            if kind == "basic":
                reason = "unable to authenticate user %s for REST request %s" % (who, where)
            else:
                reason = "unable to authenticate %s for REST request %s" % (who, where)
            return 401, es_error(401, "security_exception", reason), challenge
        return None

    def _handle(self, req):
        path = req.path.split("?")[0]
        parts = [p for p in path.split("/") if p]
        if not parts or parts[-1] != "_bulk" or len(parts) > 2:
            return 404, es_error(404, "no_handler_found", "no handler found for uri [%s]" % path,
                                 root=False), None
        if req.method not in ("POST", "PUT"):
            return 405, es_error(405, "method_not_allowed", "Incorrect HTTP method for uri [%s] and method "
                                 "[%s], allowed: [POST, PUT]" % (path, req.method), root=False), None
        if self.max_content_length is not None and len(req.body) > self.max_content_length:
            return 413, None, None
        failure = self._check_auth(req)
        if failure:
            return failure
        ctype = (req.header("content-type") or "").split(";")[0].strip().lower()
        if ctype not in ("application/x-ndjson", "application/json"):
            return 406, {"error": "Content-Type header [%s] is not supported" % req.header("content-type"),
                         "status": 406}, None
        path_index = parts[0] if len(parts) == 2 else None
        if not req.body.endswith(b"\n"):
            return 400, es_error(400, "illegal_argument_exception",
                                 "The bulk request must be terminated by a newline [\\n]"), None
        try:
            lines = req.body.decode("utf-8").split("\n")[:-1]
        except UnicodeDecodeError:
            return 400, es_error(400, "parse_exception", "request body is not UTF-8"), None
        if not lines:
            return 400, es_error(400, "action_request_validation_exception",
                                 "Validation Failed: 1: no requests added;"), None
        actions = []
        for n in range(0, len(lines), 2):
            line_no = n + 1
            try:
                action = json.loads(lines[n], parse_constant=_no_constants)
            except ValueError as e:
                return 400, es_error(400, "x_content_parse_exception",
                                     "[%d:1] Unexpected character: %s" % (line_no, e)), None
            if not isinstance(action, dict) or len(action) != 1:
                return 400, es_error(400, "illegal_argument_exception",
                                     "Malformed action/metadata line [%d], expected START_OBJECT" % line_no), None
            (verb, meta), = action.items()
            if verb != "create":
                return 400, es_error(400, "illegal_argument_exception",
                                     "this receiver accepts only create actions, got [%s] on line [%d]"
                                     % (verb, line_no)), None
            if not isinstance(meta, dict) or set(meta) - {"_index", "_id"}:
                return 400, es_error(400, "illegal_argument_exception",
                                     "Action/metadata line [%d] contains an unknown parameter" % line_no), None
            index = meta.get("_index", path_index)
            doc_id = meta.get("_id")
            if not isinstance(index, str) or not isinstance(doc_id, str) or not doc_id:
                return 400, es_error(400, "action_request_validation_exception",
                                     "Validation Failed: 1: index and _id are required on line [%d];"
                                     % line_no), None
            if n + 1 >= len(lines):
                return 400, es_error(400, "illegal_argument_exception",
                                     "The bulk request must be terminated by a newline [\\n]"), None
            actions.append((index, doc_id, lines[n + 1]))
        req.actions = [(i, d) for i, d, _ in actions]
        with self._lock:
            script = self._script.pop(0) if self._script else None
        if script and not script[1]:
            return script[0], es_error(script[0], "scripted_exception", "scripted failure"), None
        start = time.monotonic()
        items, errors = [], False
        for index, doc_id, source in actions:
            item = self._create(index, doc_id, source)
            errors = errors or "error" in item
            items.append({"create": item})
        if script:
            return script[0], es_error(script[0], "scripted_exception", "answer lost after storing"), None
        took = int((time.monotonic() - start) * 1000)
        return 200, {"took": took, "errors": errors, "items": items}, None

    def _create(self, index, doc_id, source_text):
        base = {"_index": index, "_id": doc_id}

        def error(status, etype, reason, **extra):
            e = dict(base)
            e["status"] = status
            e["error"] = {"type": etype, "reason": reason, **extra}
            return e

        if (index != index.lower() or index.startswith(("-", "_", "+")) or index in (".", "..")
                or set(index) & BAD_INDEX_CHARS or len(index.encode()) > 255):
            return error(400, "invalid_index_name_exception",
                         "Invalid index name [%s], must be lowercase" % index, index=index)
        try:
            source = json.loads(source_text, parse_constant=_no_constants)
        except ValueError as e:
            return error(400, "document_parsing_exception", "[1:1] failed to parse: %s" % e)
        if not isinstance(source, dict):
            return error(400, "mapper_parsing_exception", "failed to parse, document is empty")
        with self._cond:
            for pred, status, etype, reason in self._rejects:
                if pred(source):
                    return error(status, etype, reason)
            for f in self._failures:
                pred, times, status, etype, reason, seen = f
                if pred(source):
                    key = (index, doc_id)
                    seen[key] = seen.get(key, 0) + 1
                    if seen[key] <= times:
                        return error(status, etype, reason)
            key = (index, doc_id)
            if key in self._docs:
                return error(409, "version_conflict_engine_exception",
                             "[%s]: version conflict, document already exists (current version [1])" % doc_id,
                             index_uuid=uuid.uuid5(uuid.NAMESPACE_DNS, index).hex[:22], shard="0",
                             index=index)
            self._docs[key] = source
            self._created.append(key)
            self._seq += 1
            seq = self._seq
            self._cond.notify_all()
        item = dict(base)
        item.update({"_version": 1, "result": "created",
                     "_shards": {"total": 2, "successful": 1, "failed": 0},
                     "_seq_no": seq - 1, "_primary_term": 1, "status": 201})
        return item

    # ---- what arrived ---------------------------------------------------

    @property
    def docs(self):
        with self._lock:
            return dict(self._docs)

    @property
    def created(self):
        with self._lock:
            return list(self._created)

    def wait_for(self, n, timeout=15.0):
        """Waits until at least n documents were created; returns the store."""
        return self.wait_value(lambda: dict(self._docs) if len(self._created) >= n else None, timeout,
                               lambda: "Elasticsearch stored %d document(s), expected %d" % (len(self._created), n))


def main():
    ap = argparse.ArgumentParser(description="siemrelay test Elasticsearch _bulk receiver")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=9200)
    ap.add_argument("--basic", metavar="USER:PASS")
    ap.add_argument("--max-content-length", type=int, default=None)
    a = ap.parse_args()
    auth = None
    if a.basic:
        user, _, pw = a.basic.partition(":")
        auth = ("basic", user, pw)
    r = ElasticReceiver(auth=auth, host=a.host, port=a.port, max_content_length=a.max_content_length).start()
    print("Elasticsearch _bulk listening on %s" % r.url(), flush=True)
    return log_forever(r, lambda req: "%r %s" % (req, json.dumps(req.response)[:500]))


if __name__ == "__main__":
    sys.exit(main())
