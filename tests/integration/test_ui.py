"""The integrations page in a real browser: Debian's headless Chromium
(/usr/bin/chromium) driven by playwright-core from npm, through the small
Node driver tests/ui/driver.mjs (one JSON command a line on its stdin, one
JSON answer a line on its stdout). The Makefile's test-deps installs
chromium and nodejs (TEST_DEPS) and the driver's node modules from
tests/ui/package-lock.json (npm ci). The test signs in, sees the list with
coloured statuses, adds a WEBHOOK through the generated form (a required
field's error shown beside it first), watches it become Connected, sends a
test event, stops the receiver and watches Error arrive with its reason in
the history, deletes it with "Yes, delete", and checks that a viewer sees
no write controls. A screenshot of every step is kept: in
$SIEMRELAY_BUILD_DIR/test-artifacts/ui/ (else the test's temp dir).

A machine without Chromium, Node.js or the driver's node modules fails this
test; it is never skipped."""

import json
import os
import select
import shutil
import subprocess
import time

from admin_util import ADMIN_TOKEN, VIEWER_TOKEN, Admin, audit_sink, tokens_conf
from harness import SOURCE_DIR, sample_bytes, summary_of
from receivers.controlled import ControlledReceiver

CHROMIUM = "/usr/bin/chromium"
UI_DIR = os.path.join(SOURCE_DIR, "tests", "ui")
DRIVER = os.path.join(UI_DIR, "driver.mjs")
WAIT = 20
COMMAND_TIMEOUT = 40  # one driver command; actions give up after 2 s themselves


def artifacts_dir(tmp_path):
    build = os.environ.get("SIEMRELAY_BUILD_DIR")
    d = os.path.join(build, "test-artifacts", "ui") if build else str(tmp_path / "screenshots")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d, exist_ok=True)
    return d


class DriverError(AssertionError):
    pass


