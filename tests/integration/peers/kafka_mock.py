"""kafka_mock.py - librdkafka's mock Kafka cluster (tests/peers/kafka_mock.c)
as a test peer, and the two ways the tests read it back.

    km = KafkaMock(brokers=3, topics=["events:3"]).start()
    km.bootstrap                      # "127.0.0.1:PORT,..."
    km.errors("produce", "NOT_LEADER_FOR_PARTITION", "_TRANSPORT")
    km.down(1); km.up(1)              # a broker refuses, then accepts again
    km.consume("events")              # every message, via kcat -J
    km.batch_codecs("events", 0)      # compression codec of each stored batch
    km.stop()

The binary is found under SIEMRELAY_BUILD_DIR (set by tests/CMakeLists.txt),
else next to SIEMRELAY_BIN. kcat reads messages back as a real consumer
would (key, headers, payload). batch_codecs speaks the Kafka protocol itself
(Fetch v4 to the partition's leader, which kcat -L names) and reads each
record batch's header: kcat decompresses transparently, so only the wire
shows which codec the producer used, and the producer id, epoch and
sequence number that make a resent batch recognisable as a duplicate.
"""

import json
import os
import shutil
import socket
import struct
import subprocess

KCAT = shutil.which("kcat") or shutil.which("kafkacat")

CODECS = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}


def kafka_mock_bin():
    for base in (os.environ.get("SIEMRELAY_BUILD_DIR"),
                 os.path.dirname(os.environ.get("SIEMRELAY_BIN", "")) or None):
        if base:
            path = os.path.join(base, "tests", "kafka_mock")
            if os.path.isfile(path) and os.access(path, os.X_OK):
                return path
    return None


def available():
    """None when the peer can run, else why not (for pytest.skip)."""
    if not kafka_mock_bin():
        return "kafka_mock is not built (SIEMRELAY_BUILD_DIR/tests/kafka_mock)"
    if not KCAT:
        return "kcat is not installed"
    return None


class KafkaMockError(AssertionError):
    pass


class KafkaMock:
    def __init__(self, brokers=1, topics=(), log_path=None):
        self.nbrokers = brokers
        self.topics = list(topics)
        self.log_path = log_path or os.devnull
        self.proc = None
        self.bootstrap = None
        self._log = None

    def start(self):
        args = [kafka_mock_bin(), "-b", str(self.nbrokers)]
        for t in self.topics:
            args += ["-t", t]
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._log, text=True, bufsize=1)
        line = self.proc.stdout.readline().split()
        if len(line) != 2 or line[0] != "bootstrap":
            self.stop()
            raise KafkaMockError("kafka_mock did not start: %r" % (line,))
        self.bootstrap = line[1]
        return self

    def cmd(self, *words):
        self.proc.stdin.write(" ".join(str(w) for w in words) + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        if answer != "ok":
            raise KafkaMockError("kafka_mock %s: %s" % (" ".join(map(str, words)), answer or "(exited)"))

    def topic(self, name, partitions=1):
        self.cmd("topic", name, partitions)

    def errors(self, api, *errs):
        self.cmd("errors", api, *errs)

    def broker_errors(self, broker, api, err, rtt_ms):
        self.cmd("broker_errors", broker, api, err, rtt_ms)

    def clear(self, api):
        self.cmd("clear", api)

    def down(self, broker):
        self.cmd("down", broker)

    def up(self, broker):
        self.cmd("up", broker)

    def leader(self, topic, partition, broker):
        self.cmd("leader", topic, partition, broker)

    def stop(self):
        if self.proc is None:
            return
        try:
            if self.proc.poll() is None:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=10)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait(timeout=5)
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass
        if self._log:
            self._log.close()
        self.proc = None

    # ---- reading back --------------------------------------------------

    def consume(self, topic, timeout=30):
        """Every message of the topic, oldest first per partition, as kcat's
        JSON envelopes: {"partition", "offset", "key", "headers", "payload"}."""
        out = subprocess.run([KCAT, "-C", "-b", self.bootstrap, "-t", topic, "-o", "beginning",
                              "-e", "-J", "-q"], capture_output=True, timeout=timeout)
        if out.returncode != 0:
            raise KafkaMockError("kcat -C failed (%d): %s" % (out.returncode, out.stderr.decode(errors="replace")))
        msgs = []
        for line in out.stdout.split(b"\n"):
            if line.strip():
                msgs.append(json.loads(line.decode("utf-8")))
        return msgs

    def metadata(self, topic):
        out = subprocess.run([KCAT, "-L", "-b", self.bootstrap, "-t", topic, "-J"],
                             capture_output=True, timeout=30)
        if out.returncode != 0:
            raise KafkaMockError("kcat -L failed: %s" % out.stderr.decode(errors="replace"))
        return json.loads(out.stdout.decode("utf-8"))

    def batches(self, topic, partition=0):
        """The partition's record batches as its leader stores them:
        [{"offset", "count", "codec", "producer_id", "epoch", "sequence"}]."""
        md = self.metadata(topic)
        part = [p for t in md["topics"] if t["topic"] == topic
                for p in t["partitions"] if p["partition"] == partition][0]
        addr = [b["name"] for b in md["brokers"] if b["id"] == part["leader"]][0]
        host, port = addr.rsplit(":", 1)
        out = []
        offset = 0
        with socket.create_connection((host, int(port)), timeout=10) as s:
            for corr in range(1, 10000):
                hw, records = _fetch(s, corr, topic, partition, offset)
                if offset >= hw or not records:
                    break
                for b in _record_batches(records):
                    if b["offset"] + b["count"] > offset:
                        out.append(b)
                        offset = b["offset"] + b["count"]
        return out

    def batch_codecs(self, topic, partition=0):
        """[(codec name, record count)] for each stored record batch."""
        return [(b["codec"], b["count"]) for b in self.batches(topic, partition)]


