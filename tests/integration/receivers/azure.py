#!/usr/bin/python3
"""azure.py - a strict local stand-in for what SENTINEL talks to: the
Entra ID token endpoint (client credentials), the Azure Monitor Logs
Ingestion API and the retired HTTP Data Collector API, on one port.

  POST /<tenant>/oauth2/v2.0/token           form grant_type=client_credentials, client_id,
                                             client_secret, scope
      unknown tenant: 400 invalid_request (AADSTS90002); unknown client: 400
      unauthorized_client (AADSTS700016); wrong secret: 401 invalid_client
      (AADSTS7000215); another scope: 400 invalid_scope; else 200 {token_type,
      expires_in, ext_expires_in, access_token}
  POST /dataCollectionRules/<dcr>/streams/<stream>?api-version=2023-01-01
      Authorization: Bearer <a token issued here for the monitor scope, not
      expired>: else 401; api-version: else 400; unknown DCR or stream: 404;
      Content-Type application/json: else 415; Content-Encoding gzip inflated
      (anything else 415); over max_call_bytes (compressed or not): 413
      ContentLengthLimitExceeded; body a non-empty JSON array of objects each
      with an RFC 3339 TimeGenerated: else 400 InvalidPayload; 204
  POST /api/logs?api-version=2016-04-01      (the Data Collector API)
      Authorization: SharedKey <workspace>:<sig>, recomputed here with Python's
      hmac over "POST\\n<body length>\\napplication/json\\nx-ms-date:<date>\\n/api/logs"
      with the base64-decoded key; another workspace, a wrong signature, or an
      x-ms-date missing, not RFC 1123 or more than 15 minutes off: 403
      InvalidAuthorization;
      Content-Type exactly application/json; Log-Type letters, digits and _ up to
      100; body a JSON array of objects with property names of letters, digits and
      _ (400 InvalidDataFormat); over collector_max_bytes: 404 (Azure's "request
      too large") or collector_too_large_status; 200 with an empty body.
      Field values over 32 KB are truncated as Azure does and counted in
      `truncated`; records without a usable time-generated-field in `time_fallback`.

In tests:
    az = AzureReceiver(tenant="t", client_id="c", client_secret="s", dcr="dcr-1",
                       stream="Custom-X_CL", workspace="ws", shared_key=b64).start()
    az.authority()          # authorityHost for the gateway
    az.records("logs")      # parsed records (exact integers) in arrival order
    az.expire_tokens()      # every issued token refused from now on (401)
    az.fail("logs", 503, {...}, count=1)
    az.stop()
"""

import base64
import binascii
import email.utils
import gzip
import hashlib
import hmac
import json
import re
import sys
import time
import urllib.parse

try:
    from receivers.base import log_forever
    from receivers.cloud import CloudReceiver, Refuse, Tokens, bearer_of, strict_json
except ImportError:  # run as a script from this directory
    from base import log_forever
    from cloud import CloudReceiver, Refuse, Tokens, bearer_of, strict_json

MONITOR_SCOPE = "https://monitor.azure.com//.default"
LOGS_API_VERSION = "2023-01-01"
COLLECTOR_API_VERSION = "2016-04-01"
MAX_CALL_BYTES = 1000000
COLLECTOR_MAX_BYTES = 30000000
FIELD_MAX_BYTES = 32768
DATE_SKEW = 15 * 60

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$")
RFC1123 = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                     r"\d{4} \d\d:\d\d:\d\d GMT$")
LOG_TYPE = re.compile(r"^[A-Za-z0-9_]{1,100}$")
PROPERTY = re.compile(r"^[A-Za-z0-9_]+$")


def azure_error(status, code, message):
    return Refuse(status, {"error": {"code": code, "message": message}}, {"x-ms-error-code": code})


def entra_error(status, error, aadsts, description):
    return Refuse(status, {"error": error, "error_description": "%s: %s" % (aadsts, description),
                           "error_codes": [int(aadsts[6:])], "timestamp": "2026-01-01 00:00:00Z"})


