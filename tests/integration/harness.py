"""harness.py - start the real siemrelay gateway on loopback for the
integration tests.

What lives here:
  - paths: the gateway binary (SIEMRELAY_BIN) and the repository
    (SIEMRELAY_SOURCE_DIR), the sample payloads in tests/data;
  - free_port(): a loopback port nobody listens on right now;
  - yaml_text(): a config dict as YAML (PyYAML, block style);
  - Gateway: writes a config into a temp dir, starts the binary, waits until
    GET /healthz answers, posts bodies, stops it with SIGTERM and checks the
    exit code and the sanitizers' verdict; its admin API listens on a free
    port of its own (admin_port, admin_url(), admin_get());
  - small polling helpers (wait_until) so no test sleeps for fixed times.

Nothing here asserts the gateway's behaviour beyond "it started and stopped
cleanly"; the tests do that.
"""

import gzip as gzip_mod
import json
import os
import re
import signal
import socket
import subprocess
import time

import requests
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("SIEMRELAY_SOURCE_DIR") or os.path.abspath(os.path.join(HERE, "..", ".."))
DATA_DIR = os.path.join(SOURCE_DIR, "tests", "data")

SAMPLE_NAMES = [
    "audit_command.json",
    "audit_file.json",
    "audit_kube_exec.json",
    "audit_network.json",
    "platform_audit.json",
    "policy_event.json",
]
INVALID_SAMPLE = "audit_network.invalid-as-published.json"

ALL_CHANNELS = ["SECURE_EVENTS_POLICIES", "ACTIVITY_AUDIT", "PLATFORM_AUDIT"]

READY_TIMEOUT = 15.0
STOP_TIMEOUT = 25.0  # the gateway drains queues for up to 10 s on SIGTERM

SANITIZER_MARKERS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",
)


class GatewayError(AssertionError):
    pass


def gateway_bin():
    path = os.environ.get("SIEMRELAY_BIN")
    if not path:
        raise GatewayError("SIEMRELAY_BIN is not set: point it at the built siemrelay binary")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise GatewayError("SIEMRELAY_BIN=%s is not an executable file (has the gateway been built?)" % path)
    return path


def repo_path(*parts):
    return os.path.join(SOURCE_DIR, *parts)


def sample_bytes(name):
    with open(os.path.join(DATA_DIR, name), "rb") as f:
        return f.read()


def samples():
    """[(name, raw bytes, parsed)] for the six valid samples."""
    out = []
    for name in SAMPLE_NAMES:
        raw = sample_bytes(name)
        out.append((name, raw, json.loads(raw)))
    return out


def strict_loads(data):
    """json.loads that refuses NaN/Infinity (not JSON) and decodes bytes as
    strict UTF-8, so a corrupted byte fails loudly."""
    if isinstance(data, (bytes, bytearray)):
        data = bytes(data).decode("utf-8")

    def bad_constant(name):
        raise ValueError("not JSON: %s" % name)

    return json.loads(data, parse_constant=bad_constant)


def compact(obj):
    """One line of JSON with non-ASCII kept as UTF-8."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def ndjson(objs):
    return ("".join(compact(o) + "\n" for o in objs)).encode("utf-8")


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


_HELD = []


def refusing_port():
    """A port bound for the rest of the test process but not listening: a
    connection to it is refused, and no other socket (another test's
    receiver) can be given it, as a port free_port() released can."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    _HELD.append(s)
    return s.getsockname()[1]


def yaml_text(conf):
    return yaml.safe_dump(conf, default_flow_style=False, sort_keys=False, allow_unicode=True, width=4096)


