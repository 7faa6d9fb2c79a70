// driver.mjs - Debian's headless Chromium (/usr/bin/chromium) driven by
// playwright-core, for tests/integration/test_ui.py.
//
// Protocol: one JSON command per line on stdin, one JSON answer per line on
// stdout, in order. The first line written is {"ready":true,...} once the
// browser runs, or {"error":...} if it cannot start (then exit 1). An answer
// is {"ok":true,"value":...} or {"error":"..."}; a failed command leaves the
// driver running. EOF on stdin (or {"cmd":"quit"}) closes the browser.
//
// Commands never wait for a condition: the test polls. Each finds its
// element again by CSS selector, so a re-rendered page is never "stale".
//   {"cmd":"goto","url":U}              load U
//   {"cmd":"url"}                       the current URL
//   {"cmd":"count","css":S}             how many elements match S
//   {"cmd":"visible","css":S}           whether one of them is displayed
//   {"cmd":"text","css":S}              innerText of the first match, "" if none
//   {"cmd":"attr","css":S,"name":A}     attribute A of the first match (null if absent)
//   {"cmd":"options","css":S}           texts of the <option>s of the first <select> matching S
//   {"cmd":"click","css":S}             click the first displayed match
//   {"cmd":"fill","css":S,"value":V}    replace the value of the first displayed match by V
//   {"cmd":"press","css":S,"key":K}     focus the first displayed match, press K ("Enter", "Space")
//   {"cmd":"select","css":S,"value":V}  choose the option with value V
//   {"cmd":"eval","js":E}               the value of the expression E in the page
//   {"cmd":"screenshot","path":P}       save a PNG of the viewport to P
//   {"cmd":"quit"}
// Actions (click, fill, press, select) give up after "timeout" ms (default
// 2000) and answer with an error; the test decides whether to try again.

import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const EXECUTABLE = process.env.SIEMRELAY_CHROMIUM || "/usr/bin/chromium";
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-dev-shm-usage"];
const ACTION_TIMEOUT = 2000;

function answer(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

function need(c, key) {
  if (typeof c[key] !== "string") throw new Error(`"${c.cmd}" needs a string "${key}"`);
  return c[key];
}

// The first element matching css that is displayed, as a locator.
async function displayed(page, css) {
  const all = page.locator(css);
  const n = await all.count();
  for (let i = 0; i < n; i++) {
    const el = all.nth(i);
    if (await el.isVisible()) return el;
  }
  throw new Error(`no displayed element matches ${css} (${n} in the page)`);
}

async function run(page, c) {
  const timeout = typeof c.timeout === "number" ? c.timeout : ACTION_TIMEOUT;
  switch (c.cmd) {
    case "goto":
      await page.goto(need(c, "url"), { waitUntil: "load", timeout: 20000 });
      return page.url();
    case "url":
      return page.url();
    case "count":
      return await page.locator(need(c, "css")).count();
    case "visible": {
      const all = page.locator(need(c, "css"));
      const n = await all.count();
      for (let i = 0; i < n; i++) if (await all.nth(i).isVisible()) return true;
      return false;
    }
    case "text": {
      const el = page.locator(need(c, "css")).first();
      if ((await el.count()) === 0) return "";
      return await el.innerText({ timeout });
    }
    case "attr": {
      const el = page.locator(need(c, "css")).first();
      if ((await el.count()) === 0) throw new Error(`nothing matches ${c.css}`);
      return await el.getAttribute(need(c, "name"), { timeout });
    }
    case "options": {
      const el = page.locator(need(c, "css")).first();
      return await el.locator("option").allInnerTexts();
    }
    case "click":
      await (await displayed(page, need(c, "css"))).click({ timeout });
      return true;
    case "fill":
      await (await displayed(page, need(c, "css"))).fill(need(c, "value"), { timeout });
      return true;
    case "press":
      await (await displayed(page, need(c, "css"))).press(need(c, "key"), { timeout });
      return true;
    case "select":
      return await (await displayed(page, need(c, "css"))).selectOption(need(c, "value"), { timeout });
    case "eval":
      return await page.evaluate(need(c, "js"));
    case "screenshot":
      await page.screenshot({ path: need(c, "path"), timeout: 10000 });
      return c.path;
    default:
      throw new Error(`unknown command ${JSON.stringify(c.cmd)}`);
  }
}

async function main() {
  const major = Number(process.versions.node.split(".")[0]);
  if (major < 20) throw new Error(`Node.js ${process.versions.node} is too old for playwright-core: 20 or later is needed`);
  let browser;
  try {
    browser = await chromium.launch({ executablePath: EXECUTABLE, headless: true, chromiumSandbox: false,
      args: FLAGS, timeout: 30000 });
  } catch (e) {
    throw new Error(`cannot start ${EXECUTABLE}: ${e.message}`);
  }
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 }, locale: "en-US" });
  const page = await context.newPage();
  answer({ ready: true, browser: browser.version(), playwright: "playwright-core" });

  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    let c;
    try {
      c = JSON.parse(line);
    } catch (e) {
      answer({ error: `not JSON: ${e.message}` });
      continue;
    }
    if (c.cmd === "quit") {
      answer({ ok: true, value: true });
      break;
    }
    try {
      answer({ ok: true, value: (await run(page, c)) ?? null });
    } catch (e) {
      answer({ error: String(e && e.message ? e.message : e).split("\n").slice(0, 6).join(" | ") });
    }
  }
  await browser.close();
}

main().then(() => process.exit(0), (e) => {
  answer({ error: String(e && e.message ? e.message : e) });
  process.exit(1);
});
