"""siem_formats.py - strict parsers for what the SYSLOG and QRADAR tests
receive, and the field mapping docs/integrations.md promises, written
independently of the Lua modules so the tests check the documentation.

  parse_5424(raw)  -> dict(pri, version, time, host, app, procid, msgid, sd, msg)
  parse_3164(raw, tag=True) -> dict(pri, time, host, tag, msg)
  parse_cef(text)  -> (header list of 7, extension dict)
  parse_leef(text) -> (header list of 5, delimiter, attribute dict)
  expected_fields(event) -> the secfields of an event (name -> string)
  rfc3339_micro(ns), bsd_time(ns), leef_time(ns)
  octet_frames(stream) / lf_frames(stream) -> messages (framing checked)

Every parser raises ValueError on anything the formats do not allow
(an unknown escape, a missing field, a stray delimiter).
"""

import datetime
import re

SEV10 = {0: 10, 1: 9, 2: 8, 3: 7, 4: 6, 5: 5, 6: 3, 7: 1}
FACILITY_LOCAL0 = 16


def syslog_severity(event):
    """The event's severity, 6 without one; a platform audit record (whose
    "severity" is always 0) by its response status: 401/403 4, other
    statuses from 400 5, else 6."""
    if event.get("type") == "audittrail":
        st = (event.get("content") or {}).get("responseStatusCode")
        if st in (401, 403):
            return 4
        return 5 if isinstance(st, int) and st >= 400 else 6
    s = event.get("severity")
    return s if isinstance(s, int) and 0 <= s <= 7 else 6


def sev10(event):
    return SEV10[syslog_severity(event)]