# ---- a minimal Kafka protocol client: Fetch v4 ---------------------------

def _kstr(s):
    b = s.encode("utf-8")
    return struct.pack(">h", len(b)) + b


def _recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise KafkaMockError("connection closed by the broker")
        buf += chunk
    return buf


def _fetch(s, corr, topic, partition, offset):
    body = (struct.pack(">iiiib", -1, 0, 0, 16 << 20, 0)
            + struct.pack(">i", 1) + _kstr(topic)
            + struct.pack(">iiqi", 1, partition, offset, 16 << 20))
    req = struct.pack(">hhi", 1, 4, corr) + _kstr("siemrelay-tests") + body
    s.sendall(struct.pack(">i", len(req)) + req)
    size = struct.unpack(">i", _recv_exact(s, 4))[0]
    resp = _recv_exact(s, size)
    pos = 0

    def take(fmt):
        nonlocal pos
        vals = struct.unpack_from(fmt, resp, pos)
        pos += struct.calcsize(fmt)
        return vals

    got_corr, _throttle, ntopics = take(">iii")
    assert got_corr == corr and ntopics == 1, (got_corr, ntopics)
    tlen = take(">h")[0]
    pos += tlen
    nparts = take(">i")[0]
    assert nparts == 1
    _p, err, hw, _lso = take(">ihqq")
    if err:
        raise KafkaMockError("Fetch %s[%d]@%d: error %d" % (topic, partition, offset, err))
    naborted = take(">i")[0]
    pos += max(naborted, 0) * 16
    rlen = take(">i")[0]
    records = resp[pos:pos + rlen] if rlen > 0 else b""
    return hw, records


def _record_batches(records):
    """Each complete v2 record batch's header fields."""
    pos = 0
    while pos + 61 <= len(records):
        base, length = struct.unpack_from(">qi", records, pos)
        magic = records[pos + 16]
        if magic != 2 or pos + 12 + length > len(records):
            break
        attributes = struct.unpack_from(">h", records, pos + 21)[0]
        producer_id, epoch, sequence, count = struct.unpack_from(">qhii", records, pos + 43)
        yield {"offset": base, "count": count, "codec": CODECS.get(attributes & 0x7, str(attributes & 0x7)),
               "producer_id": producer_id, "epoch": epoch, "sequence": sequence}
        pos += 12 + length
