"""delivery_util.py - shared pieces of the delivery tests
(tests/integration/test_delivery_*.py).

  events(prefix, n, pad=0)   n distinct activity-audit events, ids
                             "<prefix>-000000", ...; `pad` adds that many
                             bytes in a field (to size queues)
  post_ok(gw, evs)           posts NDJSON, asserts 200 and all accepted
  Launcher (fixture `launch`) starts gateways that the test may kill -9,
                             restart on the same data directory, or SIGHUP;
                             checks the clean ones stop cleanly at teardown
  state_file(gw, name)       <data_dir>/state/<name>.json, parsed (or None)
  admin_get(gw, path)        the admin API's answer (asserts 200)
  admin_integration(gw, n)   GET /api/integrations/<n>
  status_of(gw, name)        the integration's status, from the admin API
  history_of(gw, name)       [(from, to, reason)] from the state file
  order_check(ids, want)     first-arrival order and duplicates
"""

import json
import os
import re
import shutil
import signal
import threading
import time

import pytest
import requests

from receivers.controlled import ControlledReceiver
from conftest import _Factory
from harness import Gateway, compact, sample_bytes, summary_of

# Timings used by the delivery tests: fast retries, a short inhibition.
FAST_DELIVERY = {"backoff": "100ms", "backoff_max": "300ms", "inhibit": "2s",
                 "shutdown_timeout": "3s"}

_BASE = None


def _base_event():
    global _BASE
    if _BASE is None:
        _BASE = json.loads(sample_bytes("audit_command.json"))
    return _BASE


def events(prefix, n, pad=0, start=0):
    out = []
    for i in range(start, start + n):
        e = dict(_base_event())
        e["id"] = "%s-%06d" % (prefix, i)
        if pad:
            e["pad"] = "x" * pad
        out.append(e)
    return out


def ndjson_bytes(evs):
    return "".join(compact(e) + "\n" for e in evs).encode("utf-8")


def post_ok(gw, evs, timeout=20):
    r = gw.post(ndjson_bytes(evs), content_type="application/x-ndjson", timeout=timeout)
    assert r.status_code == 200, "ingest answered %d: %s" % (r.status_code, r.text[:500])
    s = summary_of(r)
    assert s["accepted"] == len(evs), s
    return r


# ---- the gateway's own view ----------------------------------------------

def state_path(gw, name):
    return os.path.join(gw.data_dir, "state", name + ".json")


def state_file(gw, name):
    """The persisted status (runtime/delivery/integration_status.c), or None if not written yet."""
    try:
        with open(state_path(gw, name), "rb") as f:
            data = f.read()
    except OSError:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None  # being replaced (it is written atomically, but be lenient)


def admin_get(gw, path, timeout=5):
    """GET on the gateway's admin API; the parsed JSON of a 200 answer."""
    r = requests.get("http://127.0.0.1:%d%s" % (gw.admin_port, path), timeout=timeout)
    assert r.status_code == 200, "admin API %s answered %d: %s" % (path, r.status_code, r.text[:300])
    return r.json()


def admin_integration(gw, name):
    """/api/integrations/{name}: status, queue, counters, history."""
    return admin_get(gw, "/api/integrations/%s" % name)


def wait_counters(gw, name, timeout=15, **want):
    """Polls the admin API until counters[k] == v for every k=v given;
    returns the integration object. The gateway settles a batch after the
    receiver answered, so a test reads counters only through this."""
    deadline = time.monotonic() + timeout
    while True:
        a = admin_integration(gw, name)
        if all(a["counters"].get(k) == v for k, v in want.items()):
            return a
        if time.monotonic() > deadline:
            raise AssertionError("counters of %r never reached %r: %r" % (name, want, a["counters"]))
        time.sleep(0.02)


def status_of(gw, name):
    """The status as the admin API reports it."""
    return admin_integration(gw, name)["status"]


def history_of(gw, name):
    """[(from, to, reason)] from the state file."""
    s = state_file(gw, name) or {}
    return [(h.get("from"), h.get("to"), h.get("reason")) for h in s.get("history", [])]


def wait_status(gw, name, status, timeout=20):
    def check():
        return status_of(gw, name) == status

    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("integration %r never reached status %r within %.0fs; it is %r; "
                                 "state file: %r" % (name, status, timeout, status_of(gw, name),
                                                     state_file(gw, name)))
        time.sleep(0.02)


def order_check(got_ids, want_ids):
    """(missing, duplicates {id: count>1}, first-arrival order == want order)."""
    counts = {}
    first = []
    for i in got_ids:
        if i not in counts:
            first.append(i)
        counts[i] = counts.get(i, 0) + 1
    missing = [i for i in want_ids if i not in counts]
    dups = {i: c for i, c in counts.items() if c > 1}
    wanted = set(want_ids)
    in_order = [i for i in first if i in wanted] == [i for i in want_ids if i in counts]
    return missing, dups, in_order