def collector_error(status, code, message):
    return Refuse(status, {"Error": code, "Message": message})


class AzureReceiver(CloudReceiver):
    name = "azure-receiver"

    def __init__(self, tenant="tenant-1", client_id="client-1", client_secret="client-secret-1",
                 dcr="dcr-00112233445566778899aabbccddeeff", stream="Custom-SysdigEvents_CL",
                 workspace="0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0", shared_key=None,
                 max_call_bytes=MAX_CALL_BYTES, collector_max_bytes=COLLECTOR_MAX_BYTES,
                 collector_too_large_status=404, token_lifetime=3599, host="127.0.0.1", port=0):
        super().__init__(host=host, port=port)
        self.tenant, self.client_id, self.client_secret = tenant, client_id, client_secret
        self.dcr, self.stream, self.workspace = dcr, stream, workspace
        self.shared_key = shared_key or base64.b64encode(b"sentinel-test-workspace-key-0001").decode()
        self.max_call_bytes = max_call_bytes
        self.collector_max_bytes = collector_max_bytes
        self.collector_too_large_status = collector_too_large_status
        self.token_lifetime = token_lifetime
        self.tokens = Tokens("entra")
        self._records = []      # (api, request, parsed record)
        self.truncated = []     # (record id, field, size) the Data Collector would truncate
        self.time_fallback = []  # record ids without a usable time-generated-field

    def authority(self):
        return self.url("")

    def expire_tokens(self):
        self.tokens.expire_all()

    # ---- routing --------------------------------------------------------

    def route(self, req):
        path = urllib.parse.urlsplit(req.path).path
        if req.method == "POST" and path == "/%s/oauth2/v2.0/token" % self.tenant:
            return "token", self._token
        if req.method == "POST" and re.fullmatch(r"/[^/]+/oauth2/v2\.0/token", path):
            return "token", self._unknown_tenant
        if path.startswith("/dataCollectionRules/"):
            return "logs", self._logs
        if path == "/api/logs":
            return "collector", self._collector
        raise Refuse(404, {"error": {"code": "NotFound", "message": "no such path: %s" % path}})

    # ---- Entra ID ------------------------------------------------------------

    def _unknown_tenant(self, req):
        raise entra_error(400, "invalid_request", "AADSTS90002", "Tenant not found.")

    def _token(self, req):
        if (req.header("content-type") or "").split(";")[0].strip() != "application/x-www-form-urlencoded":
            raise entra_error(400, "invalid_request", "AADSTS900144",
                              "The request body must contain the following parameter: 'grant_type'.")
        try:
            form = urllib.parse.parse_qs(req.body.decode("ascii"), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            raise entra_error(400, "invalid_request", "AADSTS900144", "The request body is not a form.")
        one = {}
        for k, v in form.items():
            if len(v) != 1:
                raise entra_error(400, "invalid_request", "AADSTS90015", "Parameter %s is duplicated." % k)
            one[k] = v[0]
        if one.get("grant_type") != "client_credentials":
            raise entra_error(400, "unsupported_grant_type", "AADSTS70003", "The app requested an unsupported grant type.")
        if one.get("client_id") != self.client_id:
            raise entra_error(400, "unauthorized_client", "AADSTS700016",
                              "Application with identifier '%s' was not found in the directory." % one.get("client_id"))
        if not hmac.compare_digest(one.get("client_secret", "").encode(), self.client_secret.encode()):
            raise entra_error(401, "invalid_client", "AADSTS7000215", "Invalid client secret provided.")
        if one.get("scope") != MONITOR_SCOPE:
            raise entra_error(400, "invalid_scope", "AADSTS1002012",
                              "The provided value for scope %s is not valid." % one.get("scope"))
        if set(one) != {"grant_type", "client_id", "client_secret", "scope"}:
            raise entra_error(400, "invalid_request", "AADSTS900144", "Unexpected parameters.")
        tok = self.tokens.issue(self.token_lifetime, grant=MONITOR_SCOPE)
        return 200, {"token_type": "Bearer", "expires_in": self.token_lifetime,
                     "ext_expires_in": self.token_lifetime, "access_token": tok}

    # ---- Logs Ingestion API -----------------------------------------------

    def _logs(self, req):
        u = urllib.parse.urlsplit(req.path)
        tok = bearer_of(req)
        if tok is None:
            raise azure_error(401, "MissingToken", "The request has no bearer token.")
        if self.tokens.grant(tok) != MONITOR_SCOPE:
            raise azure_error(401, "InvalidToken", "The bearer token is invalid or has expired.")
        if req.method != "POST":
            raise azure_error(405, "MethodNotAllowed", "Only POST is allowed.")
        q = urllib.parse.parse_qs(u.query)
        if q.get("api-version") != [LOGS_API_VERSION]:
            raise azure_error(400, "InvalidApiVersion", "api-version must be %s." % LOGS_API_VERSION)
        m = re.fullmatch(r"/dataCollectionRules/([^/]+)/streams/([^/]+)", u.path)
        if not m or m.group(1) != self.dcr:
            raise azure_error(404, "NotFound", "Data collection rule with immutable Id '%s' not found."
                              % (m.group(1) if m else "?"))
        if m.group(2) != self.stream:
            raise azure_error(404, "InvalidStream", "Stream '%s' is not declared in the DCR." % m.group(2))
        if (req.header("content-type") or "").split(";")[0].strip() != "application/json":
            raise azure_error(415, "UnsupportedMediaType", "Content-Type must be application/json.")
        data = req.body
        enc = (req.header("content-encoding") or "").strip().lower()
        if len(data) > self.max_call_bytes:
            raise self._too_large(len(data))
        if enc == "gzip":
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError):
                raise azure_error(400, "InvalidContentEncoding", "The body is not valid gzip.")
        elif enc:
            raise azure_error(415, "UnsupportedContentEncoding", "Content-Encoding %s is not supported." % enc)
        if len(data) > self.max_call_bytes:
            raise self._too_large(len(data))
        try:
            doc = strict_json(data)
        except (UnicodeDecodeError, ValueError) as e:
            raise azure_error(400, "InvalidPayload", "The body is not valid JSON: %s" % e)
        if not isinstance(doc, list) or not doc:
            raise azure_error(400, "InvalidPayload", "The body must be a non-empty JSON array.")
        for i, rec in enumerate(doc):
            if not isinstance(rec, dict):
                raise azure_error(400, "InvalidPayload", "Record %d is not an object." % i)
            tg = rec.get("TimeGenerated")
            if not isinstance(tg, str) or not RFC3339.match(tg):
                raise azure_error(400, "InvalidPayload", "Record %d has no valid TimeGenerated." % i)
        with self._lock:
            self._records.extend(("logs", req, rec) for rec in doc)
        return 204, None

    def _too_large(self, n):
        return azure_error(413, "ContentLengthLimitExceeded",
                           "Maximum allowed content length: %d bytes (1 MB). Provided content length: %d bytes."
                           % (self.max_call_bytes, n))

    # ---- HTTP Data Collector API -------------------------------------------

    def _collector(self, req):
        u = urllib.parse.urlsplit(req.path)
        q = urllib.parse.parse_qs(u.query)
        if req.method != "POST":
            raise collector_error(405, "MethodNotAllowed", "Only POST is allowed.")
        if "api-version" not in q:
            raise collector_error(400, "MissingApiVersion", "The API version wasn't specified.")
        if q["api-version"] != [COLLECTOR_API_VERSION]:
            raise collector_error(400, "InvalidApiVersion", "The API version that you specified wasn't recognized.")
        ct = req.header("content-type")
        if ct is None:
            raise collector_error(400, "MissingContentType", "The content type wasn't specified.")
        if ct != "application/json":
            raise collector_error(400, "UnsupportedContentType", "The content type wasn't set to application/json.")
        self._check_shared_key(req)
        log_type = req.header("log-type")
        if log_type is None:
            raise collector_error(400, "MissingLogType", "The value type log type wasn't specified.")
        if not LOG_TYPE.match(log_type):
            raise collector_error(400, "InvalidLogType", "The specified log type contained special characters "
                                  "or numerics, or was longer than 100 characters.")
        if len(req.body) > self.collector_max_bytes:
            status = self.collector_too_large_status
            return status, b"" if status == 404 else {"Error": "RequestTooLarge", "Message": "over the limit"}
        try:
            doc = strict_json(req.body)
        except (UnicodeDecodeError, ValueError):
            raise collector_error(400, "InvalidDataFormat", "An invalid JSON was submitted.")
        if not isinstance(doc, list) or not all(isinstance(r, dict) for r in doc):
            raise collector_error(400, "InvalidDataFormat", "The body must be a JSON array of objects.")
        tfield = req.header("time-generated-field")
        for rec in doc:
            for k, v in rec.items():
                if not PROPERTY.match(k):
                    raise collector_error(400, "InvalidDataFormat", "Property name %r is not valid." % k)
                size = len(v.encode("utf-8")) if isinstance(v, str) else len(compact(v))
                if size > FIELD_MAX_BYTES:
                    self.truncated.append((rec.get("id"), k, size))
            if tfield is not None:
                t = rec.get(tfield)
                if not isinstance(t, str) or not RFC3339.match(t):
                    self.time_fallback.append(rec.get("id"))
        with self._lock:
            self._records.extend(("collector", req, rec) for rec in doc)
        return 200, None

    def signature(self, body_len, date):
        key = base64.b64decode(self.shared_key)
        sts = "POST\n%d\napplication/json\nx-ms-date:%s\n/api/logs" % (body_len, date)
        return base64.b64encode(hmac.new(key, sts.encode("utf-8"), hashlib.sha256).digest()).decode()

    def _check_shared_key(self, req):
        auth = req.header("authorization") or ""
        m = re.fullmatch(r"SharedKey ([^:]+):(.+)", auth)
        if not m:
            raise collector_error(403, "InvalidAuthorization", "An invalid scheme was specified in the "
                                  "Authorization header.")
        if m.group(1) != self.workspace:
            raise collector_error(403, "InvalidAuthorization", "The workspace in the Authorization header "
                                  "is not this workspace.")
        date = req.header("x-ms-date")
        if date is None or not RFC1123.match(date):
            raise collector_error(403, "InvalidAuthorization", "x-ms-date is missing or not an RFC 1123 date.")
        skew = abs(email.utils.parsedate_to_datetime(date).timestamp() - time.time())
        if skew > DATE_SKEW:
            raise collector_error(403, "InvalidAuthorization", "x-ms-date is %d s off." % skew)
        try:
            base64.b64decode(m.group(2), validate=True)
        except (binascii.Error, ValueError):
            raise collector_error(403, "InvalidAuthorization", "The signature is not base64.")
        want = self.signature(len(req.body), date)
        if not hmac.compare_digest(m.group(2).encode(), want.encode()):
            raise collector_error(403, "InvalidAuthorization", "The signature does not match.")

    # ---- what arrived ---------------------------------------------------

    def records(self, api):
        with self._lock:
            return [rec for a, _req, rec in self._records if a == api]

    def wait_records(self, api, n, timeout=15.0):
        return self.wait(lambda: len(self.records(api)) >= n and self.records(api), timeout,
                         "fewer than %d %s record(s)" % (n, api))


def compact(v):
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def main():
    r = AzureReceiver().start()
    print("listening on %s (tenant %s, dcr %s, stream %s, workspace %s, key %s)" % (
        r.url(""), r.tenant, r.dcr, r.stream, r.workspace, r.shared_key), flush=True)
    return log_forever(r)


if __name__ == "__main__":
    sys.exit(main())
