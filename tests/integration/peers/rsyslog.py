"""rsyslog.py - a real rsyslogd as the syslog receiver of the tests.

    pki = make_syslog_pki(tmpdir)          # openssl: CA, server cert (127.0.0.1), client cert
    rs = Rsyslog(tmpdir, pki).start()      # free loopback ports, or ports=... to reuse them
    rs.port("tcp"), rs.port("udp"), rs.port("tls"), rs.port("mtls")
    rs.wait_for(lambda m: ..., count=3)    # received messages, parsed
    rs.stop(); rs.start()                  # a restart on the same ports
    rs.stop()

rsyslogd runs unprivileged in the foreground (-n) with its own config, pid
file and work directory in the temp dir. It listens on 127.0.0.1 with:

  tcp   imtcp, plain (octet counting and LF framing are both understood)
  tls   imtcp over TLS (the "ossl" driver), any client (no client cert)
  mtls  imtcp over TLS requiring a client certificate the test CA signed
  udp   imudp

Every message goes to messages.jsonl, one JSON object per message, written
by rsyslog's own template (so the test parses what rsyslog understood):
input (which listener), pri, facility, severity, hostname, app, msgid,
version (1 for RFC 5424, 0 for RFC 3164), time (rsyslog's reading of
the header timestamp), and raw: the message exactly as received, after
framing was removed (control characters are kept: escaping on receive is
off).

RSYSLOGD is /usr/sbin/rsyslogd; TLS needs its ossl driver
(lmnsd_ossl.so, Debian package rsyslog-openssl). Tests skip without them.
"""

import glob
import json
import os
import signal
import socket
import subprocess
import time

from peers.process import stop_process

RSYSLOGD = "/usr/sbin/rsyslogd"
LISTENERS = ("tcp", "tls", "mtls", "udp")


def rsyslog_available():
    return os.path.isfile(RSYSLOGD) and os.access(RSYSLOGD, os.X_OK)


def rsyslog_tls_available():
    return bool(glob.glob("/usr/lib/*/rsyslog/lmnsd_ossl.so") or glob.glob("/usr/lib/rsyslog/lmnsd_ossl.so"))


# ---- certificates (openssl command line) -----------------------------------

class SyslogPKI:
    def __init__(self, d):
        self.dir = d
        self.ca_cert = os.path.join(d, "ca.pem")
        self.ca_key = os.path.join(d, "ca.key")
        self.server_cert = os.path.join(d, "server.pem")
        self.server_key = os.path.join(d, "server.key")
        self.client_cert = os.path.join(d, "client.pem")
        self.client_key = os.path.join(d, "client.key")
        # A CA that signed nothing here: verifying the server with it fails.
        self.other_ca_cert = os.path.join(d, "other-ca.pem")
        self.other_ca_key = os.path.join(d, "other-ca.key")


def _openssl(*args, cwd):
    r = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed:\n%s" % (" ".join(args), r.stderr))


def _self_signed_ca(d, cert, key, cn):
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", key, "-out", cert, "-days", "2", "-subj", "/O=siemrelay tests/CN=" + cn,
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)


