#!/usr/bin/python3
"""sqs.py - a strict local stand-in for Amazon SQS's SendMessageBatch over
the AWS JSON protocol, answering with SQS's error shapes.

  POST /   X-Amz-Target: AmazonSQS.SendMessageBatch (another target: 400
           UnknownOperationException), Content-Type application/x-amz-json-1.0
  Signature Version 4, verified with botocore (an independent
  implementation): the Authorization header's credential scope must be
  <date>/<region>/sqs/aws4_request for a known access key; SignedHeaders must
  cover host, x-amz-date, x-amz-target and content-type (and
  x-amz-security-token when the key has a session token, which must match);
  X-Amz-Date within 5 minutes; botocore's SigV4Auth recomputes the canonical
  request from the received method, path, query, the signed headers and the
  body, and the signature must match. Failures answer 403 with
  {"__type":"com.amazon.coral.service#<Code>","message":...}: InvalidClientTokenId
  (unknown key or token), SignatureDoesNotMatch, IncompleteSignature,
  MissingAuthenticationToken.
  Body {"QueueUrl", "Entries":[{"Id","MessageBody","DelaySeconds","MessageAttributes"}]}:
  unknown fields: 400 SerializationException / InvalidParameterValue; the queue
  must exist (QueueDoesNotExist); 1..10 entries (EmptyBatchRequest,
  TooManyEntriesInBatchRequest); Ids unique (BatchEntryIdsNotDistinct) and of
  1-80 of A-Za-z0-9_- (InvalidBatchEntryId); DelaySeconds 0..900; at most 10
  String attributes with non-empty values; the payload (bodies plus attribute
  names, types and values) at most max_payload bytes (BatchRequestTooLong).
  Per entry: a body with characters SQS refuses fails with SenderFault true
  (InvalidMessageContents); scripted per-entry failures (fail_entries).
  200 {"Successful":[{"Id","MessageId","MD5OfMessageBody"[, "MD5OfMessageAttributes"]}],
       "Failed":[{"Id","SenderFault","Code","Message"}]}

In tests:
    q = SqsReceiver(credentials={"AKID": ("secret", None)}, region="eu-west-1",
                    queues={("123456789012", "events")}).start()
    q.fail_entries(lambda body: ..., code="InternalError", sender_fault=False, count=1)
    q.fail("send", 400, {"__type": "...#ThrottlingException", "message": "..."})
    q.messages              # accepted messages: dicts Id, body, attributes, delay, request
    q.stop()
"""

import datetime
import hashlib
import hmac
import re
import sys
import time
import urllib.parse
import uuid

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

try:
    from receivers.base import log_forever
    from receivers.cloud import CloudReceiver, Refuse, strict_json
except ImportError:  # run as a script from this directory
    from base import log_forever
    from cloud import CloudReceiver, Refuse, strict_json

TARGET = "AmazonSQS.SendMessageBatch"
CONTENT_TYPE = "application/x-amz-json-1.0"
MAX_ENTRIES = 10
MAX_PAYLOAD = 262144
MAX_ATTRIBUTES = 10
SKEW = 300

AUTH = re.compile(r"^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, "
                  r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$")
ENTRY_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
ATTRIBUTE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,256}$")
# SQS's allowed characters: #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF
BAD_CHARS = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def coral(status, code, message):
    return Refuse(status, {"__type": "com.amazon.coral.service#" + code, "message": message})


def sqs_error(code, message, status=400):
    return Refuse(status, {"__type": "com.amazonaws.sqs#" + code, "message": message})


def md5(data):
    return hashlib.md5(data).hexdigest()


