"""TLS and browsers, and failed authentication, against the real gateway.

The TLS inputs refuse TLS 1.1 and static-RSA suites (AES128-SHA) and serve a
normal client, checked with the openssl CLI on both inputs, with an RSA
certificate so that a static-RSA suite would be possible if it were offered;
tls.min_version and tls.ciphers change that. A SIGHUP re-reads the
certificate files: the new certificate is served after it, a connection
opened before keeps working, and a broken file refuses the reload while the
previous certificate stays. The admin API answers only to its own names (a
rebound DNS name gets 421, a missing Host 400, admin.allowed_hosts adds
names and is re-read on reload); the HTTP input refuses browsers'
cross-origin posts with 403 while agents are unaffected; every refusal is
counted in /metrics. inputs.http.max_body_total and the failed_auth
thresholds come from the configuration. Integrations with isInsecure are
logged at start and reload, flagged by --check and shown by the admin API.
"""

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time

import pytest
import requests

from harness import free_port, run_cli, wait_until, webhook, yaml_text

OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(OPENSSL is None, reason="needs the openssl CLI")

ADMIN_TOKEN = "admin-tok"
ADMIN = {"tokens": [{"name": "ops", "role": "admin", "sha256": hashlib.sha256(ADMIN_TOKEN.encode()).hexdigest()}]}
EVENT = b'{"type":"command","id":"00000000000000000000000000e0ffee","timestamp":1606322948648718268}'


