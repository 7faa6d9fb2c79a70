#!/usr/bin/python3
"""google.py - a strict local stand-in for the Google endpoints siemrelay
talks to: the OAuth2 token endpoint (service-account JWT bearer grant), the
Pub/Sub publish method, the Chronicle Ingestion API (v1 with an API key, v2
with OAuth2) and Security Command Center v1 (sources, findings, security
marks).

What it enforces, with Google's own error shapes:
  - the token endpoint verifies the JWT with independent code (PyJWT and
    cryptography): RS256 signature with the service account's public key,
    kid, iss, aud (the token URI), scope, iat/exp (at most an hour, not in
    the future); errors are OAuth2's {"error","error_description"};
  - the APIs want "Authorization: Bearer <a token it issued, not expired,
    with the API's scope>": else 401 UNAUTHENTICATED (or 403 for a scope);
    expire_tokens() makes every issued token invalid, as an expiry would;
  - Pub/Sub: 1..1000 messages, 10 MB per request, strict base64 data, data
    or attributes, string attributes, one ordering key per request, no
    unknown fields; the topic must exist;
  - Chronicle: 1 MB per request, known log type, non-empty entries, valid
    RFC 3339 times, the API key (v1) or customer id (v2);
  - SCC: findingId 1-32 letters and digits, 409 ALREADY_EXISTS for a
    duplicate, the source must exist, sourceProperties keys as SCC wants
    them, paged source listing, security marks with an update mask.
Unknown JSON fields are refused as Google refuses them ("Invalid JSON
payload received. Unknown name ...").

In tests:
    g = GoogleReceiver().start()
    sa = g.add_service_account()          # the key file's dict (token_uri -> g)
    g.add_topic("proj", "events")
    g.fail("publish", 503, "UNAVAILABLE", count=1)
    g.wait(lambda: len(g.messages) >= 3)
    g.stop()
"""

import base64
import binascii
import json
import re
import secrets
import time
import urllib.parse

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

try:
    from receivers.base import Handler, Receiver, Request
except ImportError:  # run from this directory
    from base import Handler, Receiver, Request

SCOPE_PUBSUB = "https://www.googleapis.com/auth/pubsub"
SCOPE_CLOUD = "https://www.googleapis.com/auth/cloud-platform"
SCOPE_CHRONICLE = "https://www.googleapis.com/auth/malachite-ingestion"

PUBSUB_MAX_MESSAGES = 1000
PUBSUB_MAX_BYTES = 10000000
CHRONICLE_MAX_BYTES = 1000000

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$")
SOURCE_PROPERTY_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,254}$")
FINDING_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")
DISPLAY_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_\- ]{0,62}[A-Za-z0-9])?$")

MISSING_CREDENTIAL = ("Request is missing required authentication credential. Expected OAuth 2 access "
                      "token, login cookie or other valid authentication credential. See "
                      "https://developers.google.com/identity/sign-in/web/devconsole-project.")
INVALID_CREDENTIAL = ("Request had invalid authentication credentials. Expected OAuth 2 access token, "
                      "login cookie or other valid authentication credential. See "
                      "https://developers.google.com/identity/sign-in/web/devconsole-project.")


def google_error(code, status, message):
    return json.dumps({"error": {"code": code, "message": message, "status": status}}).encode()


class Refuse(Exception):
    """An answer other than 2xx: status and body."""

    def __init__(self, status, body):
        super().__init__("%d %r" % (status, body[:200]))
        self.status = status
        self.body = body


def refuse(code, status, message):
    return Refuse(code, google_error(code, status, message))


def _no_constants(name):
    raise ValueError("not JSON: %s" % name)


def strict_json(body):
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError) as e:
        raise refuse(400, "INVALID_ARGUMENT", "Invalid JSON payload received. %s" % e)