class SqsReceiver(CloudReceiver):
    name = "sqs-receiver"

    def __init__(self, credentials=None, region="eu-west-1", queues=None, max_payload=MAX_PAYLOAD,
                 host="127.0.0.1", port=0):
        super().__init__(host=host, port=port)
        # access key -> (secret key, session token or None)
        self.credentials = dict(credentials or {"AKIAIOSFODNN7EXAMPLE": ("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", None)})
        self.region = region
        self.queues = set(queues or {("123456789012", "sysdig-events")})
        self.max_payload = max_payload
        self.messages = []
        self._entry_failures = []   # [predicate(body) -> bool, code, sender_fault, count left]
        self.signature_checks = 0

    def queue_url(self, account, name):
        return "https://sqs.%s.amazonaws.com/%s/%s" % (self.region, account, name)

    def fail_entries(self, predicate, code="InternalError", sender_fault=False, count=1,
                     message="We encountered an internal error. Please try again."):
        """The next `count` entries whose body matches fail with this code."""
        with self._lock:
            self._entry_failures.append([predicate, code, sender_fault, count, message])

    def route(self, req):
        if req.method != "POST" or urllib.parse.urlsplit(req.path).path != "/":
            raise coral(404, "UnknownOperationException", "no such path")
        return "send", self._send

    # ---- SigV4, recomputed by botocore --------------------------------------

    def _check_signature(self, req):
        auth = req.header("authorization")
        if auth is None:
            raise coral(403, "MissingAuthenticationToken", "Request is missing Authentication Token")
        m = AUTH.match(auth)
        if not m:
            raise coral(403, "IncompleteSignature", "Authorization header requires Credential, SignedHeaders "
                        "and Signature parameters: %s" % auth[:60])
        akid, date, region, service, signed, signature = m.groups()
        if akid not in self.credentials:
            raise coral(403, "InvalidClientTokenId", "The security token included in the request is invalid.")
        secret, token = self.credentials[akid]
        if region != self.region or service != "sqs":
            raise coral(403, "SignatureDoesNotMatch", "Credential should be scoped to a valid region and "
                        "service sqs, not '%s/%s'." % (region, service))
        amz_date = req.header("x-amz-date")
        if amz_date is None or not re.fullmatch(r"\d{8}T\d{6}Z", amz_date) or amz_date[:8] != date:
            raise coral(403, "IncompleteSignature", "X-Amz-Date is missing, malformed or not the credential's date.")
        when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
        if abs(when.timestamp() - time.time()) > SKEW:
            raise coral(403, "SignatureDoesNotMatch", "Signature expired: %s is out of the 5 minute window." % amz_date)
        names = signed.split(";")
        need = {"host", "x-amz-date", "x-amz-target", "content-type"}
        if token is not None:
            need.add("x-amz-security-token")
            if req.header("x-amz-security-token") != token:
                raise coral(403, "InvalidClientTokenId", "The security token included in the request is invalid.")
        elif req.header("x-amz-security-token") is not None:
            raise coral(403, "InvalidClientTokenId", "The security token included in the request is invalid.")
        if not need <= set(names) or names != sorted(names):
            raise coral(403, "SignatureDoesNotMatch", "SignedHeaders must be sorted and include %s; got %s"
                        % (sorted(need), signed))
        headers = {}
        for n in names:
            values = req.header_values(n)
            if len(values) != 1:
                raise coral(403, "SignatureDoesNotMatch", "signed header %s sent %d times" % (n, len(values)))
            headers[n] = values[0]
        aws = AWSRequest(method=req.method, url="http://%s%s" % (headers["host"], req.path), headers=headers,
                         data=req.body)
        aws.context["timestamp"] = amz_date
        signer = SigV4Auth(Credentials(akid, secret, token), "sqs", self.region)
        if signer.signed_headers(signer.headers_to_sign(aws)) != signed:
            raise coral(403, "SignatureDoesNotMatch", "botocore signs %s, the request names %s"
                        % (signer.signed_headers(signer.headers_to_sign(aws)), signed))
        want = signer.signature(signer.string_to_sign(aws, signer.canonical_request(aws)), aws)
        self.signature_checks += 1
        if not hmac.compare_digest(want, signature):
            raise coral(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the "
                        "signature you provided. Check your AWS Secret Access Key and signing method. Consult "
                        "the service documentation for details.")

    # ---- SendMessageBatch --------------------------------------------------------

    def _send(self, req):
        if req.header("x-amz-target") != TARGET:
            raise coral(400, "UnknownOperationException", "target %r" % req.header("x-amz-target"))
        if req.header("content-type") != CONTENT_TYPE:
            raise coral(400, "UnknownOperationException", "Content-Type must be %s" % CONTENT_TYPE)
        self._check_signature(req)
        try:
            doc = strict_json(req.body)
        except (UnicodeDecodeError, ValueError) as e:
            raise coral(400, "SerializationException", "Start of structure or map found where not expected: %s" % e)
        if not isinstance(doc, dict) or set(doc) - {"QueueUrl", "Entries"}:
            raise coral(400, "SerializationException", "unexpected fields %r" % sorted(doc))
        self._queue_of(doc.get("QueueUrl"))
        entries = doc.get("Entries")
        if not isinstance(entries, list) or not entries:
            raise sqs_error("EmptyBatchRequest", "There should be at least one SendMessageBatchRequestEntry in the request.")
        if len(entries) > MAX_ENTRIES:
            raise sqs_error("TooManyEntriesInBatchRequest", "Maximum number of entries per request are %d. You have "
                            "sent %d." % (MAX_ENTRIES, len(entries)))
        ids, payload = set(), 0
        for e in entries:
            if not isinstance(e, dict) or set(e) - {"Id", "MessageBody", "DelaySeconds", "MessageAttributes"}:
                raise sqs_error("InvalidParameterValue", "unexpected entry fields %r" % e)
            if not isinstance(e.get("Id"), str) or not ENTRY_ID.match(e["Id"]):
                raise sqs_error("InvalidBatchEntryId", "A batch entry id can only contain alphanumeric characters, "
                                "hyphens and underscores. It can be at most 80 letters long.")
            if e["Id"] in ids:
                raise sqs_error("BatchEntryIdsNotDistinct", "Id %s repeated." % e["Id"])
            ids.add(e["Id"])
            if not isinstance(e.get("MessageBody"), str) or e["MessageBody"] == "":
                raise sqs_error("InvalidParameterValue", "The request must contain the parameter MessageBody.")
            d = e.get("DelaySeconds", 0)
            if not isinstance(d, int) or isinstance(d, bool) or not 0 <= d <= 900:
                raise sqs_error("InvalidParameterValue", "Value %r for parameter DelaySeconds is invalid." % d)
            payload += len(e["MessageBody"].encode("utf-8")) + self._attributes_size(e.get("MessageAttributes"))
        if payload > self.max_payload:
            raise sqs_error("BatchRequestTooLong", "Batch requests cannot be longer than %d bytes. You have sent %d "
                            "bytes." % (self.max_payload, payload))
        ok, failed = [], []
        for e in entries:
            why = self._entry_failure(e["MessageBody"])
            if why is not None:
                code, sender_fault, message = why
                failed.append({"Id": e["Id"], "SenderFault": sender_fault, "Code": code, "Message": message})
                continue
            mid = str(uuid.uuid4())
            with self._lock:
                self.messages.append({"Id": e["Id"], "body": e["MessageBody"], "message_id": mid,
                                      "delay": e.get("DelaySeconds"), "attributes": e.get("MessageAttributes"),
                                      "request": req})
            s = {"Id": e["Id"], "MessageId": mid, "MD5OfMessageBody": md5(e["MessageBody"].encode("utf-8"))}
            ok.append(s)
        out = {"Successful": ok}
        if failed:
            out["Failed"] = failed
        return 200, out

    def _queue_of(self, url):
        u = urllib.parse.urlsplit(url) if isinstance(url, str) else None
        parts = u.path.strip("/").split("/") if u else []
        if not u or u.scheme != "https" or len(parts) != 2 or tuple(parts) not in self.queues \
                or u.netloc != "sqs.%s.amazonaws.com" % self.region:
            raise sqs_error("QueueDoesNotExist", "The specified queue does not exist.")

    def _attributes_size(self, attrs):
        if attrs is None:
            return 0
        if not isinstance(attrs, dict) or len(attrs) > MAX_ATTRIBUTES:
            raise sqs_error("InvalidParameterValue", "At most %d message attributes." % MAX_ATTRIBUTES)
        size = 0
        for name, a in attrs.items():
            if not ATTRIBUTE_NAME.match(name) or name.lower().startswith(("aws.", "amazon.")) or ".." in name \
                    or name.startswith(".") or name.endswith("."):
                raise sqs_error("InvalidParameterValue", "Message attribute name '%s' is invalid." % name)
            if not isinstance(a, dict) or set(a) != {"DataType", "StringValue"} or a["DataType"] != "String" \
                    or not isinstance(a["StringValue"], str) or a["StringValue"] == "":
                raise sqs_error("InvalidParameterValue", "Message attribute '%s' must be a non-empty String." % name)
            size += len(name.encode()) + len(a["DataType"].encode()) + len(a["StringValue"].encode("utf-8"))
        return size

    def _entry_failure(self, body):
        if BAD_CHARS.search(body):
            return ("InvalidMessageContents", True, "Invalid binary character in the message body.")
        with self._lock:
            for f in self._entry_failures:
                if f[3] > 0 and f[0](body):
                    f[3] -= 1
                    return (f[1], f[2], f[4])
        return None

    def bodies(self):
        with self._lock:
            return [m["body"] for m in self.messages]


def main():
    r = SqsReceiver().start()
    print("listening on %s; queues %s; keys %s" % (r.url("/"), sorted(r.queues), sorted(r.credentials)), flush=True)
    return log_forever(r)


if __name__ == "__main__":
    sys.exit(main())