def _issue(d, pki, name, cn, extensions):
    csr = os.path.join(d, name + ".csr")
    ext = os.path.join(d, name + ".ext")
    key = os.path.join(d, name + ".key")
    cert = os.path.join(d, name + ".pem")
    with open(ext, "w") as f:
        f.write(extensions)
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", key, "-out", csr, "-subj", "/O=siemrelay tests/CN=" + cn, cwd=d)
    _openssl("x509", "-req", "-in", csr, "-CA", pki.ca_cert, "-CAkey", pki.ca_key,
             "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext, cwd=d)


def make_syslog_pki(directory):
    d = os.path.join(str(directory), "syslog-pki")
    os.makedirs(d, exist_ok=True)
    pki = SyslogPKI(d)
    _self_signed_ca(d, pki.ca_cert, pki.ca_key, "siemrelay syslog test CA")
    _self_signed_ca(d, pki.other_ca_cert, pki.other_ca_key, "some other CA")
    _issue(d, pki, "server", "127.0.0.1",
           "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
           "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _issue(d, pki, "client", "siemrelay-test-client",
           "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
           "extendedKeyUsage=clientAuth\n")
    for k in (pki.ca_key, pki.other_ca_key, pki.server_key, pki.client_key):
        os.chmod(k, 0o600)
    return pki


# ---- rsyslogd ----------------------------------------------------------------

def _free_port(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


TEMPLATE = ('{"input":"%inputname%","pri":"%pri%","facility":"%syslogfacility%",'
            '"severity":"%syslogseverity%","hostname":"%hostname:::json%",'
            '"app":"%app-name:::json%","msgid":"%msgid:::json%","version":"%protocol-version%",'
            '"time":"%timereported:::date-rfc3339%","raw":"%rawmsg:::json%"}\\n')

CONF = """\
global(workDirectory="{work}" maxMessageSize="1m"
       parser.escapeControlCharactersOnReceive="off")
module(load="imtcp" maxSessions="200")
module(load="imudp")
template(name="testjson" type="string" string="{template}")
input(type="imtcp" name="tcp" address="127.0.0.1" port="{tcp}")
input(type="imudp" name="udp" address="127.0.0.1" port="{udp}")
{tls_inputs}
action(type="omfile" file="{out}" template="testjson")
"""

TLS_INPUTS = """\
input(type="imtcp" name="tls" address="127.0.0.1" port="{tls}"
      streamDriver.name="ossl" streamDriver.mode="1" streamDriver.authMode="anon"
      streamDriver.CAFile="{ca}" streamDriver.CertFile="{cert}" streamDriver.KeyFile="{key}")
input(type="imtcp" name="mtls" address="127.0.0.1" port="{mtls}"
      streamDriver.name="ossl" streamDriver.mode="1" streamDriver.authMode="x509/certvalid"
      streamDriver.CAFile="{ca}" streamDriver.CertFile="{cert}" streamDriver.KeyFile="{key}")
"""


class Rsyslog:
    def __init__(self, directory, pki=None, ports=None):
        self.dir = os.path.join(str(directory), "rsyslog")
        self.work = os.path.join(self.dir, "work")
        os.makedirs(self.work, exist_ok=True)
        self.pki = pki
        self.ports = dict(ports or {})
        self.out = os.path.join(self.dir, "messages.jsonl")
        self.conf_path = os.path.join(self.dir, "rsyslog.conf")
        self.pid_path = os.path.join(self.dir, "rsyslogd.pid")
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        self.proc = None
        self._stderr_f = None

    def port(self, name):
        return self.ports[name]

    def _write_conf(self):
        tls = ""
        if self.pki is not None:
            tls = TLS_INPUTS.format(tls=self.ports["tls"], mtls=self.ports["mtls"], ca=self.pki.ca_cert,
                                    cert=self.pki.server_cert, key=self.pki.server_key)
        with open(self.conf_path, "w") as f:
            f.write(CONF.format(work=self.work, template=TEMPLATE.replace('"', '\\"'),
                                tcp=self.ports["tcp"], udp=self.ports["udp"], tls_inputs=tls,
                                out=self.out))

    def _listening(self):
        names = ["tcp"] + (["tls", "mtls"] if self.pki is not None else [])
        for name in names:
            try:
                socket.create_connection(("127.0.0.1", self.ports[name]), timeout=0.5).close()
            except OSError:
                return False
        return True

    def start(self, timeout=10.0):
        """Starts rsyslogd; keeps the ports of an earlier start (a restart)."""
        fixed = bool(self.ports)
        last = ""
        for _ in range(3):
            if not fixed:
                self.ports = {"tcp": _free_port(), "tls": _free_port(), "mtls": _free_port(),
                              "udp": _free_port(socket.SOCK_DGRAM)}
            self._write_conf()
            if os.path.exists(self.pid_path):
                os.unlink(self.pid_path)
            self._stderr_f = open(self.stderr_path, "ab")
            self.proc = subprocess.Popen([RSYSLOGD, "-n", "-f", self.conf_path, "-i", self.pid_path],
                                         stdin=subprocess.DEVNULL, stdout=self._stderr_f,
                                         stderr=self._stderr_f, start_new_session=True)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                if self._listening():
                    return self
                time.sleep(0.05)
            last = self.logs()
            self.stop()
            if fixed or "in use" not in last:
                break
        raise RuntimeError("rsyslogd did not start:\n" + last)

    def stop(self, timeout=10.0):
        if self.proc is not None:
            stop_process(self.proc, signal.SIGTERM, timeout=timeout)
            self.proc = None
        if self._stderr_f is not None:
            self._stderr_f.close()
            self._stderr_f = None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def logs(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def messages(self):
        """Every message received so far, parsed (strict UTF-8 and JSON)."""
        try:
            with open(self.out, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return []
        out = []
        for line in data.split(b"\n"):
            if line:  # a partly written last line has no newline yet
                try:
                    out.append(json.loads(line.decode("utf-8")))
                except ValueError:
                    if not data.endswith(line):
                        raise
        return out

    def wait_for(self, predicate=None, count=1, timeout=10.0):
        """Waits until `count` received messages satisfy predicate; returns
        them (all matching ones, in arrival order)."""
        deadline = time.monotonic() + timeout
        while True:
            got = [m for m in self.messages() if predicate is None or predicate(m)]
            if len(got) >= count:
                return got
            if time.monotonic() >= deadline:
                raise AssertionError("rsyslog got %d of %d expected messages within %.0fs; all:\n%s\nrsyslog:\n%s"
                                     % (len(got), count, timeout,
                                        "\n".join(m["raw"][:300] for m in self.messages()[-20:]),
                                        self.logs()[-3000:]))
            time.sleep(0.02)