class Browser:
    """node tests/ui/driver.mjs: Chromium driven by playwright-core."""

    def __init__(self, log_path):
        assert os.path.exists(CHROMIUM), "Chromium is not installed (%s): apt-get install chromium" % CHROMIUM
        node = shutil.which("node")
        assert node, "Node.js is not installed (no node in PATH): apt-get install nodejs (make test-deps)"
        assert os.path.isdir(os.path.join(UI_DIR, "node_modules", "playwright-core")), (
            "playwright-core is not installed in %s/node_modules: run `make test-deps` "
            "(or `npm ci --prefix tests/ui`)" % UI_DIR)
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen([node, DRIVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log, cwd=UI_DIR)
        self.buf = b""
        hello = self._read_line(60)
        if not hello.get("ready"):
            self.quit()
            raise DriverError("the browser driver did not start: %s; its stderr: %s"
                              % (hello.get("error"), self.stderr()))

    def stderr(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read()[-3000:].decode("utf-8", "replace")

    def _read_line(self, timeout):
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise DriverError("the browser driver gave no answer in %ds; its stderr: %s"
                                  % (timeout, self.stderr()))
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise DriverError("the browser driver exited (code %s); its stderr: %s"
                                      % (self.proc.wait(), self.stderr()))
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def call(self, cmd, **args):
        """Sends one command; returns its value or raises DriverError."""
        args["cmd"] = cmd
        self.proc.stdin.write((json.dumps(args) + "\n").encode("utf-8"))
        self.proc.stdin.flush()
        reply = self._read_line(COMMAND_TIMEOUT)
        if "error" in reply:
            raise DriverError("%s: %s" % (json.dumps(args), reply["error"]))
        return reply["value"]

    def quit(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(15)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class Page:
    def __init__(self, browser, shots):
        self.b = browser
        self.shots = shots
        self.n = 0

    def wait(self, cond, message, timeout=WAIT):
        # The page re-renders what changed every 2 s: every command finds its
        # element again, and a failed action is tried again at the next poll.
        deadline = time.monotonic() + timeout
        last = None
        while True:
            try:
                value = cond()
                if value:
                    return value
            except DriverError as e:
                last = e
            if time.monotonic() >= deadline:
                raise AssertionError(message if last is None else "%s (last: %s)" % (message, last))
            time.sleep(0.1)

    def goto(self, url):
        self.b.call("goto", url=url)

    def url(self):
        return self.b.call("url")

    def click(self, css):
        """Clicks the first displayed element `css` finds, as soon as there is one."""
        return self.wait(lambda: self.b.call("click", css=css), "cannot click %s" % css)

    def fill(self, css, value):
        self.b.call("fill", css=css, value=value)

    def press(self, css, key):
        self.b.call("press", css=css, key=key)

    def select(self, css, value):
        self.b.call("select", css=css, value=value)

    def options(self, css):
        return self.b.call("options", css=css)

    def attr(self, css, name):
        return self.b.call("attr", css=css, name=name)

    def count(self, css):
        return self.b.call("count", css=css)

    def text(self, css):
        return self.b.call("text", css=css)

    def visible(self, css):
        self.wait(lambda: self.b.call("visible", css=css),
                  "%s never became visible; page: %s" % (css, self.body()))
        return css

    def body(self):
        try:
            return self.text("body")[:2000]
        except DriverError as e:
            return "(no body: %s)" % e

    def shot(self, name):
        self.n += 1
        path = os.path.join(self.shots, "%02d-%s.png" % (self.n, name))
        self.b.call("screenshot", path=path)
        return path

    def eval(self, js):
        return self.b.call("eval", js=js)

    def cell(self, name, css):
        """A selector for `css` inside the list's row of integration `name`."""
        return 'tr[data-name="%s"] %s' % (name, css)

    def row(self, name):
        css = self.cell(name, "").strip()
        return css if self.count(css) else None

    def status_of(self, name):
        return self.text(self.cell(name, ".status-cell .status")) or None

    def sign_in(self, token):
        field = self.visible("#token")
        self.fill(field, token)
        self.press(field, "Enter")  # the form works from the keyboard


def post_events(gw, n, prefix):
    base = json.loads(sample_bytes("policy_event.json"))
    r = gw.post_ndjson([dict(base, id="%s-%d" % (prefix, i)) for i in range(n)])
    assert r.status_code == 200, r.text
    assert summary_of(r)["accepted"] == n


def test_integrations_page(gateway_factory, tmp_path):
    shots = artifacts_dir(tmp_path)
    rcv = ControlledReceiver().start()
    sink, _ = audit_sink(tmp_path)
    conf = {"admin": tokens_conf(),
            "delivery": {"max_attempts": 2, "backoff": "100ms", "backoff_max": "200ms", "inhibit": "30s",
                         "shutdown_timeout": "2s"}}
    gw = gateway_factory([sink], conf=conf)
    browser = Browser(str(tmp_path / "ui-driver.log"))
    p = Page(browser, shots)
    try:
        # ---- sign in: a wrong token is refused, the right one shows the list
        p.goto(gw.admin_url("/"))
        p.sign_in("not-the-token")
        p.wait(lambda: "not accepted" in p.text("#login-error"), "a wrong token was not refused")
        p.shot("wrong-token")
        p.sign_in(ADMIN_TOKEN)
        p.visible("#integrations")
        p.wait(lambda: p.status_of("audit-archive"), "the list never showed audit-archive")
        assert "alice" in p.text("#who") and "admin" in p.text("#who")
        p.wait(lambda: "status" in p.attr(p.cell("audit-archive", ".status"), "class"), "no status badge")
        p.wait(lambda: p.text(p.cell("audit-archive", ".tag")) == "PLATFORM_AUDIT", "no channel tag")
        p.shot("list")

        # ---- Add Integration: the form comes from WEBHOOK's option schema
        p.click("#add-integration")
        p.select(p.visible("#type"), "WEBHOOK")
        p.visible("#add-form")
        endpoint = "#f-configuration_endpoint"
        assert p.attr(endpoint, "aria-required") == "true"
        assert p.text('label[for="f-configuration_endpoint"] .req') == "*"
        assert p.attr("#f-configuration_secret", "type") == "password"
        output = "#f-configuration_output"
        assert p.options(output)[1:] == ["json", "ndjson"]
        assert "default: \"json\"" in p.text('[data-field="configuration.output"]')
        p.fill("#f-name", "siem")
        p.select(output, "ndjson")
        p.click("#create")
        p.wait(lambda: "missing required key 'endpoint'" in p.text("#f-configuration_endpoint-error"),
               "no error beside the endpoint field; page: %s" % p.body())
        assert "invalid" in p.attr('[data-field="configuration.endpoint"]', "class")
        p.shot("required-field-error")
        p.fill(endpoint, rcv.url("/hook"))
        p.click("#create")
        p.wait(lambda: p.url().endswith("#/i/siem"), "adding did not open the detail page")
        p.wait(lambda: "siem" in p.text("h1"), "no detail heading")
        p.shot("created")

        # ---- Connected, with history; then a test event
        post_events(gw, 3, "ui")
        p.wait(lambda: "Connected" in p.text("h1 .status"), "never Connected: %s" % p.body())
        p.wait(lambda: "Connected" in p.text("#history"), "history has no Connected row")
        p.wait(lambda: int(p.text(".delivered .v") or 0) >= 3, "delivered counter is below 3")
        p.shot("connected")
        p.click("#send-test")
        p.wait(lambda: p.text("#test-outcome") == "ok", "test event outcome: %s" % p.text("#test-result"))
        assert "status 200" in p.text("#test-result")
        rcv.wait(lambda r: any(e.get("name") == "siemrelay test event" for e in r.events("/hook")), 10)
        p.shot("test-event")

        # ---- the receiver goes away: Error, with the reason in the history
        rcv.down()
        post_events(gw, 2, "lost")
        p.wait(lambda: "Error" in p.text("h1 .status"), "never reached Error: %s" % p.body(), timeout=30)
        p.wait(lambda: "refused" in p.text("#history").lower() or "connect" in p.text("#history").lower(),
               "the history does not say why: %s" % p.text("#history"))
        assert "Error" in p.text("#history") and p.text("#errors")
        p.shot("error")
        p.goto(gw.admin_url("/#/"))
        p.wait(lambda: p.status_of("siem") == "Error", "the list does not show Error")
        p.wait(lambda: "error" in p.attr(p.cell("siem", ".status"), "class"),
               "the Error badge is not red")
        p.shot("list-error")

        # ---- delete, saying what happens to the queued events
        p.click("#open-siem")
        p.click("#delete")
        dialog = p.visible("#delete-dialog")
        assert "queued" in p.text(dialog).lower()
        assert "Yes, delete" in p.text("#confirm-delete")
        p.press("#q-discard", "Space")  # keyboard: pick "discard"
        assert p.eval("document.querySelector('#q-discard').checked") is True
        p.shot("confirm-delete")
        p.click("#confirm-delete")
        p.wait(lambda: p.url().endswith("#/") and p.row("audit-archive") and not p.row("siem"),
               "siem is still listed")
        assert "Deleted siem" in p.text("#notice") and "discarded" in p.text("#notice")
        assert "siem" not in Admin(gw).names()
        p.shot("deleted")

        # ---- a viewer sees everything but the write controls
        p.click("#sign-out")
        p.sign_in(VIEWER_TOKEN)
        p.wait(lambda: p.status_of("audit-archive"), "the viewer sees no list")
        assert not p.count("#add-integration") and not p.count(".test-button")
        assert "viewer" in p.text("#notice")
        p.click("#open-audit-archive")
        p.wait(lambda: "audit-archive" in p.text("h1"), "no detail for the viewer")
        p.wait(lambda: p.count("#history"), "no history for the viewer")
        assert not p.count("#send-test") and not p.count("#delete")
        p.goto(gw.admin_url("/#/add"))
        p.wait(lambda: p.url().endswith("#/"), "a viewer reached the add form")
        p.shot("viewer")

        # the page is served compiled in, with its types and cache headers
        import requests
        r = requests.get(gw.admin_url("/ui/app.js"), timeout=10)
        assert r.headers["Content-Type"].startswith("text/javascript")
        assert r.headers["Cache-Control"] == "no-cache" and r.headers["ETag"]
        assert "default-src 'self'" in r.headers["Content-Security-Policy"]
        again = requests.get(gw.admin_url("/ui/app.js"), headers={"If-None-Match": r.headers["ETag"]},
                             timeout=10)
        assert again.status_code == 304
        assert requests.get(gw.admin_url("/ui/nope.js"), timeout=10).status_code == 404
        assert requests.get(gw.admin_url("/"), timeout=10).headers["Content-Type"].startswith("text/html")
        assert len(os.listdir(shots)) >= 10
    except Exception:
        try:
            p.shot("failure")
        except DriverError:
            pass  # the browser is gone: the error says why
        raise
    finally:
        browser.quit()
        rcv.down()
        time.sleep(0)
