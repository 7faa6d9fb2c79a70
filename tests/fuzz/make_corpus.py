#!/usr/bin/env python3
"""Writes the fuzz harnesses' seed corpora (tests/fuzz/corpus/NAME/).

Seeds come from the repository's samples (tests/data), its configurations
(config/), and the shapes the unit tests use (Falco output, HTTP framing
cases, spool segments). Run from anywhere; the output is deterministic, and
what it writes is checked in: run it again after changing a harness's input
layout (fuzz_NAME.c describes each)."""
import gzip
import os
import pathlib
import shutil
import struct

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
OUT = HERE / "corpus"

SAMPLES = sorted((ROOT / "tests" / "data").glob("*.json"))

FALCO = (b'{"time":"2024-01-02T03:04:05.123456789Z","rule":"Terminal shell in container",'
         b'"priority":"Warning","output":"A shell was spawned (user=root shell=bash)",'
         b'"output_fields":{"container.id":"abc","evt.time":1704164645123456789,'
         b'"proc.cmdline":"bash -i","user.name":"root"},'
         b'"tags":["container","shell","mitre_execution"],"hostname":"node-1","source":"syscall"}')
FALCO_MIN = (b'{"rule":"r","priority":"Info","output":"o","time":"2024-01-02T03:04:05Z",'
             b'"source":"k8s_audit","output_fields":null,"hostname":null}')
FALCO_PRETTY = (b'{\n  "output": "o",\n  "priority": "debug",\n  "rule": "r",\n'
                b'  "time": "2024-01-02T03:04:05Z",\n  "output_fields": {\n'
                b'    "a": [ 1, 2 ]\n  },\n  "tags": [ ]\n}\n')

HOSTILE = (b'{"type":"policy","severity":2,"name":"a|b=c\\\\d\\n\\r\\t\\u0000\\ud83d\\ude00",'
           b'"content":{"fields":{"proc.name":"x=y|z","k8s.ns":"\\u2028"},"ruleTags":["a","b"]},'
           b'"labels":{"app":"x"},"timestampRFC3339Nano":"2024-01-02T03:04:05.1Z",'
           b'"big":18446744073709551615,"neg":-9223372036854775808,"e":[],"o":{}}')


def samples():
    return [p.read_bytes() for p in SAMPLES]


def write(name, seeds):
    d = OUT / name
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    for i, s in enumerate(seeds):
        (d / ("seed-%02d" % i)).write_bytes(s)


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def segment(first, payloads, version=1):
    """A spool segment (docs/delivery.md "Disk spool"): version 1 payloads
    are records; version 2 ones are v2_payload()s."""
    out = b"SRSP" + struct.pack("<IQ", version, first)
    for i, p in enumerate(payloads):
        ln, seq = struct.pack("<I", len(p)), struct.pack("<Q", first + i)
        c = crc32c(p, crc32c(seq, crc32c(ln)))
        out += ln + struct.pack("<I", c) + seq + p
    return out


def v2_payload(record, event=b""):
    return struct.pack("<I", len(record)) + record + event


def cursor(seq):
    s = struct.pack("<Q", seq)
    return b"SRCU" + struct.pack("<I", crc32c(s)) + s


def spool_input(sel, segs, cur=None, spare=b""):
    out = bytes([sel])
    for s in segs:
        out += struct.pack(">H", len(s)) + s
    if cur is not None:
        out += cur
    return out + spare


def http_requests():
    body = SAMPLES[0].read_bytes()
    chunked = b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"
    return [
        b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body) + body,
        b"POST /v1/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked,
        b"POST /v1/events HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;name=value;q=\"a\\\"b\"\r\nhello\r\n0\r\nTrailer: t\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics?x=1 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /deny HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
        b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
        b"POST / HTTP/1.0\r\nContent-Length: 2\r\n\r\nab",
        b"POST / HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"\r\n\r\nGET / HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
    ]


def main():
    s = samples()
    write("json", s + [FALCO, FALCO_PRETTY, HOSTILE, b"[1,-0.5e+3,true,false,null,\"\\u0041\"]",
                       b'{"a":{"b":[[{}],[]]},"a":1}'])
    edits = [
        (0x7f, b"content.fields[\"proc.name\"]", b"\"redacted\"", b"labels.app"),
        (0x55, b"labels['x.y']", b"{\"n\":[1,2,{\"m\":null}]}", b"content.ruleTags[0]"),
        (0x2a, b"severity", b"7", b"type"),
        (0x0f, b"a.b[1].c", b"[ ]", b"name"),
    ]
    ev = []
    for i, body in enumerate(s + [FALCO, HOSTILE]):
        sel, a, v, b = edits[i % len(edits)]
        ev.append(bytes([sel]) + a + b"\n" + v + b"\n" + b + b"\n" + body)
    write("event", ev)
    write("falco", [FALCO, FALCO_MIN, FALCO_PRETTY,
                    FALCO.replace(b'"Warning"', b'"Emergency"').replace(b'"tags":[', b'"tags":["x",')])
    gz = []
    for i, body in enumerate(s[:3] + [FALCO]):
        z = gzip.compress(body, mtime=0)
        gz.append(struct.pack(">I", 1 << 16) + z)
    gz.append(struct.pack(">I", 100) + gzip.compress(b"x" * 1000, mtime=0))
    gz.append(struct.pack(">I", 1 << 16) + gzip.compress(b"a", mtime=0) + gzip.compress(b"b", mtime=0))
    write("gzip", gz)
    cfgs = [bytes([1]) + (ROOT / "config" / "siemrelay.yaml").read_bytes()]
    sysdig = ROOT / "config" / "sysdig"
    cfgs.append(bytes([0]) + (sysdig / "dragent.yaml").read_bytes() + b"\0" +
                (sysdig / "local_forwarder_config.yaml").read_bytes())
    cfgs.append(bytes([1]) + (sysdig / "values.yaml").read_bytes())
    for ex in ("syslog.yaml", "webhook.yaml", "splunk.yaml", "kafka.yaml"):
        cfgs.append(bytes([2]) + (ROOT / "config" / "examples" / ex).read_bytes())
    write("config", cfgs)
    reqs = http_requests()
    write("http_server", reqs)
    write("http_framing", [bytes([i * 37 % 256]) + r for i, r in enumerate(reqs)])
    write("encoders", s + [FALCO, HOSTILE, b"[" + b",".join(s[:3]) + b"]",
                           b"\n".join(x.replace(b"\n", b"") for x in s[:3]) + b"\n"])
    recs = [x.replace(b"\n", b"") for x in s[:4]]
    write("spool", [
        spool_input(0, [segment(1, recs)]),
        spool_input(4 | 1, [segment(1, recs[:2]), segment(3, recs[2:])], cursor(2)),
        spool_input(8 | 4, [segment(5, recs)[:-7]], cursor(6), segment(1, recs[:1])),
        spool_input(16 | 2, [segment(1, recs[:1]), b"SRSP\1\0\0\0", segment(9, recs[1:])]),
        spool_input(4, [segment(1, [])], cursor(40)),
        # Version 2 (records with their events), alone and behind version 1.
        spool_input(0, [segment(1, [v2_payload(r, r) for r in recs], 2)]),
        spool_input(16 | 4 | 1, [segment(1, recs[:2]),
                                 segment(3, [v2_payload(r) for r in recs[2:]], 2)], cursor(2)),
    ])


if __name__ == "__main__":
    main()