def wait_until(predicate, timeout, interval=0.02, message=None):
    """Polls predicate() until it returns something truthy; returns that
    value, or raises AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(message or "condition not met within %.1fs" % timeout)
        time.sleep(interval)


def webhook(name, endpoint, channels=None, output="ndjson", batch=None, min_severity=None,
            scripts=None, **configuration):
    """An integrations: entry for a WEBHOOK."""
    conf = {"endpoint": endpoint, "output": output}
    conf.update(configuration)
    entry = {"name": name, "type": "WEBHOOK", "channels": list(channels or ALL_CHANNELS)}
    if min_severity is not None:
        entry["min_severity"] = min_severity
    if scripts:
        entry["scripts"] = list(scripts)
    entry["batch"] = batch if batch is not None else {"max_events": 100, "linger": "50ms"}
    entry["configuration"] = conf
    return entry


def file_integration(name, path, channels=None, **configuration):
    conf = {"path": path}
    conf.update(configuration)
    return {"name": name, "type": "FILE", "channels": list(channels or ALL_CHANNELS),
            "batch": {"max_events": 100, "linger": "50ms"}, "configuration": conf}


class Gateway:
    """One siemrelay process with its own temp directory.

    conf: extra top-level config (merged over the defaults below); `inputs`
    is filled in with the allocated ports (keys given in conf["inputs"]
    are merged into them), and so is `admin` (admin.listen on a free port,
    so gateways never fight over the default 9090; keys in conf["admin"]
    are merged over it). extra_files: [(file name, text)] written next to
    the config and passed with further -c options after it.
    """

    def __init__(self, workdir, integrations=(), conf=None, env=None, tcp=False, extra_files=(),
                 http=True, launcher=()):
        self.workdir = str(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.data_dir = os.path.join(self.workdir, "data")
        self.integrations = list(integrations)
        self.user_conf = dict(conf or {})
        self.env = dict(env or {})
        self.want_tcp = tcp
        self.want_http = http
        self.extra_files = list(extra_files)
        self.launcher = list(launcher)  # e.g. ["prlimit", "--nofile=200:200"]
        self.proc = None
        self.http_port = None
        self.tcp_port = None
        self.admin_port = None
        self.config_path = os.path.join(self.workdir, "siemrelay.yaml")
        self.stderr_path = os.path.join(self.workdir, "gateway.stderr")
        self.stdout_path = os.path.join(self.workdir, "gateway.stdout")
        self._stderr_f = None
        self._stdout_f = None
        self.exit_code = None
        self.stopped = False

    # ---- configuration --------------------------------------------------

    def build_conf(self):
        conf = {
            "logging": {"level": "info", "format": "text"},
            "workers": 2,
            "data_dir": self.data_dir,
            "script_timeout": "200ms",
        }
        user = dict(self.user_conf)
        user_inputs = user.pop("inputs", {}) or {}
        inputs = {}
        if self.want_http:
            inputs["http"] = {"listen": "127.0.0.1:%d" % self.http_port, "max_body": "1MiB",
                              "idle_timeout": "5s"}
            inputs["http"].update(user_inputs.get("http", {}) or {})
        if self.want_tcp:
            inputs["tcp"] = {"listen": "127.0.0.1:%d" % self.tcp_port, "max_line": "64KiB"}
            inputs["tcp"].update(user_inputs.get("tcp", {}) or {})
        for name, section in user_inputs.items():  # inputs without a port (kafka)
            inputs.setdefault(name, section)
        conf["inputs"] = inputs
        admin = {"listen": "127.0.0.1:%d" % self.admin_port}
        admin.update(user.pop("admin", {}) or {})
        conf["admin"] = admin
        conf.update(user)
        if self.integrations:
            conf["integrations"] = self.integrations
        return conf

    def write_config(self):
        with open(self.config_path, "w", encoding="utf-8") as f:
            f.write(yaml_text(self.build_conf()))
        paths = [self.config_path]
        for name, text in self.extra_files:
            p = os.path.join(self.workdir, name)
            with open(p, "w", encoding="utf-8") as f:
                f.write(text)
            paths.append(p)
        return paths

    # ---- process --------------------------------------------------------

    def start(self):
        binary = gateway_bin()
        last = ""
        for _attempt in range(3):
            self.http_port = free_port()
            self.tcp_port = free_port()
            while self.tcp_port == self.http_port:
                self.tcp_port = free_port()
            self.admin_port = free_port()
            while self.admin_port in (self.http_port, self.tcp_port):
                self.admin_port = free_port()
            paths = self.write_config()
            args = self.launcher + [binary]
            for p in paths:
                args += ["-c", p]
            env = dict(os.environ)
            env.update(self.env)
            self._stderr_f = open(self.stderr_path, "wb")
            self._stdout_f = open(self.stdout_path, "wb")
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self._stdout_f,
                                         stderr=self._stderr_f, env=env, cwd=self.workdir,
                                         start_new_session=True)
            try:
                self._wait_ready()
                return self
            except GatewayError:
                last = self.stderr()
                if self.proc.poll() is not None and "address already in use" in last.lower():
                    self._close_files()
                    continue  # a port was taken between free_port() and bind: retry
                self.kill()
                raise
        raise GatewayError("gateway could not bind its ports after 3 attempts:\n" + last)

    def _wait_ready(self):
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                self.exit_code = rc
                raise GatewayError("gateway exited with %d before it was ready; config:\n%s\nstderr:\n%s"
                                   % (rc, self.config_text(), self.stderr()))
            if self.want_http:
                try:
                    r = requests.get(self.url("/healthz"), timeout=1)
                    if r.status_code == 200:
                        return
                except requests.RequestException:
                    pass
            elif "siemrelay ready" in self.stderr():
                return
            time.sleep(0.05)
        raise GatewayError("gateway not ready within %.0fs; config:\n%s\nstderr:\n%s"
                           % (READY_TIMEOUT, self.config_text(), self.stderr()))

    def config_text(self):
        try:
            with open(self.config_path, encoding="utf-8") as f:
                return f.read()
        except OSError:
            return "(no config)"

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def assert_running(self):
        if not self.running():
            raise AssertionError("gateway is not running (exit %s); stderr:\n%s"
                                 % (self.proc.poll() if self.proc else None, self.stderr()))

    def stderr(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stderr_len(self):
        return len(self.stderr())

    def wait_stderr(self, pattern, timeout=5.0, flags=re.IGNORECASE, since=0):
        """Waits until stderr (from character `since` on) matches the regex;
        returns the match."""
        rx = re.compile(pattern, flags)

        def found():
            return rx.search(self.stderr()[since:])

        return wait_until(found, timeout, message="stderr never matched %r; stderr:\n%s"
                          % (pattern, self.stderr()[-4000:]))

    def stop(self, check=True):
        """SIGTERM, wait, and (check=True) raise if the exit code is not 0
        or a sanitizer reported something. Returns (exit code, stderr)."""
        if self.proc is None or self.stopped:
            return self.exit_code, self.stderr()
        self.stopped = True
        problem = None
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                problem = "gateway did not exit within %.0fs of SIGTERM" % STOP_TIMEOUT
                self.kill()
        self.exit_code = self.proc.returncode
        self._kill_group()
        self._close_files()
        err = self.stderr()
        if problem is None and self.exit_code != 0:
            problem = "gateway exited with %s" % self.exit_code
        for marker in SANITIZER_MARKERS:
            if marker in err:
                problem = (problem + "; " if problem else "") + "sanitizer report (%r) on stderr" % marker
        if check and problem:
            raise GatewayError("%s\nstderr (tail):\n%s" % (problem, err[-8000:]))
        return self.exit_code, err

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self._kill_group()
        self._close_files()

    def _kill_group(self):
        # The gateway runs in its own session; nothing of it may outlive a test.
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def _close_files(self):
        for f in (self._stderr_f, self._stdout_f):
            if f is not None:
                try:
                    f.close()
                except OSError:
                    pass
        self._stderr_f = self._stdout_f = None

    # ---- HTTP input -----------------------------------------------------

    def url(self, path="/v1/events"):
        return "http://127.0.0.1:%d%s" % (self.http_port, path)

    def post(self, body, headers=None, path="/v1/events", gzip=False, content_type=None,
             token=None, timeout=15):
        if isinstance(body, str):
            body = body.encode("utf-8")
        h = {}
        if content_type:
            h["Content-Type"] = content_type
        if gzip:
            body = gzip_mod.compress(body)
            h["Content-Encoding"] = "gzip"
        if token is not None:
            h["Authorization"] = "Bearer " + token
        h.update(headers or {})
        return requests.post(self.url(path), data=body, headers=h, timeout=timeout)

    def post_json(self, obj, **kw):
        return self.post(compact(obj).encode("utf-8"), content_type="application/json", **kw)

    def post_ndjson(self, objs, **kw):
        return self.post(ndjson(objs), content_type="application/x-ndjson", **kw)

    # ---- TCP input ------------------------------------------------------

    def tcp_connect(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            try:
                s = socket.create_connection(("127.0.0.1", self.tcp_port), timeout=5)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return s
            except OSError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.05)

    # ---- admin API ------------------------------------------------------

    def admin_url(self, path="/api/integrations"):
        return "http://127.0.0.1:%d%s" % (self.admin_port, path)

    def admin_get(self, path="/api/integrations", timeout=10, **kw):
        return requests.get(self.admin_url(path), timeout=timeout, **kw)

    # ---- dead letters ---------------------------------------------------

    def deadletters(self):
        """Every dead-letter line under <data_dir>/deadletter/, parsed."""
        d = os.path.join(self.data_dir, "deadletter")
        out = []
        if not os.path.isdir(d):
            return out
        for name in sorted(os.listdir(d)):
            if not name.endswith(".jsonl"):
                continue
            with open(os.path.join(d, name), "rb") as f:
                for line in f.read().split(b"\n"):
                    if line.strip():
                        rec = strict_loads(line)
                        rec["_file"] = name
                        out.append(rec)
        return out

    def wait_deadletter(self, predicate, timeout=10.0):
        def find():
            for rec in self.deadletters():
                if predicate(rec):
                    return rec
            return None

        return wait_until(find, timeout, message="no matching dead-letter line within %.0fs; have: %r"
                          % (timeout, self.deadletters()))


def summary_of(resp):
    """The pipeline's JSON summary of a response, checked for its shape."""
    assert resp.headers.get("Content-Type", "").startswith("application/json"), \
        "answer is not application/json: %r %r" % (resp.headers.get("Content-Type"), resp.content[:300])
    s = strict_loads(resp.content)
    assert isinstance(s, dict), s
    for k in ("accepted", "rejected", "dropped", "failed"):
        assert isinstance(s.get(k), int), "summary lacks integer %r: %r" % (k, s)
    assert isinstance(s.get("errors", []), list), s
    return s


def run_cli(args, env=None, cwd=None, timeout=15):
    """Runs the binary with args; returns CompletedProcess (text)."""
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([gateway_bin()] + list(args), stdin=subprocess.DEVNULL, capture_output=True,
                          env=e, cwd=cwd, timeout=timeout, text=True, errors="replace")
