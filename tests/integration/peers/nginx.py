"""nginx.py - a real TLS endpoint that requires a client certificate.

    pki = make_pki(tmpdir)              # CA, server cert (CN/SAN 127.0.0.1), client cert
    ng = NginxMTLS(tmpdir, upstream_port, pki).start()
    ng.url("/hook")                      # https://127.0.0.1:PORT/hook
    ...
    ng.stop()

nginx terminates TLS on 127.0.0.1:PORT with `ssl_verify_client on` against
the test CA and proxies to the webhook receiver on `upstream_port`, adding
X-SSL-Client-S-DN ($ssl_client_s_dn) and X-SSL-Client-Verify. A client
without a certificate gets nginx's own 400 "No required SSL certificate was
sent", which never reaches the upstream. Everything nginx writes (pid, logs,
temp dirs) stays in the temp dir.

NGINX_BIN is /usr/sbin/nginx; tests skip when it is absent.
"""

import datetime
import ipaddress
import os
import signal
import socket
import subprocess
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from peers.process import stop_process

NGINX_BIN = "/usr/sbin/nginx"


def nginx_available():
    return os.path.isfile(NGINX_BIN) and os.access(NGINX_BIN, os.X_OK)


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "siemrelay tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write_key(path, key):
    with open(path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    os.chmod(path, 0o600)


def _write_cert(path, cert):
    with open(path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))


def _issue(subject_cn, subject_key, issuer_name, issuer_key, ca=False, server=False, client=False):
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder()
         .subject_name(_name(subject_cn))
         .issuer_name(issuer_name)
         .public_key(subject_key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(minutes=5))
         .not_valid_after(now + datetime.timedelta(days=2))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        b = b.add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                          key_encipherment=False, data_encipherment=False,
                                          key_agreement=False, key_cert_sign=True, crl_sign=True,
                                          encipher_only=False, decipher_only=False), critical=True)
        b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(subject_key.public_key()), critical=False)
    else:
        b = b.add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                          key_encipherment=True, data_encipherment=False,
                                          key_agreement=False, key_cert_sign=False, crl_sign=False,
                                          encipher_only=False, decipher_only=False), critical=True)
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                            critical=False)
    if server:
        b = b.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                         x509.DNSName("localhost")]), critical=False)
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    if client:
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


class PKI:
    """Paths of the generated files."""

    def __init__(self, d):
        self.dir = d
        self.ca_cert = os.path.join(d, "ca.pem")
        self.ca_key = os.path.join(d, "ca.key")
        self.server_cert = os.path.join(d, "server.pem")
        self.server_key = os.path.join(d, "server.key")
        self.client_cert = os.path.join(d, "client.pem")
        self.client_key = os.path.join(d, "client.key")
        self.client_cn = "siemrelay-test-client"
        # A client certificate from a CA nginx does not trust.
        self.rogue_cert = os.path.join(d, "rogue-client.pem")
        self.rogue_key = os.path.join(d, "rogue-client.key")


def make_pki(directory):
    d = os.path.join(str(directory), "pki")
    os.makedirs(d, exist_ok=True)
    p = PKI(d)
    ca_key = _key()
    ca_name = _name("siemrelay test CA")
    ca = _issue("siemrelay test CA", ca_key, ca_name, ca_key, ca=True)
    srv_key = _key()
    srv = _issue("127.0.0.1", srv_key, ca_name, ca_key, server=True)
    cl_key = _key()
    cl = _issue(p.client_cn, cl_key, ca_name, ca_key, client=True)
    rogue_ca_key = _key()
    rogue_ca_name = _name("rogue CA")
    rogue_key = _key()
    rogue = _issue("rogue-client", rogue_key, rogue_ca_name, rogue_ca_key, client=True)
    _write_cert(p.ca_cert, ca)
    _write_key(p.ca_key, ca_key)
    _write_cert(p.server_cert, srv)
    _write_key(p.server_key, srv_key)
    _write_cert(p.client_cert, cl)
    _write_key(p.client_key, cl_key)
    _write_cert(p.rogue_cert, rogue)
    _write_key(p.rogue_key, rogue_key)
    return p


def _free_port():
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


CONF_TEMPLATE = """\
daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 128; }}
http {{
    log_format peer '$remote_addr "$request" $status ssl_verify=$ssl_client_verify dn="$ssl_client_s_dn"';
    access_log {d}/access.log peer;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    client_max_body_size 16m;
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name 127.0.0.1;
        ssl_certificate {server_cert};
        ssl_certificate_key {server_key};
        ssl_client_certificate {ca_cert};
        ssl_verify_client on;
        ssl_verify_depth 2;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-SSL-Client-S-DN $ssl_client_s_dn;
            proxy_set_header X-SSL-Client-Verify $ssl_client_verify;
        }}
    }}
}}
"""


class NginxMTLS:
    def __init__(self, directory, upstream_port, pki):
        self.dir = os.path.join(str(directory), "nginx")
        os.makedirs(self.dir, exist_ok=True)
        for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        self.upstream_port = upstream_port
        self.pki = pki
        self.port = None
        self.proc = None
        self.conf_path = os.path.join(self.dir, "nginx.conf")
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        self._stderr_f = None

    def url(self, path="/hook"):
        return "https://127.0.0.1:%d%s" % (self.port, path)

    def _write_conf(self):
        with open(self.conf_path, "w") as f:
            f.write(CONF_TEMPLATE.format(d=self.dir, port=self.port, upstream=self.upstream_port,
                                         server_cert=self.pki.server_cert, server_key=self.pki.server_key,
                                         ca_cert=self.pki.ca_cert))

    def start(self, timeout=10.0):
        last = ""
        for _ in range(3):
            self.port = _free_port()
            self._write_conf()
            self._stderr_f = open(self.stderr_path, "wb")
            # -e: the error log before the config is read (else /var/log/nginx).
            self.proc = subprocess.Popen([NGINX_BIN, "-p", self.dir + "/", "-c", self.conf_path,
                                          "-e", os.path.join(self.dir, "error.log")],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=self._stderr_f, start_new_session=True)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                    return self
                except OSError:
                    time.sleep(0.05)
            last = self.logs()
            self.stop()
            if "Address already in use" not in last:
                break
        raise RuntimeError("nginx did not start:\n" + last)

    def logs(self):
        out = []
        for name in ("stderr.log", "error.log"):
            try:
                with open(os.path.join(self.dir, name), "rb") as f:
                    out.append("%s:\n%s" % (name, f.read().decode("utf-8", "replace")))
            except OSError:
                pass
        return "\n".join(out)

    def access_log(self):
        try:
            with open(os.path.join(self.dir, "access.log"), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def error_log(self):
        try:
            with open(os.path.join(self.dir, "error.log"), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc is not None:
            stop_process(self.proc, signal.SIGQUIT, timeout=5)  # SIGQUIT: graceful
            self.proc = None
        if self._stderr_f is not None:
            self._stderr_f.close()
            self._stderr_f = None
