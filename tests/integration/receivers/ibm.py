#!/usr/bin/python3
"""ibm.py - a strict local stand-in for IBM Cloud IAM's API-key grant and the
Security Advisor Findings API (Grafeas-based notes and occurrences), on one
port.

  POST /identity/token     form grant_type=urn:ibm:params:oauth:grant-type:apikey&apikey=K
      Content-Type must be application/x-www-form-urlencoded; an unknown key:
      400 {"errorCode":"BXNIM0415E","errorMessage":"Provided API key could not be
      found.",...}; another grant type: 400 BXNIM0109E; else 200 {access_token,
      refresh_token "not_supported", token_type Bearer, expires_in, expiration,
      scope}
  /findings/v1/<account>/providers/<provider>/notes[/<id>], .../occurrences
      Authorization: Bearer <a token issued here, not expired>: else 401; an
      account the token's key does not belong to: 403
      GET  notes/<id>      200 the note, 404 when there is none
      POST notes           ApiNote: kind, id, short_description, long_description,
                           reported_by {id, title[, url]} required; a FINDING note
                           needs finding.severity (LOW, MEDIUM, HIGH, CRITICAL);
                           unknown fields 400; an existing id 409; 200 the note
      POST occurrences     ApiOccurrence: note_name, kind, id required; note_name
                           "<account>/providers/<provider>/notes/<id>" of this
                           provider; its note must exist (404); kind must be the
                           note's; finding.severity and certainty valid;
                           next_steps [{title[, url]}]; context fields known;
                           reference_data an object; unknown fields 400; an
                           existing id 409; 200 the occurrence
  Errors are IBM's {"trace","errors":[{"code","message"}],"status_code"}.

In tests:
    ibm = IbmReceiver(api_keys={"key-1": "acct-1"}).start()
    ibm.iam_url(); ibm.findings_url()
    ibm.notes, ibm.occurrences       # dicts by (account, provider, id), as stored
    ibm.expire_tokens(); ibm.fail("occurrence", 503, {...})
    ibm.stop()
"""

import re
import secrets
import sys
import time
import urllib.parse

try:
    from receivers.base import log_forever
    from receivers.cloud import CloudReceiver, Refuse, Tokens, bearer_of, strict_json
except ImportError:  # run as a script from this directory
    from base import log_forever
    from cloud import CloudReceiver, Refuse, Tokens, bearer_of, strict_json

GRANT = "urn:ibm:params:oauth:grant-type:apikey"
SEVERITIES = {"LOW", "MEDIUM", "HIGH", "CRITICAL"}
CERTAINTIES = {"LOW", "MEDIUM", "HIGH"}
KINDS = {"FINDING", "KPI", "CARD", "CARD_CONFIGURED", "SECTION"}
NOTE_FIELDS = {"kind", "id", "short_description", "long_description", "related_url", "expiration_time",
               "shared", "reported_by", "finding", "kpi", "card", "section"}
OCCURRENCE_FIELDS = {"note_name", "kind", "id", "resource_url", "remediation", "context", "finding", "kpi",
                     "reference_data"}
CONTEXT_FIELDS = {"region", "resource_crn", "resource_id", "resource_name", "resource_type", "service_crn",
                  "service_name", "environment_name", "component_name", "toolchain_id"}
FINDING_FIELDS = {"severity", "certainty", "next_steps", "network_connection", "data_transferred"}
ID = re.compile(r"^[A-Za-z0-9_.-]{1,256}$")
FINDINGS = re.compile(r"^/findings/v1/([^/]+)/providers/([^/]+)/(notes|occurrences)(?:/([^/]+))?$")


def ibm_error(status, code, message):
    return Refuse(status, {"trace": secrets.token_hex(16), "errors": [{"code": code, "message": message}],
                           "status_code": status})


def iam_error(status, code, message):
    return Refuse(status, {"errorCode": code, "errorMessage": message,
                           "context": {"requestId": secrets.token_hex(8), "requestType": "incoming.Identity_Token"}})


def _fields(obj, allowed, required, where):
    if not isinstance(obj, dict):
        raise ibm_error(400, "bad_request", "%s must be an object" % where)
    unknown = set(obj) - allowed
    if unknown:
        raise ibm_error(400, "bad_request", "%s: unknown field(s) %s" % (where, ", ".join(sorted(unknown))))
    for k in required:
        if obj.get(k) in (None, ""):
            raise ibm_error(400, "bad_request", "%s: %s is required" % (where, k))