def camel_to_snake(name):
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def check_fields(obj, allowed, where):
    """Proto JSON: each field by its JSON (lowerCamel) or proto (snake)
    name; anything else is refused. Returns the object keyed by snake
    names."""
    if not isinstance(obj, dict):
        raise refuse(400, "INVALID_ARGUMENT", "Invalid JSON payload received. Expected an object at '%s'."
                     % where)
    out = {}
    for k, v in obj.items():
        snake = camel_to_snake(k)
        if snake not in allowed:
            raise refuse(400, "INVALID_ARGUMENT",
                         "Invalid JSON payload received. Unknown name \"%s\" at '%s': Cannot find field."
                         % (k, where))
        if snake in out:
            raise refuse(400, "INVALID_ARGUMENT", "Invalid JSON payload received. Field \"%s\" set twice."
                         % snake)
        out[snake] = v
    return out


class ServiceAccount:
    def __init__(self, email, token_uri, project="siemrelay-test"):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = secrets.token_hex(20)
        self.email = email
        self.token_uri = token_uri
        self.project = project
        self.public_key = self.key.public_key()

    def info(self, token_uri=None):
        pem = self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()).decode()
        return {
            "type": "service_account",
            "project_id": self.project,
            "private_key_id": self.kid,
            "private_key": pem,
            "client_email": self.email,
            "client_id": "1234567890",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri or self.token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        }

    def json(self, token_uri=None):
        return json.dumps(self.info(token_uri))


class Rec(Request):
    """One request as received (path without the query, query parsed),
    what it was taken for (kind) and the answer."""

    def __init__(self, kind, method, target, headers, body):
        super().__init__(method, target, headers, body)
        url = urllib.parse.urlsplit(target)
        self.kind = kind
        self.path = url.path
        self.query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        self.answer = b""

    def __repr__(self):
        return "<%s %s %s -> %s %r>" % (self.kind, self.method, self.path, self.status, self.answer[:160])


class _Handler(Handler):
    server_version = "ESF"

    def _handle(self):
        req = self.server.receiver.dispatch(self.command, self.path, self.headers, self._read_body())
        self._answer(req.status, req.answer, {"Content-Type": "application/json; charset=UTF-8"})

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle


class GoogleReceiver(Receiver):
    handler = _Handler
    name = "google-receiver"

    def __init__(self, token_lifetime=3599):
        super().__init__()
        self.token_lifetime = token_lifetime
        self.accounts = {}       # email -> ServiceAccount
        self.tokens = {}         # token -> {"email", "scopes", "exp"}
        self.script = {}         # kind -> [(status, body)]
        self.topics = set()      # (project, topic)
        self.messages = []       # {"project", "topic", "data", "attributes", "ordering_key", "id", "request"}
        self.chronicle_keys = set()
        self.chronicle_customers = set()
        self.entries = []        # {"version", "log_type", "namespace", "customer_id", "log_text", "ts", "request"}
        self.organizations = set()
        self.sources = {}        # name -> {"name", "displayName", "description"}
        self.findings = {}       # name -> finding dict as stored
        self.marks = {}          # finding name -> {key: value}
        self._next_id = 1000

    @property
    def lock(self):
        return self._lock

    @property
    def token_url(self):
        return self.url("/token")

    # ---- set-up -------------------------------------------------------------

    def add_service_account(self, email="siemrelay@siemrelay-test.iam.gserviceaccount.com"):
        """A new service account this token endpoint knows; returns it."""
        sa = ServiceAccount(email, self.token_url)
        with self.lock:
            self.accounts[email] = sa
        return sa

    def add_topic(self, project, topic):
        with self.lock:
            self.topics.add((project, topic))

    def add_chronicle_key(self, key):
        with self.lock:
            self.chronicle_keys.add(key)

    def add_chronicle_customer(self, customer_id):
        with self.lock:
            self.chronicle_customers.add(customer_id.lower())

    def add_organization(self, org):
        with self.lock:
            self.organizations.add(str(org))

    def add_source(self, org, display_name, description=""):
        with self.lock:
            return self._create_source(str(org), display_name, description)["name"]

    def fail(self, kind, status, grpc_status=None, message="scripted failure", count=1, body=None):
        """The next `count` requests of `kind` (token, publish, chronicle_v1,
        chronicle_v2, sources_list, sources_create, finding, marks) get this
        answer, after authentication."""
        if body is None:
            body = google_error(status, grpc_status or "UNKNOWN", message)
        with self.lock:
            self.script.setdefault(kind, []).extend([(status, body)] * count)

    def expire_tokens(self):
        """Every token issued so far stops working (as if it expired)."""
        with self.lock:
            self.tokens.clear()

    # ---- what arrived ------------------------------------------------------

    def of(self, kind, status=None):
        return [r for r in self.requests if r.kind == kind and (status is None or r.status == status)]

    def wait(self, predicate, timeout=10.0, message=None):
        deadline = time.monotonic() + timeout
        while True:
            v = predicate()
            if v:
                return v
            if time.monotonic() >= deadline:
                last = self.requests[-12:]
                raise AssertionError((message or "condition not met within %.1fs" % timeout)
                                     + "; last requests: %r" % last)
            time.sleep(0.02)

    # ---- dispatch ------------------------------------------------------------

    ROUTES = [
        ("POST", re.compile(r"^/token$"), "token"),
        ("POST", re.compile(r"^/v1/projects/([^/]+)/topics/([^/:]+):publish$"), "publish"),
        ("POST", re.compile(r"^/v1/unstructuredlogentries$"), "chronicle_v1"),
        ("POST", re.compile(r"^/v2/unstructuredlogentries:batchCreate$"), "chronicle_v2"),
        ("GET", re.compile(r"^/v1/organizations/([^/]+)/sources$"), "sources_list"),
        ("POST", re.compile(r"^/v1/organizations/([^/]+)/sources$"), "sources_create"),
        ("POST", re.compile(r"^/v1/(organizations/[^/]+/sources/[^/]+)/findings$"), "finding"),
        ("PATCH", re.compile(r"^/v1/(organizations/[^/]+/sources/[^/]+/findings/[^/]+)/securityMarks$"),
         "marks"),
    ]

    def dispatch(self, method, target, headers, body):
        """Answers one request; returns its Rec (status and answer set)."""
        path = urllib.parse.urlsplit(target).path
        kind, args = None, ()
        for m, rx, k in self.ROUTES:
            mt = rx.match(path)
            if mt and m == method:
                kind, args = k, tuple(urllib.parse.unquote(a) for a in mt.groups())
                break
        rec = Rec(kind or "unknown", method, target, headers, body)
        try:
            if kind is None:
                raise refuse(404, "NOT_FOUND", "The requested URL %s was not found on this server." % path)
            if kind == "token":
                status, answer = self._token(rec)
            else:
                self._authorize(rec, {
                    "publish": SCOPE_PUBSUB, "chronicle_v1": None, "chronicle_v2": SCOPE_CHRONICLE,
                }.get(kind, SCOPE_CLOUD))
                scripted = self._scripted(kind)
                if scripted:
                    status, answer = scripted
                else:
                    status, answer = 200, json.dumps(getattr(self, "_" + kind)(rec, *args)).encode()
        except Refuse as e:
            status, answer = e.status, e.body
        rec.status, rec.answer = status, answer
        self._record(rec)
        return rec

    def _scripted(self, kind):
        with self.lock:
            q = self.script.get(kind)
            return q.pop(0) if q else None

    # ---- OAuth2 ------------------------------------------------------------------

    def _token(self, rec):
        def oauth_error(error, description, status=400):
            return Refuse(status, json.dumps({"error": error, "error_description": description}).encode())

        ctype = rec.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            raise oauth_error("invalid_request", "Bad Request")
        try:
            form = urllib.parse.parse_qs(rec.body.decode("ascii"), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            raise oauth_error("invalid_request", "Bad Request")
        if any(len(v) != 1 for v in form.values()):
            raise oauth_error("invalid_request", "Duplicate parameter")
        form = {k: v[0] for k, v in form.items()}
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            raise oauth_error("unsupported_grant_type", "Invalid grant_type: %s" % form.get("grant_type", ""))
        assertion = form.get("assertion")
        if not assertion or set(form) != {"grant_type", "assertion"}:
            raise oauth_error("invalid_request", "Missing required parameter: assertion")
        scripted = self._scripted("token")
        if scripted:
            return scripted
        try:
            header = jwt.get_unverified_header(assertion)
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise oauth_error("invalid_grant", "Invalid JWT: malformed")
        with self.lock:
            sa = self.accounts.get(unverified.get("iss"))
        if sa is None:
            raise oauth_error("invalid_grant", "Invalid grant: account not found")
        if header.get("alg") != "RS256" or header.get("typ", "JWT") != "JWT":
            raise oauth_error("invalid_grant", "Invalid JWT: unsupported algorithm")
        if header.get("kid") not in (None, sa.kid):
            raise oauth_error("invalid_grant", "Invalid JWT Signature.")
        try:
            claims = jwt.decode(assertion, sa.public_key, algorithms=["RS256"], audience=self.token_url,
                                options={"require": ["iss", "aud", "iat", "exp", "scope"]}, leeway=0)
        except jwt.InvalidSignatureError:
            raise oauth_error("invalid_grant", "Invalid JWT Signature.")
        except jwt.InvalidAudienceError:
            raise oauth_error("invalid_grant", "Invalid JWT: Failed audience check. The right audience is %s"
                              % self.token_url)
        except jwt.PyJWTError as e:
            raise oauth_error("invalid_grant", "Invalid JWT: %s" % e)
        now = time.time()
        iat, exp = claims["iat"], claims["exp"]
        if not (isinstance(iat, int) and isinstance(exp, int)) or iat > now + 60 or exp - iat > 3600 \
                or exp <= now:
            raise oauth_error("invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) "
                              "and in a reasonable timeframe. Check your iat and exp values in the JWT claim.")
        scopes = str(claims["scope"]).split()
        if not scopes or any(not s.startswith("https://www.googleapis.com/auth/") for s in scopes):
            raise oauth_error("invalid_scope", "Invalid OAuth scope or ID token audience provided.")
        token = "ya29.c." + secrets.token_urlsafe(48)
        with self.lock:
            self.tokens[token] = {"email": sa.email, "scopes": set(scopes), "exp": now + self.token_lifetime}
        rec.claims = claims
        return 200, json.dumps({"access_token": token, "expires_in": self.token_lifetime,
                                "token_type": "Bearer"}).encode()

    def _authorize(self, rec, scope):
        if rec.kind == "chronicle_v1":
            key = rec.query.get("key", [None])
            if len(key) != 1 or not key[0]:
                raise refuse(403, "PERMISSION_DENIED", "The request is missing a valid API key.")
            with self.lock:
                ok = key[0] in self.chronicle_keys
            if not ok:
                raise refuse(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.")
            return
        auth = rec.headers.get("authorization")
        if not auth:
            raise refuse(401, "UNAUTHENTICATED", MISSING_CREDENTIAL)
        m = re.match(r"^Bearer ([A-Za-z0-9._\-~+/]+=*)$", auth)
        with self.lock:
            t = self.tokens.get(m.group(1)) if m else None
        if t is None or t["exp"] <= time.time():
            raise refuse(401, "UNAUTHENTICATED", INVALID_CREDENTIAL)
        if scope not in t["scopes"] and SCOPE_CLOUD not in t["scopes"]:
            raise refuse(403, "PERMISSION_DENIED", "Request had insufficient authentication scopes.")
        rec.token = m.group(1)

    # ---- Pub/Sub ---------------------------------------------------------------------

    def _publish(self, rec, project, topic):
        with self.lock:
            known = (project, topic) in self.topics
        if not known:
            raise refuse(404, "NOT_FOUND", "Resource not found (resource=%s)." % topic)
        if len(rec.body) > PUBSUB_MAX_BYTES:
            raise refuse(400, "INVALID_ARGUMENT", "Request payload size exceeds the limit: %d bytes."
                         % PUBSUB_MAX_BYTES)
        if rec.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise refuse(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        req = check_fields(strict_json(rec.body), {"messages"}, "")
        msgs = req.get("messages")
        if not isinstance(msgs, list) or not msgs:
            raise refuse(400, "INVALID_ARGUMENT", "The value for message_count is too small. You passed 0 in "
                         "the request, but the minimum value is 1.")
        if len(msgs) > PUBSUB_MAX_MESSAGES:
            raise refuse(400, "INVALID_ARGUMENT", "The value for message_count is too large. You passed %d in "
                         "the request, but the maximum value is %d." % (len(msgs), PUBSUB_MAX_MESSAGES))
        parsed, keys = [], set()
        for i, m in enumerate(msgs):
            where = "messages[%d]" % i
            m = check_fields(m, {"data", "attributes", "ordering_key", "message_id", "publish_time"}, where)
            data = b""
            if "data" in m:
                if not isinstance(m["data"], str):
                    raise refuse(400, "INVALID_ARGUMENT", "Invalid value at '%s.data' (TYPE_BYTES)" % where)
                try:
                    data = base64.b64decode(m["data"], validate=True)
                except (binascii.Error, ValueError):
                    raise refuse(400, "INVALID_ARGUMENT", "Invalid value at '%s.data' (TYPE_BYTES), Base64 "
                                 "decoding failed" % where)
            attrs = m.get("attributes", {})
            if not isinstance(attrs, dict) or any(not isinstance(v, str) for v in attrs.values()):
                raise refuse(400, "INVALID_ARGUMENT", "Invalid value at '%s.attributes'" % where)
            if len(attrs) > 100 or any(len(k.encode()) > 256 or k.startswith("goog") or len(v.encode()) > 1024
                                       for k, v in attrs.items()):
                raise refuse(400, "INVALID_ARGUMENT", "Invalid attributes at '%s'" % where)
            if not data and not attrs:
                raise refuse(400, "INVALID_ARGUMENT", "Some messages are empty: a message must contain "
                             "non-empty data, or at least one attribute.")
            ok = m.get("ordering_key", "")
            if not isinstance(ok, str) or len(ok.encode()) > 1024:
                raise refuse(400, "INVALID_ARGUMENT", "Invalid value at '%s.ordering_key'" % where)
            keys.add(ok)
            parsed.append((data, attrs, ok))
        if len(keys) > 1:
            raise refuse(400, "INVALID_ARGUMENT", "All messages in a publish request must share one ordering key.")
        ids = []
        with self.lock:
            for data, attrs, ok in parsed:
                self._next_id += 1
                ids.append(str(self._next_id))
                self.messages.append({"project": project, "topic": topic, "data": data, "attributes": attrs,
                                      "ordering_key": ok, "id": ids[-1], "request": rec})
        return {"messageIds": ids}

    # ---- Chronicle -------------------------------------------------------------------

    def _chronicle(self, rec, version):
        if len(rec.body) > CHRONICLE_MAX_BYTES:
            raise refuse(400, "INVALID_ARGUMENT", "Request payload size exceeds the limit: %d bytes."
                         % CHRONICLE_MAX_BYTES)
        allowed = {"customer_id", "log_type", "entries"}
        if version == 2:
            allowed |= {"namespace", "labels"}
        req = check_fields(strict_json(rec.body), allowed, "")
        customer = None
        if version == 2:
            customer = req.get("customer_id")
            with self.lock:
                known = isinstance(customer, str) and customer.lower() in self.chronicle_customers
            if not known:
                raise refuse(403, "PERMISSION_DENIED", "customer_id is not valid for these credentials")
        if req.get("log_type") != "SYSDIG":
            raise refuse(400, "INVALID_ARGUMENT", "invalid log_type %r" % req.get("log_type"))
        entries = req.get("entries")
        if not isinstance(entries, list) or not entries:
            raise refuse(400, "INVALID_ARGUMENT", "entries must not be empty")
        out = []
        for i, e in enumerate(entries):
            e = check_fields(e, {"log_text", "ts_epoch_microseconds", "ts_rfc3339", "collection_time"},
                             "entries[%d]" % i)
            text = e.get("log_text")
            if not isinstance(text, str) or not text:
                raise refuse(400, "INVALID_ARGUMENT", "entries[%d].log_text is empty" % i)
            ts = e.get("ts_rfc3339")
            if ts is not None and (not isinstance(ts, str) or not RFC3339.match(ts)):
                raise refuse(400, "INVALID_ARGUMENT", "Invalid value at 'entries[%d].ts_rfc3339' "
                             "(type.googleapis.com/google.protobuf.Timestamp)" % i)
            out.append({"version": version, "log_type": req["log_type"], "namespace": req.get("namespace"),
                        "customer_id": customer, "log_text": text, "ts": ts, "entry": e, "request": rec})
        with self.lock:
            self.entries.extend(out)
        return {}

    def _chronicle_v1(self, rec):
        return self._chronicle(rec, 1)

    def _chronicle_v2(self, rec):
        return self._chronicle(rec, 2)

    # ---- Security Command Center ------------------------------------------------------

    def _org(self, org):
        with self.lock:
            known = org in self.organizations
        if not known:
            raise refuse(403, "PERMISSION_DENIED", "The caller does not have permission")

    def _create_source(self, org, display_name, description):
        self._next_id += 1
        name = "organizations/%s/sources/%d" % (org, 4000000000 + self._next_id)
        src = {"name": name, "displayName": display_name, "description": description,
               "canonicalName": name}
        self.sources[name] = src
        return src

    def _sources_list(self, rec, org):
        self._org(org)
        unknown = set(rec.query) - {"pageSize", "pageToken"}
        if unknown:
            raise refuse(400, "INVALID_ARGUMENT", "Invalid JSON payload received. Unknown name \"%s\""
                         % sorted(unknown)[0])
        try:
            size = int(rec.query.get("pageSize", ["10"])[0])
        except ValueError:
            raise refuse(400, "INVALID_ARGUMENT", "Invalid value at 'page_size' (TYPE_INT32)")
        size = min(max(size, 1), 1000)
        token = rec.query.get("pageToken", [""])[0]
        start = 0
        if token:
            m = re.match(r"^pt(\d+)$", token)
            if not m:
                raise refuse(400, "INVALID_ARGUMENT", "Invalid page token")
            start = int(m.group(1))
        with self.lock:
            mine = [s for n, s in sorted(self.sources.items()) if n.startswith("organizations/%s/" % org)]
        page = mine[start:start + size]
        out = {"sources": page}
        if start + size < len(mine):
            out["nextPageToken"] = "pt%d" % (start + size)
        return out

    def _sources_create(self, rec, org):
        self._org(org)
        src = check_fields(strict_json(rec.body), {"name", "display_name", "description", "canonical_name"},
                           "source")
        dn = src.get("display_name")
        if not isinstance(dn, str) or not DISPLAY_NAME.match(dn):
            raise refuse(400, "INVALID_ARGUMENT", "Invalid display name")
        with self.lock:
            return self._create_source(org, dn, src.get("description", ""))

    FINDING_FIELDS = {"name", "parent", "resource_name", "state", "category", "external_uri",
                      "source_properties", "security_marks", "event_time", "create_time", "severity",
                      "canonical_name", "mute", "finding_class", "description"}

    def _finding(self, rec, source):
        self._org(source.split("/")[1])
        with self.lock:
            known = source in self.sources
        if not known:
            raise refuse(404, "NOT_FOUND", "Requested entity was not found.")
        fid = rec.query.get("findingId", [""])
        if len(fid) != 1 or not FINDING_ID.match(fid[0]):
            raise refuse(400, "INVALID_ARGUMENT", "Invalid finding id %r: it must be alphanumeric and less than "
                         "or equal to 32 characters and greater than 0 characters in length." % fid)
        f = check_fields(strict_json(rec.body), self.FINDING_FIELDS, "finding")
        if f.get("state") not in ("ACTIVE", "INACTIVE"):
            raise refuse(400, "INVALID_ARGUMENT", "Invalid value at 'finding.state'")
        if not isinstance(f.get("category"), str) or not f["category"]:
            raise refuse(400, "INVALID_ARGUMENT", "finding.category is required")
        if not isinstance(f.get("event_time"), str) or not RFC3339.match(f["event_time"]):
            raise refuse(400, "INVALID_ARGUMENT", "Invalid value at 'finding.event_time' "
                         "(type.googleapis.com/google.protobuf.Timestamp)")
        if not isinstance(f.get("resource_name"), str) or not f["resource_name"]:
            raise refuse(400, "INVALID_ARGUMENT", "finding.resource_name is required")
        if f.get("severity", "HIGH") not in ("CRITICAL", "HIGH", "MEDIUM", "LOW", "SEVERITY_UNSPECIFIED"):
            raise refuse(400, "INVALID_ARGUMENT", "Invalid value at 'finding.severity'")
        if f.get("finding_class", "THREAT") not in ("THREAT", "VULNERABILITY", "MISCONFIGURATION",
                                                    "OBSERVATION", "SCC_ERROR", "POSTURE_VIOLATION"):
            raise refuse(400, "INVALID_ARGUMENT", "Invalid value at 'finding.finding_class'")
        props = f.get("source_properties", {})
        if not isinstance(props, dict):
            raise refuse(400, "INVALID_ARGUMENT", "Invalid value at 'finding.source_properties'")
        for k in props:
            if not SOURCE_PROPERTY_KEY.match(k):
                raise refuse(400, "INVALID_ARGUMENT", "Invalid source property key %r" % k)
        name = "%s/findings/%s" % (source, fid[0])
        with self.lock:
            if name in self.findings:
                raise refuse(409, "ALREADY_EXISTS", "Requested entity already exists")
            stored = dict(f)
            stored.pop("security_marks", None)  # output only: ignored on create
            stored.update({"name": name, "parent": source, "create_time": "2024-01-01T00:00:00Z"})
            stored["_request"] = rec
            self.findings[name] = stored
        return {k: v for k, v in stored.items() if k != "_request"}

    def _marks(self, rec, finding):
        self._org(finding.split("/")[1])
        with self.lock:
            known = finding in self.findings
        if not known:
            raise refuse(404, "NOT_FOUND", "Requested entity was not found.")
        body = check_fields(strict_json(rec.body), {"name", "marks", "canonical_name"}, "security_marks")
        marks = body.get("marks", {})
        if not isinstance(marks, dict) or any(not isinstance(v, str) for v in marks.values()):
            raise refuse(400, "INVALID_ARGUMENT", "Invalid value at 'security_marks.marks'")
        mask = rec.query.get("updateMask")
        with self.lock:
            cur = dict(self.marks.get(finding, {}))
            if mask is None:
                cur = dict(marks)
            else:
                for path in ",".join(mask).split(","):
                    if not path.startswith("marks.") or len(path) == len("marks."):
                        raise refuse(400, "INVALID_ARGUMENT", "Invalid update mask path %r" % path)
                    k = path[len("marks."):]
                    if k in marks:
                        cur[k] = marks[k]
                    else:
                        cur.pop(k, None)
            self.marks[finding] = cur
        return {"name": finding + "/securityMarks", "marks": cur}