class Ingest:
    """A thread posting batches of `per_request` events to gw as fast as the
    gateway takes them (or every `interval` s). acked: ids of events whose
    request got 200 with all accepted, in order. A 503 is retried after its
    Retry-After (capped at 0.2 s here, to keep load on); a transport error
    (the gateway died) ends the thread unless keep_going is set."""

    def __init__(self, gw, prefix, per_request=10, interval=0.0, keep_going=False, pad=0):
        self.gw, self.prefix, self.per_request, self.interval = gw, prefix, per_request, interval
        self.keep_going, self.pad = keep_going, pad
        self.acked = []
        self.refused = 0
        self.errors = 0
        self.sent_requests = 0
        self.next = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True, name="ingest-" + prefix)
        self._session = requests.Session()

    def _run(self):
        pending = None
        while not self._stop.is_set():
            if pending is None:
                pending = events(self.prefix, self.per_request, pad=self.pad, start=self.next)
                self.next += self.per_request
            try:
                r = self._session.post(self.gw.url(), data=ndjson_bytes(pending),
                                       headers={"Content-Type": "application/x-ndjson"}, timeout=10)
                self.sent_requests += 1
            except requests.RequestException:
                self.errors += 1
                if not self.keep_going:
                    return
                self._stop.wait(0.05)
                continue
            if r.status_code == 200 and r.json().get("accepted") == len(pending):
                self.acked.extend(e["id"] for e in pending)
                pending = None
            elif r.status_code == 503:
                self.refused += 1
                self._stop.wait(0.05)
            else:
                self.errors += 1
                pending = None  # neither acknowledged nor worth resending
            if self.interval:
                self._stop.wait(self.interval)

    def start(self):
        self._t.start()
        return self

    def stop(self):
        self._stop.set()
        self._t.join(15)
        self._session.close()
        return self

    def wait_acked(self, n, timeout=20):
        deadline = time.monotonic() + timeout
        while len(self.acked) < n:
            if time.monotonic() > deadline:
                raise AssertionError("only %d event(s) acknowledged within %.0fs (errors %d, 503s %d)"
                                     % (len(self.acked), timeout, self.errors, self.refused))
            if not self._t.is_alive():
                raise AssertionError("the ingest thread ended after %d acknowledged event(s)" % len(self.acked))
            time.sleep(0.01)


# ---- gateways the test may crash and restart --------------------------------

class Launcher(_Factory):
    """Starts gateways on a directory of the test's choosing, so a restart
    (a new process on the same data_dir) finds the spool and state files.

    start(workdir, integrations, conf=..., tcp=...) -> Gateway; each
    start's stderr goes to its own file (gateway-<n>.stderr). The harness
    gives every gateway its admin API on a free port (gw.admin_port).
    """

    def __init__(self, tmp_factory):
        super().__init__(tmp_factory, "dgw")
        self.n = 0

    def workdir(self, prefix="dgw"):
        return str(self.tmp_factory.mktemp(prefix))

    def start(self, workdir, integrations, conf=None, tcp=False, env=None, extra_files=()):
        conf = dict(conf or {})
        conf.setdefault("delivery", dict(FAST_DELIVERY))
        self.n += 1
        gw = Gateway(workdir, integrations=integrations, conf=conf, env=env, tcp=tcp,
                     extra_files=extra_files)
        gw.stderr_path = os.path.join(str(workdir), "gateway-%d.stderr" % self.n)
        gw.stdout_path = os.path.join(str(workdir), "gateway-%d.stdout" % self.n)
        self.gateways.append(gw)
        gw.start()
        return gw

    def kill9(self, gw):
        """SIGKILL: no drain, no cursor persisted beyond what is on disk."""
        if gw.proc is not None and gw.proc.poll() is None:
            os.kill(gw.proc.pid, signal.SIGKILL)
            gw.proc.wait(timeout=10)
        gw.exit_code = gw.proc.returncode if gw.proc else None
        gw.kill()
        gw.stopped = True

    def forget(self, gw):
        """The test handled this gateway's end itself."""
        gw.stopped = True


@pytest.fixture
def receivers():
    """make() -> a started ControlledReceiver; all stopped at teardown,
    after the gateways (launch depends on this fixture)."""
    made = []

    def make():
        r = ControlledReceiver().start()
        made.append(r)
        return r

    yield make
    for r in made:
        r.down()


@pytest.fixture
def launch(tmp_path_factory, receivers):
    """A Launcher; at teardown every gateway not crashed on purpose must
    stop cleanly (exit 0, no sanitizer report). Import it into a test
    module to use it."""
    la = Launcher(tmp_path_factory)
    yield la
    problems = la.close()
    if problems:
        pytest.fail("gateway shutdown check failed:\n" + "\n\n".join(problems), pytrace=False)


def copy_spool_segments(gw, name):
    d = os.path.join(gw.data_dir, "spool", name)
    return sorted(f for f in os.listdir(d) if f.endswith(".seg")) if os.path.isdir(d) else []


def spool_dir(gw, name):
    return os.path.join(gw.data_dir, "spool", name)


def newest_segment(gw, name):
    segs = copy_spool_segments(gw, name)
    return os.path.join(spool_dir(gw, name), segs[-1]) if segs else None


def log_count(text, pattern):
    return len(re.findall(pattern, text, re.IGNORECASE))


__all__ = [
    "FAST_DELIVERY", "events", "ndjson_bytes", "post_ok", "state_path", "state_file", "admin_get",
    "admin_integration", "wait_counters", "status_of", "history_of", "wait_status", "order_check",
    "Ingest", "Launcher", "launch", "receivers", "spool_dir", "newest_segment", "log_count", "shutil",
]