def make_cert(directory, name, cn):
    """A self-signed RSA certificate for 127.0.0.1; returns (cert, key)."""
    cert, key = os.path.join(directory, name + ".crt"), os.path.join(directory, name + ".key")
    subprocess.run([OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=" + cn, "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


def s_client(port, *args):
    """openssl s_client's verdict: (handshake completed, its output)."""
    p = subprocess.run([OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % port] + list(args),
                       input=b"", capture_output=True, timeout=20)
    out = (p.stdout + p.stderr).decode("utf-8", "replace")
    m = re.search(r"Cipher is (\S+)", out)
    return bool(m and m.group(1) != "(NONE)"), out


def served_subject(port):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        with ctx.wrap_socket(s) as t:
            der = t.getpeercert(binary_form=True)
    pem = ssl.DER_cert_to_PEM_cert(der)
    p = subprocess.run([OPENSSL, "x509", "-noout", "-subject"], input=pem.encode(), capture_output=True,
                       check=True)
    return p.stdout.decode().strip()


def metric(gw, listener, reason):
    text = requests.get(gw.admin_url("/metrics"), timeout=10).text
    m = re.search(r'siemrelay_http_refused_total\{listener="%s",reason="%s"\} (\d+)' % (listener, reason),
                  text)
    assert m, "no %s/%s counter" % (listener, reason)
    return int(m.group(1))


def tls_gateway(factory, tmp_path, cert, key, tls_extra=None):
    """HTTP and TCP inputs over TLS with `cert`; returns (gw, https port)."""
    tls = {"cert": cert, "key": key}
    tls.update(tls_extra or {})
    https = free_port()
    gw = factory(conf={"inputs": {"http": {"listen": "127.0.0.1:%d" % https, "tls": tls},
                                  "tcp": {"tls": tls}},
                       "admin": ADMIN},
                 http=False, tcp=True)
    return gw, https


# ---- protocol versions and cipher suites --------------------------------


def test_inputs_refuse_old_tls_and_static_rsa(gateway_factory, tmp_path):
    cert, key = make_cert(str(tmp_path), "server", "siemrelay-a")
    gw, https = tls_gateway(gateway_factory, tmp_path, cert, key)
    for port in (https, gw.tcp_port):
        # The client is able to speak TLS 1.1 (security level 0): the server refuses it.
        ok, out = s_client(port, "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0")
        assert not ok and "protocol version" in out, out
        # A static-RSA suite the RSA certificate would allow.
        ok, out = s_client(port, "-tls1_2", "-cipher", "AES128-SHA")
        assert not ok and "handshake failure" in out, out
        ok, out = s_client(port)
        assert ok and "TLSv1.3" in out, out
        ok, out = s_client(port, "-tls1_2")
        assert ok and re.search(r"Cipher is ECDHE-RSA-AES(128|256)-GCM-SHA(256|384)", out), out
    gw.wait_stderr(r"\[input\.http\] 127\.0\.0\.1:\d+: TLS handshake failed: .*unsupported protocol")
    gw.wait_stderr(r"\[input\.http\] 127\.0\.0\.1:\d+: TLS handshake failed: .*no shared cipher")
    # A normal HTTPS client is served.
    r = requests.post("https://127.0.0.1:%d/v1/events" % https, data=EVENT, verify=cert, timeout=10,
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
    gw.assert_running()


def test_min_version_and_ciphers_are_settings(gateway_factory, tmp_path):
    cert, key = make_cert(str(tmp_path), "server", "siemrelay-a")
    gw, https = tls_gateway(gateway_factory, tmp_path, cert, key, {"min_version": "1.3"})
    ok, out = s_client(https, "-tls1_2")
    assert not ok and "protocol version" in out, out
    assert s_client(https, "-tls1_3")[0]
    gw.stop()
    # An operator who must serve an old client may list a static-RSA suite.
    gw, https = tls_gateway(gateway_factory, tmp_path, cert, key, {"ciphers": "AES128-SHA"})
    ok, out = s_client(https, "-tls1_2", "-cipher", "AES128-SHA")
    assert ok and "Cipher is AES128-SHA" in out, out
    gw.stop()
    # A cipher list OpenSSL cannot use is a configuration error naming the file and line.
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml_text({"inputs": {"http": {"tls": {"cert": cert, "key": key,
                                                          "ciphers": "NO-SUCH-CIPHER"}}}}))
    p = run_cli(["--check", "-c", str(cfg)])
    assert p.returncode != 0 and re.search(r"bad\.yaml:\d+: key 'tls': tls: ciphers 'NO-SUCH-CIPHER'",
                                           p.stderr), p.stderr
    cfg.write_text(yaml_text({"inputs": {"http": {"tls": {"cert": cert, "key": key, "min_version": "1.1"}}}}))
    p = run_cli(["--check", "-c", str(cfg)])
    assert p.returncode != 0 and "expected 1.2 or 1.3" in p.stderr, p.stderr


# ---- certificate rotation -------------------------------------------------


def test_sighup_rotates_the_certificates(gateway_factory, tmp_path):
    d = str(tmp_path)
    cert_a, key_a = make_cert(d, "a", "siemrelay-a")
    cert_b, key_b = make_cert(d, "b", "siemrelay-b")
    live_cert, live_key = os.path.join(d, "live.crt"), os.path.join(d, "live.key")
    shutil.copy(cert_a, live_cert)
    shutil.copy(key_a, live_key)
    gw, https = tls_gateway(gateway_factory, tmp_path, live_cert, live_key)
    for port in (https, gw.tcp_port):
        assert served_subject(port) == "subject=CN = siemrelay-a"
    # A connection opened before the rotation keeps its session.
    before = requests.Session()
    assert before.post("https://127.0.0.1:%d/v1/events" % https, data=EVENT, verify=cert_a,
                       timeout=10).status_code == 200

    shutil.copy(cert_b, live_cert)
    shutil.copy(key_b, live_key)
    mark = gw.stderr_len()
    os.kill(gw.proc.pid, signal.SIGHUP)
    gw.wait_stderr(r"inputs\.http: certificate and TLS settings re-read", since=mark, timeout=15)
    gw.wait_stderr(r"inputs\.tcp: certificate and TLS settings re-read", since=mark, timeout=15)
    gw.wait_stderr(r"configuration reloaded", since=mark, timeout=15)
    for port in (https, gw.tcp_port):
        assert served_subject(port) == "subject=CN = siemrelay-b"
    r = requests.post("https://127.0.0.1:%d/v1/events" % https, data=EVENT, verify=cert_b, timeout=10)
    assert r.status_code == 200
    # The keep-alive connection from before still works (a 503 while the reload held ingest
    # back is retried).
    wait_until(lambda: before.post("https://127.0.0.1:%d/v1/events" % https, data=EVENT, verify=cert_a,
                                   timeout=10).status_code == 200, timeout=10)

    # A broken certificate file refuses the reload; the served certificate stays.
    with open(live_cert, "w") as f:
        f.write("not a certificate\n")
    mark = gw.stderr_len()
    os.kill(gw.proc.pid, signal.SIGHUP)
    gw.wait_stderr(r"configuration reload failed: inputs\.http: tls: cannot load certificate .*live\.crt.*"
                   r"still running the previous one", since=mark, timeout=15)
    assert served_subject(https) == "subject=CN = siemrelay-b"
    # And the way out: a good file again, reloaded through the admin API this time.
    shutil.copy(cert_a, live_cert)
    shutil.copy(key_a, live_key)
    r = requests.post(gw.admin_url("/api/reload"), timeout=30,
                      headers={"Authorization": "Bearer " + ADMIN_TOKEN})
    assert r.status_code == 200, r.text
    assert served_subject(https) == "subject=CN = siemrelay-a"
    gw.assert_running()


def test_admin_api_over_tls(gateway_factory, tmp_path):
    d = str(tmp_path)
    cert_a, key_a = make_cert(d, "a", "siemrelay-a")
    cert_b, key_b = make_cert(d, "b", "siemrelay-b")
    live_cert, live_key = os.path.join(d, "live.crt"), os.path.join(d, "live.key")
    shutil.copy(cert_a, live_cert)
    shutil.copy(key_a, live_key)
    gw = gateway_factory(conf={"admin": {"tls": {"cert": live_cert, "key": live_key}}})
    gw.wait_stderr(r"admin API listening on 127\.0\.0\.1:%d \(TLS\)" % gw.admin_port)
    ok, out = s_client(gw.admin_port, "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0")
    assert not ok and "protocol version" in out, out
    ok, out = s_client(gw.admin_port, "-tls1_2", "-cipher", "AES128-SHA")
    assert not ok and "handshake failure" in out, out
    url = "https://127.0.0.1:%d/api/integrations" % gw.admin_port
    assert requests.get(url, verify=cert_a, timeout=10).status_code == 200
    # Plain HTTP on the TLS port is refused by the handshake.
    with pytest.raises(requests.RequestException):
        requests.get(gw.admin_url("/healthz"), timeout=5)
    shutil.copy(cert_b, live_cert)
    shutil.copy(key_b, live_key)
    mark = gw.stderr_len()
    os.kill(gw.proc.pid, signal.SIGHUP)
    gw.wait_stderr(r"admin: certificate and TLS settings re-read", since=mark, timeout=15)
    assert served_subject(gw.admin_port) == "subject=CN = siemrelay-b"
    assert requests.get(url, verify=cert_b, timeout=10).status_code == 200
    # The Host check holds over TLS too.
    r = requests.get(url, verify=cert_b, timeout=10, headers={"Host": "attacker.example"})
    assert r.status_code == 421


# ---- the admin API's Host check (DNS rebinding) ----------------------------


def raw_request(port, head):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head.encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return data.decode("utf-8", "replace")


def test_admin_answers_only_to_its_names(gateway_factory):
    gw = gateway_factory()
    url = gw.admin_url("/api/integrations")
    assert requests.get(url, timeout=10).status_code == 200  # Host: 127.0.0.1:PORT
    assert requests.get(url, headers={"Host": "localhost:%d" % gw.admin_port}, timeout=10).status_code == 200
    r = requests.get(url, headers={"Host": "attacker.example:%d" % gw.admin_port}, timeout=10)
    assert r.status_code == 421
    assert r.json() == {"error": "the Host header names neither this listener nor an allowed host name"}
    # Even the open routes: a rebound page learns nothing.
    assert requests.get(gw.admin_url("/healthz"), headers={"Host": "attacker.example"},
                        timeout=10).status_code == 421
    out = raw_request(gw.admin_port, "GET /api/integrations HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert out.startswith("HTTP/1.1 400 ") and "missing, repeated or malformed Host header" in out, out
    out = raw_request(gw.admin_port, "GET /healthz HTTP/1.0\r\n\r\n")  # HTTP/1.0 may omit it
    assert out.startswith("HTTP/1.1 200 "), out
    assert metric(gw, "admin", "misdirected") == 2
    assert metric(gw, "admin", "bad_host") == 1
    gw.wait_stderr(r"\[admin\] 127\.0\.0\.1:\d+: 421 for Host 'attacker\.example:\d+'")

    # admin.allowed_hosts adds names, and is re-read on reload.
    gw.user_conf["admin"] = {"allowed_hosts": ["gw.example"]}
    gw.write_config()
    mark = gw.stderr_len()
    os.kill(gw.proc.pid, signal.SIGHUP)
    gw.wait_stderr(r"configuration reloaded", since=mark, timeout=15)
    assert requests.get(url, headers={"Host": "GW.example:8443"}, timeout=10).status_code == 200
    assert requests.get(url, headers={"Host": "attacker.example"}, timeout=10).status_code == 421
    assert requests.get(url, timeout=10).status_code == 200  # its own address still


# ---- the HTTP input and browsers -------------------------------------------


def test_ingest_refuses_browser_cross_origin_posts(gateway_factory):
    gw = gateway_factory()
    own = "http://127.0.0.1:%d" % gw.http_port

    def post(headers):
        return requests.post(gw.url(), data=EVENT, headers=headers, timeout=10)

    # Agents send neither Origin nor Sec-Fetch-*: unaffected, whatever the type.
    for ctype in ("application/json", "text/plain", "application/x-ndjson"):
        r = post({"Content-Type": ctype})
        assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
    refused = [
        {"Content-Type": "text/plain", "Origin": "http://attacker.example"},
        {"Content-Type": "application/x-www-form-urlencoded", "Origin": "null"},
        {"Content-Type": "multipart/form-data; boundary=x", "Origin": own},
        {"Content-Type": "text/plain;charset=UTF-8", "Origin": own},
        {"Content-Type": "application/json", "Origin": "http://127.0.0.1:3000"},
        {"Content-Type": "text/plain", "Sec-Fetch-Site": "cross-site"},
        {"Content-Type": "application/json", "Sec-Fetch-Site": "same-site"},
    ]
    for h in refused:
        r = post(h)
        assert r.status_code == 403, (h, r.status_code, r.text)
        assert r.json() == {"error": "cross-origin requests from browsers are not accepted"}
    # The request's own origin with a JSON body is not a cross-origin post.
    r = post({"Content-Type": "application/json", "Origin": own, "Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 200, r.text
    assert metric(gw, "input.http", "cross_origin") == len(refused)
    gw.wait_stderr(r"\[input\.http\] 127\.0\.0\.1:\d+: 403 for a browser's cross-origin request: "
                   r"Origin names another origin")


def input_metric(gw, name):
    text = requests.get(gw.admin_url("/metrics"), timeout=10).text
    m = re.search(r"^%s\{input=\"tcp\"\} (\d+)$" % name, text, re.M)
    assert m, name
    return int(m.group(1))


def test_tcp_input_closes_http_requests(gateway_factory):
    """A browser's text/plain post to the NDJSON port: nothing of it is taken."""
    gw = gateway_factory(tcp=True)
    body = EVENT + b"\n"
    post = (b"POST / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nOrigin: http://attacker.example\r\n"
            b"Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % (gw.tcp_port, len(body))) + body
    for pieces in ([post], [post[:2], post[2:]]):  # the method split over two reads too
        s = gw.tcp_connect()
        try:
            for piece in pieces:
                before = input_metric(gw, "siemrelay_input_bytes_received_total")
                s.sendall(piece)
                if len(pieces) > 1:  # read by the gateway before the next piece goes
                    wait_until(lambda: input_metric(gw, "siemrelay_input_bytes_received_total")
                               >= before + min(len(piece), 2), timeout=10)
            s.settimeout(10)
            try:
                assert s.recv(100) == b""  # closed by the gateway
            except ConnectionResetError:
                pass
        finally:
            s.close()
    wait_until(lambda: input_metric(gw, "siemrelay_input_http_refused_total") == 2, timeout=10)
    gw.wait_stderr(r"\[input\.tcp\] 127\.0\.0\.1:\d+: an HTTP request on the NDJSON port")
    assert input_metric(gw, "siemrelay_input_events_accepted_total") == 0
    assert input_metric(gw, "siemrelay_input_events_rejected_total") == 0
    # An agent's NDJSON is taken as before.
    s = gw.tcp_connect()
    s.sendall(body)
    s.close()
    wait_until(lambda: input_metric(gw, "siemrelay_input_events_accepted_total") == 1, timeout=10)


def test_cross_origin_is_refused_before_the_token(gateway_factory):
    gw = gateway_factory(conf={"inputs": {"http": {"token": "tok-123"}}})
    r = requests.post(gw.url(), data=EVENT, timeout=10,
                      headers={"Content-Type": "text/plain", "Origin": "http://attacker.example",
                               "Authorization": "Bearer tok-123"})
    assert r.status_code == 403
    r = requests.post(gw.url(), data=EVENT, timeout=10, headers={"Authorization": "Bearer tok-123"})
    assert r.status_code == 200


# ---- budgets and thresholds from the configuration --------------------------


def test_small_body_budget_gives_503(gateway_factory):
    gw = gateway_factory(conf={"inputs": {"http": {"max_body_total": "2KiB"}}})
    big = b"[" + b",".join([EVENT] * 40) + b"]"
    assert len(big) > 2048
    r = requests.post(gw.url(), data=big, headers={"Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 503 and r.headers.get("Retry-After"), (r.status_code, r.text)
    assert metric(gw, "input.http", "body_budget") == 1
    # The way out: a body within the budget is taken.
    r = requests.post(gw.url(), data=EVENT, headers={"Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 200 and r.json()["accepted"] == 1
    p = run_cli(["--check", "-c", gw.config_path])
    assert '"max_body_total":"2KiB"' in p.stdout, p.stdout


def test_failed_auth_thresholds_are_settings(gateway_factory):
    gw = gateway_factory(conf={
        "inputs": {"http": {"token": "tok-123", "failed_auth": {"max_failures": 3, "window": "30s"}}},
        "admin": dict(ADMIN, failed_auth={"max_failures": 2})})
    bad = {"Authorization": "Bearer wrong"}
    codes = [requests.post(gw.url(), data=EVENT, headers=bad, timeout=10).status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429], codes
    r = requests.post(gw.url(), data=EVENT, headers=bad, timeout=10)
    assert r.status_code == 429 and 25 <= int(r.headers["Retry-After"]) <= 30
    codes = [requests.get(gw.admin_url(), headers=bad, timeout=10).status_code for _ in range(3)]
    assert codes == [401, 401, 429], codes


def test_a_limited_peer_is_served_again_when_its_window_ends(gateway_factory):
    """The way out of the 429 state: while limited, even the right token gets
    429 (credentials are not checked); once the window ends the peer is
    served again, on ingest and on the admin API alike."""
    gw = gateway_factory(conf={
        "inputs": {"http": {"token": "tok-123", "failed_auth": {"max_failures": 2, "window": "2s"}}},
        "admin": dict(ADMIN, failed_auth={"max_failures": 2, "window": "2s"})})
    bad = {"Authorization": "Bearer wrong"}
    good = {"Authorization": "Bearer tok-123"}
    admin_good = {"Authorization": "Bearer " + ADMIN_TOKEN}
    assert [requests.post(gw.url(), data=EVENT, headers=bad, timeout=10).status_code
            for _ in range(2)] == [401, 401]
    assert [requests.get(gw.admin_url("/api/whoami"), headers=bad, timeout=10).status_code
            for _ in range(2)] == [401, 401]
    limited = requests.post(gw.url(), data=EVENT, headers=good, timeout=10)
    assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 2, limited.headers
    assert requests.get(gw.admin_url("/api/whoami"), headers=admin_good, timeout=10).status_code == 429
    time.sleep(2.2)
    r = requests.post(gw.url(), data=EVENT, headers=good, timeout=10)
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
    assert requests.get(gw.admin_url("/api/whoami"), headers=admin_good, timeout=10).status_code == 200
    # A new window starts from nothing: one more failure is a 401, not a 429.
    assert requests.post(gw.url(), data=EVENT, headers=bad, timeout=10).status_code == 401


# ---- isInsecure ----------------------------------------------------------


def test_insecure_integrations_are_reported(gateway_factory, receiver_factory, tmp_path):
    rcv = receiver_factory()
    integ = [webhook("lax", rcv.url("/lax"), isInsecure=True), webhook("strict", rcv.url("/strict"))]
    gw = gateway_factory(integ)
    warning = r"warn  \[config\] integration 'lax': isInsecure is set: the destination's TLS " \
              r"certificate and host name are not verified"
    gw.wait_stderr(warning)
    assert "integration 'strict': isInsecure" not in gw.stderr()
    listed = {i["name"]: i["insecure"] for i in requests.get(gw.admin_url(), timeout=10).json()}
    assert listed == {"lax": True, "strict": False}
    assert requests.get(gw.admin_url("/api/integrations/lax"), timeout=10).json()["insecure"] is True
    # At every reload too.
    mark = gw.stderr_len()
    os.kill(gw.proc.pid, signal.SIGHUP)
    gw.wait_stderr(r"configuration reloaded", since=mark, timeout=15)
    gw.wait_stderr(warning, since=mark)
    # And --check.
    p = run_cli(["--check", "-c", gw.config_path])
    assert p.returncode == 0, p.stderr
    assert "siemrelay: warning: integration 'lax': isInsecure is set" in p.stderr
    assert "integration 'strict'" not in p.stderr
    assert re.search(r'"name":"lax",.*"insecure":true', p.stdout)
    assert re.search(r'"name":"strict",.*"insecure":false', p.stdout)


def test_kafka_input_without_verification_is_reported(tmp_path):
    def check(**kafka):
        conf = {"data_dir": str(tmp_path / "data"),
                "inputs": {"kafka": dict({"enabled": True, "brokers": "127.0.0.1:9",
                                          "topics": ["events"], "group_id": "g"}, **kafka)},
                "integrations": [{"name": "out", "type": "FILE",
                                  "configuration": {"path": str(tmp_path / "out.jsonl")}}]}
        path = tmp_path / "cfg.yaml"
        path.write_text(yaml_text(conf))
        p = run_cli(["--check", "-c", str(path)])
        assert p.returncode == 0, p.stderr
        return p.stderr
    warning = "siemrelay: warning: inputs.kafka: tls_verify is false: the brokers' TLS certificates"
    assert warning in check(tls=True, tls_verify=False)
    assert "inputs.kafka: tls_verify" not in check(tls=True)
    assert "inputs.kafka: tls_verify" not in check(tls=False, tls_verify=False)  # no TLS at all


# ---- the command line against an admin API over TLS ------------------------


def make_client_ca(directory):
    """A CA and a client certificate it signed: (ca_cert, client_cert, client_key)."""
    p = lambda n: os.path.join(directory, n)
    run = lambda *a: subprocess.run([OPENSSL] + list(a), check=True, capture_output=True)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", p("ca.key"), "-out", p("ca.crt"),
        "-days", "2", "-subj", "/CN=admin-clients-ca")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", p("ops.key"), "-out", p("ops.csr"), "-subj", "/CN=ops")
    run("x509", "-req", "-in", p("ops.csr"), "-CA", p("ca.crt"), "-CAkey", p("ca.key"), "-CAcreateserial",
        "-out", p("ops.crt"), "-days", "2")
    return p("ca.crt"), p("ops.crt"), p("ops.key")


def cli(args, **env):
    p = run_cli(args, env={"SIEMRELAY_ADMIN_CACERT": "", "SIEMRELAY_ADMIN_CERT": "",
                           "SIEMRELAY_ADMIN_KEY": "", "SIEMRELAY_ADMIN_TOKEN": ADMIN_TOKEN, **env})
    assert "Sanitizer" not in p.stderr and "runtime error" not in p.stderr, p.stderr
    return p


def test_cli_speaks_https_to_a_tls_admin_api(gateway_factory, tmp_path):
    # siemrelay status/replay reach an admin API with admin.tls: from the
    # configuration files the certificate they name is pinned (its key must
    # be the server's); with --admin https://... the chain and host name are
    # verified against SIEMRELAY_ADMIN_CACERT or the system store; never a
    # silent skip of verification
    d = str(tmp_path)
    cert_a, key_a = make_cert(d, "a", "siemrelay-a")
    cert_b, _ = make_cert(d, "b", "siemrelay-b")
    gw = gateway_factory(conf={"admin": {**ADMIN, "tls": {"cert": cert_a, "key": key_a}}})
    gw.wait_stderr(r"admin API listening on 127\.0\.0\.1:%d \(TLS\)" % gw.admin_port)
    https = "https://127.0.0.1:%d" % gw.admin_port

    p = cli(["status", "-c", gw.config_path, "--json"])
    assert p.returncode == 0, p.stderr
    assert isinstance(json.loads(p.stdout), list)
    # replay goes the same way: the API's own 404 for an unknown integration
    p = cli(["replay", "-i", "nosuch", "-c", gw.config_path])
    assert p.returncode != 0 and "answered HTTP 404" in p.stderr and https in p.stderr, p.stderr

    # by URL: a self-signed certificate is not trusted without its CA ...
    p = cli(["status", "--admin", https])
    assert p.returncode == 1, p.stdout
    assert "certificate" in p.stderr and "SIEMRELAY_ADMIN_CACERT" in p.stderr, p.stderr
    # ... and is with it
    p = cli(["status", "--admin", https, "--json"], SIEMRELAY_ADMIN_CACERT=cert_a)
    assert p.returncode == 0, p.stderr
    # another certificate as the CA: refused
    p = cli(["status", "--admin", https], SIEMRELAY_ADMIN_CACERT=cert_b)
    assert p.returncode == 1 and "certificate" in p.stderr, p.stderr
    # plain HTTP to the TLS port gets no answer
    p = cli(["status", "--admin", "127.0.0.1:%d" % gw.admin_port])
    assert p.returncode == 1 and "cannot reach" in p.stderr, p.stderr

    # a configuration naming another certificate than the one served: the pin fails
    other = tmp_path / "other.yaml"
    other.write_text(yaml_text({"admin": {"listen": "127.0.0.1:%d" % gw.admin_port,
                                          "tls": {"cert": cert_b, "key": key_a}}}), encoding="utf-8")
    p = cli(["status", "-c", str(other)])
    assert p.returncode == 1 and "not the one admin.tls.cert names" in p.stderr, p.stderr
    # an unreadable certificate file is named, with the way out
    missing = tmp_path / "missing.yaml"
    missing.write_text(yaml_text({"admin": {"listen": "127.0.0.1:%d" % gw.admin_port,
                                            "tls": {"cert": d + "/nope.crt", "key": key_a}}}),
                       encoding="utf-8")
    p = cli(["status", "-c", str(missing)])
    assert p.returncode != 0 and "nope.crt" in p.stderr, p.stderr
    gw.stop()


def test_cli_client_certificate_for_mutual_tls_admin(gateway_factory, tmp_path):
    d = str(tmp_path)
    cert, key = make_cert(d, "srv", "siemrelay")
    ca, ops_cert, ops_key = make_client_ca(d)
    gw = gateway_factory(conf={"admin": {**ADMIN, "tls": {"cert": cert, "key": key, "client_ca": ca,
                                                 "require_client_cert": True}}})
    gw.wait_stderr(r"admin API listening on 127\.0\.0\.1:%d \(TLS\)" % gw.admin_port)
    p = cli(["status", "-c", gw.config_path])
    assert p.returncode == 1, p.stdout
    assert "SIEMRELAY_ADMIN_CERT" in p.stderr, p.stderr
    p = cli(["status", "-c", gw.config_path], SIEMRELAY_ADMIN_CERT=ops_cert)
    assert p.returncode == 1 and "go together" in p.stderr, p.stderr
    p = cli(["status", "-c", gw.config_path, "--json"], SIEMRELAY_ADMIN_CERT=ops_cert,
            SIEMRELAY_ADMIN_KEY=ops_key)
    assert p.returncode == 0, p.stderr
    assert isinstance(json.loads(p.stdout), list)
    gw.stop()