def _utc(ns):
    return datetime.datetime.fromtimestamp(ns // 10**9, tz=datetime.timezone.utc)


def rfc3339_micro(ns):
    return _utc(ns).strftime("%Y-%m-%dT%H:%M:%S") + ".%06dZ" % (ns % 10**9 // 1000)


def bsd_time(ns):
    t = _utc(ns)
    return t.strftime("%b ") + "%2d" % t.day + t.strftime(" %H:%M:%S")


def leef_time(ns):
    return _utc(ns).strftime("%Y-%m-%dT%H:%M:%S") + ".%03d+0000" % (ns % 10**9 // 10**6)


# ---- syslog headers ----------------------------------------------------------

RX_5424 = re.compile(r"^<(\d{1,3})>(1) (\S+) (\S+) (\S+) (\S+) (\S+) (-|\[.*?\]) (.*)$", re.S)
RX_3164 = re.compile(r"^<(\d{1,3})>([A-Z][a-z]{2} [ 1-3]\d \d\d:\d\d:\d\d) (\S+) (.*)$", re.S)


def parse_5424(raw):
    m = RX_5424.match(raw)
    if not m:
        raise ValueError("not an RFC 5424 message: %r" % raw[:200])
    keys = ("pri", "version", "time", "host", "app", "procid", "msgid", "sd", "msg")
    d = dict(zip(keys, m.groups()))
    d["pri"] = int(d["pri"])
    return d


def parse_3164(raw, tag=True):
    m = RX_3164.match(raw)
    if not m:
        raise ValueError("not an RFC 3164 message: %r" % raw[:200])
    d = {"pri": int(m.group(1)), "time": m.group(2), "host": m.group(3), "msg": m.group(4)}
    if tag:
        t = re.match(r"^([\w./-]{1,32}): (.*)$", d["msg"], re.S)
        if not t:
            raise ValueError("no TAG in %r" % raw[:200])
        d["tag"], d["msg"] = t.group(1), t.group(2)
    return d


def octet_frames(stream):
    """RFC 6587 octet counting: every byte must belong to a frame."""
    out, i = [], 0
    while i < len(stream):
        m = re.match(rb"([1-9]\d*) ", stream[i:i + 12])
        if not m:
            raise ValueError("no frame length at byte %d: %r" % (i, stream[i:i + 40]))
        n = int(m.group(1))
        start = i + len(m.group(0))
        if start + n > len(stream):
            raise ValueError("frame of %d bytes cut at byte %d" % (n, len(stream)))
        out.append(stream[start:start + n])
        i = start + n
    return out


def lf_frames(stream):
    if stream and not stream.endswith(b"\n"):
        raise ValueError("stream does not end with LF")
    return stream.split(b"\n")[:-1]


# ---- CEF -------------------------------------------------------------------

def _split_header(text, count, what):
    """Splits `count` pipe-terminated fields off the front; \\| and \\\\ only."""
    fields, cur, i = [], [], 0
    while len(fields) < count:
        if i >= len(text):
            raise ValueError("%s header has %d fields, not %d: %r" % (what, len(fields), count, text[:200]))
        c = text[i]
        if c == "\\":
            nxt = text[i + 1:i + 2]
            if nxt not in ("\\", "|"):
                raise ValueError("bad escape \\%s in %s header" % (nxt, what))
            cur.append(nxt)
            i += 2
            continue
        if c in "\r\n":
            raise ValueError("line break in %s header" % what)
        if c == "|":
            fields.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    return fields, text[i:]


CEF_UNESCAPE = {"\\": "\\", "=": "=", "n": "\n", "r": "\r"}


def parse_cef(text):
    header, ext = _split_header(text, 7, "CEF")
    if header[0] != "CEF:0":
        raise ValueError("not CEF:0: %r" % header[0])
    out = {}
    # key=value pairs separated by spaces; a value runs to the next " key=".
    pos = 0
    rx_key = re.compile(r"([A-Za-z0-9]+)=")
    while pos < len(ext):
        m = rx_key.match(ext, pos)
        if not m:
            raise ValueError("no key at %d: %r" % (pos, ext[pos:pos + 40]))
        key = m.group(1)
        i = m.end()
        val = []
        while i < len(ext):
            c = ext[i]
            if c == "\\":
                nxt = ext[i + 1:i + 2]
                if nxt not in CEF_UNESCAPE:
                    raise ValueError("bad escape \\%s in CEF value of %s" % (nxt, key))
                val.append(CEF_UNESCAPE[nxt])
                i += 2
                continue
            if c == "=":
                raise ValueError("unescaped '=' in CEF value of %s" % key)
            if c in "\r\n":
                raise ValueError("raw line break in CEF value of %s" % key)
            if c == " " and rx_key.match(ext, i + 1):
                i += 1
                break
            val.append(c)
            i += 1
        if key in out:
            raise ValueError("CEF key %s twice" % key)
        out[key] = "".join(val)
        pos = i
    return header, out


# ---- LEEF ------------------------------------------------------------------

def parse_leef(text):
    header, rest = _split_header(text, 6, "LEEF")
    if header[0] != "LEEF:2.0":
        raise ValueError("not LEEF:2.0: %r" % header[0])
    d = header[5]
    m = re.match(r"^0?x([0-9A-Fa-f]{2})$", d)
    delim = chr(int(m.group(1), 16)) if m else d
    if len(delim) != 1:
        raise ValueError("bad LEEF delimiter field %r" % d)
    unescape = {"\\": "\\", "n": "\n", "r": "\r"}
    unescape["t" if delim == "\t" else delim] = delim
    attrs, cur, i = [], [], 0
    while i < len(rest):
        c = rest[i]
        if c == "\\":
            nxt = rest[i + 1:i + 2]
            if nxt not in unescape:
                raise ValueError("bad escape \\%s in LEEF value" % nxt)
            cur.append(("esc", unescape[nxt]))
            i += 2
            continue
        if c in "\r\n":
            raise ValueError("raw line break in LEEF attributes")
        if c == delim:
            attrs.append(cur)
            cur = []
        else:
            cur.append(("lit", c))
        i += 1
    attrs.append(cur)
    out = {}
    for a in attrs:
        lits = "".join(ch if kind == "lit" else "\0" for kind, ch in a)
        eq = lits.find("=")
        if eq <= 0 or not re.match(r"^[A-Za-z0-9]+$", lits[:eq]):
            raise ValueError("bad LEEF attribute %r" % lits[:60])
        key = lits[:eq]
        if key in out:
            raise ValueError("LEEF key %s twice" % key)
        out[key] = "".join(ch for _, ch in a[eq + 1:])
    return header[1:5], delim, out


# ---- the documented mapping --------------------------------------------------

def _get(event, path):
    cur = event
    for k in path:
        if not isinstance(cur, dict) or k not in cur:
            return None
        cur = cur[k]
    return cur


def _text(v):
    if v is None or isinstance(v, (dict, list)):
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    return v if v != "" else None


def expected_fields(ev):
    labels = ev.get("labels") or {}
    fields = _get(ev, ["content", "fields"]) or {}

    def first(*vals):
        for v in vals:
            t = _text(v)
            if t is not None:
                return t
        return None

    path = None
    if ev.get("filename"):
        d = ev.get("directory") or ""
        path = (d if d.endswith("/") or not d else d + "/") + ev["filename"]
    tags = _get(ev, ["content", "ruleTags"])
    content = ev.get("content") if isinstance(ev.get("content"), dict) else {}
    monitor = ev if ev.get("type") == "monitor" else {}
    url = None
    if content.get("requestUri"):
        url = content["requestUri"] + ("?" + content["queryString"] if content.get("queryString") else "")
    out = {
        "id": first(ev.get("id")),
        "type": first(ev.get("type")),
        "policy": first(ev.get("name")) if ev.get("type") == "policy" else None,
        "host": first(ev.get("hostname"), labels.get("host.hostName")),
        "user": first(ev.get("username"), _get(ev, ["user", "username"]), fields.get("user.name"),
                      content.get("username")),
        "process": first(ev.get("comm"), ev.get("processName"), fields.get("proc.name")),
        "pid": first(ev.get("pid")),
        "cmdline": first(ev.get("cmdline"), fields.get("proc.cmdline")),
        "file": first(path, fields.get("fd.name")),
        "src": first(ev.get("clientIpv4Dot"), content.get("userOriginIP")),
        "sport": first(ev.get("clientPort")),
        "dst": first(ev.get("serverIpv4Dot")),
        "dport": first(ev.get("serverPort")),
        "proto": {6: "TCP", 17: "UDP", 1: "ICMP"}.get(ev.get("l4protocol"), first(ev.get("l4protocol"))),
        "direction": first(ev.get("direction")),
        "container": first(ev.get("containerId"), fields.get("container.id")),
        "image": first(labels.get("container.image.repo"), fields.get("container.image.repository")),
        "namespace": first(ev.get("namespace"), labels.get("kubernetes.namespace.name"),
                           labels.get("container.label.io.kubernetes.pod.namespace")),
        "pod": first(labels.get("kubernetes.pod.name")),
        "cluster": first(labels.get("kubernetes.cluster.name")),
        "policy_id": first(_get(ev, ["content", "policyId"])),
        "rule": first(_get(ev, ["content", "ruleName"])),
        "tags": ",".join(tags) if isinstance(tags, list) and tags else None,
        "output": first(_get(ev, ["content", "output"]), monitor.get("description")),
        "user_id": first(content.get("userId")),
        "method": first(content.get("requestMethod")),
        "url": url,
        "status": first(content.get("responseStatusCode")),
        "entity": first(content.get("entityType")),
        "team_id": first(content.get("teamId")),
        "customer_id": first(content.get("customerId")),
        "event_name": first(monitor.get("name")),
        "scope": first(monitor.get("scope")),
    }
    return {k: v for k, v in out.items() if v is not None}


TITLES = {"policy": "Policy event", "command": "Command executed", "connection": "Network connection",
          "fileaccess": "File access", "kubernetes": "Kubernetes activity", "audittrail": "Platform audit",
          "monitor": "Monitor event"}


def expected_title(f):
    if f.get("policy") or f.get("event_name"):
        return f.get("policy") or f["event_name"]
    if f.get("type") == "audittrail" and f.get("method") and f.get("url"):
        return "Platform audit: %s %s" % (f["method"], f["url"].split("?")[0])
    return TITLES.get(f.get("type")) or f.get("type") or "Sysdig event"


def expected_event_id(f):
    if f.get("rule"):
        return f["rule"]
    if f.get("type") == "audittrail":
        return ":".join(["audittrail"] + [f[k] for k in ("entity", "method") if f.get(k)])
    return f.get("type") or "event"


def header_text(s):
    """Header fields cannot hold line breaks: they become spaces."""
    return s.replace("\r", " ").replace("\n", " ")


CEF_KEYS = [("id", "externalId", None), ("type", "cat", None), ("host", "dvchost", None),
            ("output", "msg", None), ("user", "suser", None), ("process", "sproc", None),
            ("pid", "spid", None), ("file", "filePath", None), ("src", "src", None),
            ("sport", "spt", None), ("dst", "dst", None), ("dport", "dpt", None),
            ("proto", "proto", None), ("rule", "cs1", "ruleName"), ("tags", "cs2", "ruleTags"),
            ("container", "cs3", "containerId"), ("cmdline", "cs4", "cmdline"),
            ("namespace", "cs5", "k8sNamespace"), ("pod", "cs6", "k8sPod"),
            ("policy_id", "cn1", "policyId"), ("user_id", "suid", None),
            ("method", "requestMethod", None), ("url", "request", None),
            ("status", "cn2", "responseStatusCode"), ("team_id", "cn3", "teamId"),
            ("entity", "flexString1", "entityType"), ("customer_id", "flexNumber1", "customerId"),
            ("scope", "flexString2", "scope")]


def expected_cef(ev):
    """(header, extension) as docs/integrations.md describes them."""
    f = expected_fields(ev)
    ext = {}
    if isinstance(ev.get("timestamp"), int):
        ext["rt"] = str(ev["timestamp"] // 10**6)
    for field, key, label in CEF_KEYS:
        if field in f:
            ext[key] = f[field]
            if label:
                ext[key + "Label"] = label
    if f.get("direction") in ("in", "out"):
        ext["deviceDirection"] = "0" if f["direction"] == "in" else "1"
    if f.get("status") and f.get("method"):
        ext["outcome"] = "success" if int(f["status"]) < 400 else "failure"
    header = ["CEF:0", "Sysdig", "Secure", "1.0", header_text(expected_event_id(f)),
              header_text(expected_title(f)), str(sev10(ev))]
    return header, ext


LEEF_KEYS = [("id", "externalId"), ("host", "hostname"), ("policy", "policy"), ("rule", "ruleName"),
             ("policy_id", "policyId"), ("tags", "ruleTags"), ("output", "msg"), ("user", "usrName"),
             ("process", "process"), ("pid", "pid"), ("cmdline", "cmdline"), ("file", "filePath"),
             ("src", "src"), ("sport", "srcPort"), ("dst", "dst"), ("dport", "dstPort"),
             ("proto", "proto"), ("direction", "direction"), ("container", "containerId"),
             ("image", "image"), ("namespace", "k8sNamespace"), ("pod", "k8sPod"),
             ("cluster", "k8sCluster"), ("user_id", "userId"), ("method", "requestMethod"), ("url", "url"),
             ("status", "responseStatusCode"), ("entity", "entityType"), ("team_id", "teamId"),
             ("customer_id", "customerId"), ("event_name", "eventName"), ("scope", "scope")]


def expected_leef(ev):
    """(header fields after the version, attributes)."""
    f = expected_fields(ev)
    attrs = {"devTime": leef_time(ev["timestamp"]), "devTimeFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSZ",
             "cat": f.get("type", "event"), "sev": str(sev10(ev))}
    for field, key in LEEF_KEYS:
        if field in f:
            attrs[key] = f[field]
    return ["Sysdig", "Secure", "1.0", header_text(expected_event_id(f))], attrs
