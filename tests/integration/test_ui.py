"""The integrations page in a real browser: Debian's headless Chromium
driven by Selenium (chromium, chromium-driver, python3-selenium; the
Makefile's TEST_DEPS install them). The test signs in, sees the list with
coloured statuses, adds a WEBHOOK through the generated form (a required
field's error shown beside it first), watches it become Connected, sends a
test event, stops the receiver and watches Error arrive with its reason in
the history, deletes it with "Yes, delete", and checks that a viewer sees
no write controls. A screenshot of every step is kept: in
$SIEMRELAY_BUILD_DIR/test-artifacts/ui/ (else the test's temp dir).

A machine without Chromium fails this test; it is never skipped."""

import json
import os
import shutil
import time

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

from admin_util import ADMIN_TOKEN, VIEWER_TOKEN, Admin, audit_sink, tokens_conf
from harness import sample_bytes, summary_of
from receivers.controlled import ControlledReceiver

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT = 20


def artifacts_dir(tmp_path):
    build = os.environ.get("SIEMRELAY_BUILD_DIR")
    d = os.path.join(build, "test-artifacts", "ui") if build else str(tmp_path / "screenshots")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d, exist_ok=True)
    return d


def browser():
    assert os.path.exists(CHROMIUM), "Chromium is not installed (%s): apt-get install chromium" % CHROMIUM
    assert os.path.exists(CHROMEDRIVER), "chromedriver is missing (%s): apt-get install chromium-driver" % CHROMEDRIVER
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-dev-shm-usage", "--window-size=1366,900", "--lang=en-US"):
        opts.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


class Page:
    def __init__(self, driver, shots):
        self.d = driver
        self.shots = shots
        self.n = 0

    def wait(self, cond, message, timeout=WAIT):
        # The page re-renders what changed every 2 s: an element found a
        # moment ago may be gone; the next poll finds the new one.
        return WebDriverWait(self.d, timeout, poll_frequency=0.1,
                             ignored_exceptions=(StaleElementReferenceException,)).until(
                                 lambda d: cond(), message)

    def click(self, css):
        """Clicks what `css` finds, finding it again if a refresh replaced it."""
        def attempt():
            self.visible(css).click()
            return True
        return self.wait(attempt, "cannot click %s" % css)

    def find(self, css):
        return self.d.find_element(By.CSS_SELECTOR, css)

    def finds(self, css):
        return self.d.find_elements(By.CSS_SELECTOR, css)

    def text(self, css):
        els = self.finds(css)
        return els[0].text if els else ""

    def visible(self, css):
        return self.wait(lambda: next((e for e in self.finds(css) if e.is_displayed()), None),
                         "%s never became visible; page: %s" % (css, self.body()))

    def body(self):
        try:
            return self.find("body").text[:2000]
        except Exception as e:  # noqa: BLE001 - only for messages
            return "(no body: %s)" % e

    def shot(self, name):
        self.n += 1
        path = os.path.join(self.shots, "%02d-%s.png" % (self.n, name))
        self.d.save_screenshot(path)
        return path

    def row(self, name):
        rows = self.finds('tr[data-name="%s"]' % name)
        return rows[0] if rows else None

    def status_of(self, name):
        row = self.row(name)
        return row.find_element(By.CSS_SELECTOR, ".status-cell .status").text if row else None

    def sign_in(self, token):
        field = self.visible("#token")
        field.clear()
        field.send_keys(token)
        field.send_keys(Keys.ENTER)  # the form works from the keyboard


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
    driver = browser()
    p = Page(driver, shots)
    try:
        # ---- sign in: a wrong token is refused, the right one shows the list
        driver.get(gw.admin_url("/"))
        p.sign_in("not-the-token")
        p.wait(lambda: "not accepted" in p.text("#login-error"), "a wrong token was not refused")
        p.shot("wrong-token")
        p.sign_in(ADMIN_TOKEN)
        p.visible("#integrations")
        p.wait(lambda: p.status_of("audit-archive"), "the list never showed audit-archive")
        assert "alice" in p.text("#who") and "admin" in p.text("#who")
        p.wait(lambda: "status" in p.row("audit-archive").find_element(By.CSS_SELECTOR, ".status")
               .get_attribute("class"), "no status badge")
        p.wait(lambda: p.row("audit-archive").find_element(By.CSS_SELECTOR, ".tag").text == "PLATFORM_AUDIT",
               "no channel tag")
        p.shot("list")

        # ---- Add Integration: the form comes from WEBHOOK's option schema
        p.click("#add-integration")
        Select(p.visible("#type")).select_by_value("WEBHOOK")
        p.visible("#add-form")
        endpoint = p.find("#f-configuration_endpoint")
        assert endpoint.get_attribute("aria-required") == "true"
        label = p.find('label[for="f-configuration_endpoint"]')
        assert label.find_element(By.CSS_SELECTOR, ".req").text == "*"
        assert p.find("#f-configuration_secret").get_attribute("type") == "password"
        output = Select(p.find("#f-configuration_output"))
        assert [o.text for o in output.options][1:] == ["json", "ndjson"]
        assert "default: \"json\"" in p.find('[data-field="configuration.output"]').text
        p.find("#f-name").send_keys("siem")
        output.select_by_value("ndjson")
        p.find("#create").click()
        p.wait(lambda: "missing required key 'endpoint'" in p.text("#f-configuration_endpoint-error"),
               "no error beside the endpoint field; page: %s" % p.body())
        assert "invalid" in p.find('[data-field="configuration.endpoint"]').get_attribute("class")
        p.shot("required-field-error")
        endpoint.send_keys(rcv.url("/hook"))
        p.find("#create").click()
        p.wait(lambda: driver.current_url.endswith("#/i/siem"), "adding did not open the detail page")
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
        driver.get(gw.admin_url("/#/"))
        p.wait(lambda: p.status_of("siem") == "Error", "the list does not show Error")
        p.wait(lambda: "error" in p.row("siem").find_element(By.CSS_SELECTOR, ".status").get_attribute("class"),
               "the Error badge is not red")
        p.shot("list-error")

        # ---- delete, saying what happens to the queued events
        p.click("#open-siem")
        p.click("#delete")
        dialog = p.visible("#delete-dialog")
        assert "queued" in dialog.text.lower()
        assert "Yes, delete" in p.find("#confirm-delete").text
        p.find("#q-discard").send_keys(Keys.SPACE)  # keyboard: pick "discard"
        p.shot("confirm-delete")
        p.find("#confirm-delete").click()
        p.wait(lambda: driver.current_url.endswith("#/") and p.row("audit-archive") and not p.row("siem"),
               "siem is still listed")
        assert "Deleted siem" in p.text("#notice") and "discarded" in p.text("#notice")
        assert "siem" not in Admin(gw).names()
        p.shot("deleted")

        # ---- a viewer sees everything but the write controls
        p.find("#sign-out").click()
        p.sign_in(VIEWER_TOKEN)
        p.wait(lambda: p.status_of("audit-archive"), "the viewer sees no list")
        assert not p.finds("#add-integration") and not p.finds(".test-button")
        assert "viewer" in p.text("#notice")
        p.click("#open-audit-archive")
        p.wait(lambda: "audit-archive" in p.text("h1"), "no detail for the viewer")
        p.wait(lambda: p.finds("#history"), "no history for the viewer")
        assert not p.finds("#send-test") and not p.finds("#delete")
        driver.get(gw.admin_url("/#/add"))
        p.wait(lambda: driver.current_url.endswith("#/"), "a viewer reached the add form")
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
        p.shot("failure")
        raise
    finally:
        driver.quit()
        rcv.down()
        time.sleep(0)