def _check_steps(steps, where):
    if steps is None:
        return
    if not isinstance(steps, list):
        raise ibm_error(400, "bad_request", "%s.next_steps must be an array" % where)
    for s in steps:
        _fields(s, {"title", "url"}, (), where + ".next_steps[]")
        if not isinstance(s.get("title", ""), str):
            raise ibm_error(400, "bad_request", "%s.next_steps[].title must be a string" % where)


class IbmReceiver(CloudReceiver):
    name = "ibm-receiver"

    def __init__(self, api_keys=None, token_lifetime=3600, host="127.0.0.1", port=0):
        super().__init__(host=host, port=port)
        self.api_keys = dict(api_keys or {"ibm-api-key-1": "id-mycluster-account"})  # key -> account
        self.token_lifetime = token_lifetime
        self.tokens = Tokens("iam")
        self.notes = {}
        self.occurrences = {}

    def iam_url(self):
        return self.url("/identity/token")

    def findings_url(self):
        return self.url("/findings")

    def expire_tokens(self):
        self.tokens.expire_all()

    def add_note(self, account, provider, note_id, kind="FINDING"):
        with self._lock:
            self.notes[(account, provider, note_id)] = {"id": note_id, "kind": kind, "short_description": "seeded",
                                                       "long_description": "seeded",
                                                       "reported_by": {"id": "x", "title": "x"},
                                                       "finding": {"severity": "LOW"}}

    def delete_note(self, account, provider, note_id):
        with self._lock:
            self.notes.pop((account, provider, note_id), None)

    # ---- routing --------------------------------------------------------

    def route(self, req):
        path = urllib.parse.urlsplit(req.path).path
        if path == "/identity/token":
            return "token", self._token
        m = FINDINGS.match(path)
        if not m:
            raise ibm_error(404, "not_found", "no such path: %s" % path)
        kind = {("notes", "GET"): "note", ("notes", "POST"): "create_note",
                ("occurrences", "POST"): "occurrence"}.get((m.group(3), req.method))
        if kind is None or (kind == "note") != (m.group(4) is not None):
            raise ibm_error(405, "method_not_allowed", "%s %s" % (req.method, path))
        req.route = m.groups()
        return kind, getattr(self, "_" + kind)

    # ---- IAM --------------------------------------------------------------

    def _token(self, req):
        if req.method != "POST":
            raise iam_error(405, "BXNIM0103E", "Method not allowed.")
        if (req.header("content-type") or "").split(";")[0].strip() != "application/x-www-form-urlencoded":
            raise iam_error(400, "BXNIM0109E", "Property missing or empty. Operation not supported.")
        try:
            form = urllib.parse.parse_qs(req.body.decode("ascii"), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            raise iam_error(400, "BXNIM0109E", "The request body is not a form.")
        if form.get("grant_type") != [GRANT] or set(form) != {"grant_type", "apikey"}:
            raise iam_error(400, "BXNIM0109E", "Property missing or empty. Operation not supported.")
        key = form["apikey"][0] if len(form["apikey"]) == 1 else None
        if key not in self.api_keys:
            raise iam_error(400, "BXNIM0415E", "Provided API key could not be found.")
        tok = self.tokens.issue(self.token_lifetime, grant=self.api_keys[key])
        return 200, {"access_token": tok, "refresh_token": "not_supported", "token_type": "Bearer",
                     "expires_in": self.token_lifetime, "expiration": int(time.time()) + self.token_lifetime,
                     "scope": "ibm openid"}

    # ---- Findings API -------------------------------------------------------

    def _authorize(self, req):
        tok = bearer_of(req)
        account = self.tokens.grant(tok) if tok else None
        if account is None:
            raise ibm_error(401, "not_authorized", "The token is missing, invalid or expired.")
        if account != req.route[0]:
            raise ibm_error(403, "forbidden", "The token's account cannot access account %s." % req.route[0])

    def _body(self, req):
        if (req.header("content-type") or "").split(";")[0].strip() != "application/json":
            raise ibm_error(415, "unsupported_media_type", "Content-Type must be application/json.")
        try:
            return strict_json(req.body)
        except (UnicodeDecodeError, ValueError) as e:
            raise ibm_error(400, "bad_request", "The body is not JSON: %s" % e)

    def _note(self, req):
        self._authorize(req)
        account, provider, _, note_id = req.route
        with self._lock:
            note = self.notes.get((account, provider, note_id))
        if note is None:
            raise ibm_error(404, "not_found", "Note %s/providers/%s/notes/%s not found." % (account, provider, note_id))
        return 200, note

    def _create_note(self, req):
        self._authorize(req)
        account, provider = req.route[0], req.route[1]
        note = self._body(req)
        _fields(note, NOTE_FIELDS, ("kind", "id", "short_description", "long_description", "reported_by"), "note")
        if note["kind"] not in KINDS or not ID.match(str(note["id"])):
            raise ibm_error(400, "bad_request", "note: bad kind or id")
        _fields(note["reported_by"], {"id", "title", "url"}, ("id", "title"), "note.reported_by")
        if note["kind"] == "FINDING":
            _fields(note.get("finding"), {"severity", "next_steps"}, ("severity",), "note.finding")
            if note["finding"]["severity"] not in SEVERITIES:
                raise ibm_error(400, "bad_request", "note.finding.severity %r" % note["finding"]["severity"])
            _check_steps(note["finding"].get("next_steps"), "note.finding")
        key = (account, provider, note["id"])
        with self._lock:
            if key in self.notes:
                raise ibm_error(409, "conflict", "Note %s already exists." % note["id"])
            self.notes[key] = note
        return 200, dict(note, create_time=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))

    def _occurrence(self, req):
        self._authorize(req)
        account, provider = req.route[0], req.route[1]
        occ = self._body(req)
        _fields(occ, OCCURRENCE_FIELDS, ("note_name", "kind", "id"), "occurrence")
        if not ID.match(str(occ["id"])):
            raise ibm_error(400, "bad_request", "occurrence: bad id %r" % occ["id"])
        m = re.fullmatch(r"([^/]+)/providers/([^/]+)/notes/([^/]+)", str(occ["note_name"]))
        if not m or m.group(1) != account or m.group(2) != provider:
            raise ibm_error(400, "bad_request", "occurrence: note_name %r is not a note of this provider"
                            % occ["note_name"])
        with self._lock:
            note = self.notes.get((account, provider, m.group(3)))
        if note is None:
            raise ibm_error(404, "not_found", "Note %s not found." % occ["note_name"])
        if occ["kind"] != note["kind"]:
            raise ibm_error(400, "bad_request", "occurrence kind %r is not the note's %r" % (occ["kind"], note["kind"]))
        if occ["kind"] == "FINDING":
            f = occ.get("finding")
            _fields(f, FINDING_FIELDS, ("severity",), "occurrence.finding")
            if f["severity"] not in SEVERITIES or f.get("certainty", "HIGH") not in CERTAINTIES:
                raise ibm_error(400, "bad_request", "occurrence.finding severity or certainty")
            _check_steps(f.get("next_steps"), "occurrence.finding")
        if "context" in occ:
            _fields(occ["context"], CONTEXT_FIELDS, (), "occurrence.context")
            for k, v in occ["context"].items():
                if not isinstance(v, str):
                    raise ibm_error(400, "bad_request", "occurrence.context.%s must be a string" % k)
        if "reference_data" in occ and not isinstance(occ["reference_data"], dict):
            raise ibm_error(400, "bad_request", "occurrence.reference_data must be an object")
        key = (account, provider, occ["id"])
        with self._lock:
            if key in self.occurrences:
                raise ibm_error(409, "conflict", "Occurrence %s already exists." % occ["id"])
            self.occurrences[key] = occ
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return 200, dict(occ, create_time=now, update_time=now)

    def occurrence_list(self):
        with self._lock:
            return list(self.occurrences.values())


def main():
    r = IbmReceiver().start()
    print("listening: IAM %s, findings %s, keys %s" % (r.iam_url(), r.findings_url(), sorted(r.api_keys)), flush=True)
    return log_forever(r)


if __name__ == "__main__":
    sys.exit(main())
