// The dashboard's browser check, run by ui_browser.rs: headless Chromium (Debian's, through
// playwright-core) signs in at $DASHBOARD_URL with $DASHBOARD_KEY, compares what the page shows
// with $DASHBOARD_EXPECT (JSON written by the Rust test), filters the request table by model,
// opens a request's detail, switches the range, and saves a full-page screenshot to
// $DASHBOARD_SCREENSHOT. Any page error, console error or failed request fails it.
"use strict";

const fs = require("fs");
const os = require("os");
const path = require("path");

function need(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`${name} is not set (run through the Rust test; \`bash .ci/run\` sets up the tools)`);
    process.exit(2);
  }
  return v;
}

const nodeModules = need("AGENT_SHIM_TEST_NODE_MODULES");
const url = need("DASHBOARD_URL");
const key = need("DASHBOARD_KEY");
const expect = JSON.parse(need("DASHBOARD_EXPECT"));
const screenshot = need("DASHBOARD_SCREENSHOT");
const chromiumPath = process.env.AGENT_SHIM_TEST_CHROMIUM || "/usr/bin/chromium";

let chromium;
try {
  ({ chromium } = require(path.join(nodeModules, "playwright-core")));
} catch (e) {
  console.error(`playwright-core is not in AGENT_SHIM_TEST_NODE_MODULES=${nodeModules} (\`bash .ci/run\` installs it): ${e.message}`);
  process.exit(2);
}
if (!fs.existsSync(chromiumPath)) {
  console.error(`no Chromium at ${chromiumPath} (\`bash .ci/run\` installs Debian's chromium; AGENT_SHIM_TEST_CHROMIUM names another)`);
  process.exit(2);
}

const problems = [];
const T = 30_000;

function check(what, actual, wanted) {
  if (actual !== wanted) throw new Error(`${what}: the page shows ${JSON.stringify(actual)}, expected ${JSON.stringify(wanted)}`);
  console.log(`ok ${what} = ${JSON.stringify(actual)}`);
}

const text = (page, testid) => page.locator(`[data-testid="${testid}"]`).first().innerText();
const rowIds = (page) => page.$$eval('[data-testid="request-row"]', (rows) => rows.map((r) => r.dataset.id));

async function main() {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "agent-shim-ui-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath,
    headless: true,
    viewport: { width: 1440, height: 900 },
    timezoneId: "UTC",
    locale: "en-GB",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  try {
    const page = context.pages()[0] || (await context.newPage());
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`console error: ${m.text()}`);
    });
    page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()} ${r.failure() && r.failure().errorText}`));
    page.setDefaultTimeout(T);

    // Signed out: the login form.
    await page.goto(url);
    await page.waitForSelector('[data-testid="login-form"]');
    if (await page.locator('[data-testid="cards"]').count()) throw new Error("the dashboard showed before signing in");
    await page.fill('[data-testid="login-key"]', key);
    await Promise.all([page.waitForNavigation(), page.click('[data-testid="login-submit"]')]);
    await page.waitForSelector('body[data-loaded="24h"]');
    console.log("ok signed in");

    // The cards.
    for (const [id, want] of Object.entries(expect.cards)) check(id, await text(page, id), want);

    // The tables.
    check("request rows", JSON.stringify(await rowIds(page)), JSON.stringify(expect.requests));
    const keys = await page.$$eval('[data-testid="breakdown-row"]', (rows) => rows.map((r) => r.dataset.key));
    check("breakdown by model", JSON.stringify(keys), JSON.stringify(expect.breakdown));
    const charts = await page.locator(".uplot").count();
    check("charts drawn", charts, 2);

    // Filter by model.
    await page.selectOption('[data-testid="filter-model"]', expect.filter_model);
    await page.waitForFunction(
      (want) => JSON.stringify([...document.querySelectorAll('[data-testid="request-row"]')].map((r) => r.dataset.id)) === want,
      JSON.stringify(expect.filtered),
    );
    const models = await page.$$eval('[data-testid="request-model"]', (cells) => [...new Set(cells.map((c) => c.textContent))]);
    check("models after the filter", JSON.stringify(models), JSON.stringify([expect.filter_model]));

    // A request's detail.
    await page.click(`[data-testid="request-row"][data-id="${expect.detail_id}"]`);
    await page.waitForSelector(`[data-testid="detail-request_id"]:text-is("${expect.detail_id}")`);
    // Captured bodies are collapsed: open them to read them.
    for (const summary of await page.locator("#detail details > summary").all()) await summary.click();
    for (const [id, want] of Object.entries(expect.detail)) check(id, await text(page, id), want);

    // Another range, then back.
    await page.click('[data-testid="range-7d"]');
    await page.waitForSelector('body[data-loaded="7d"]');
    for (const [id, want] of Object.entries(expect.week)) check(`7d ${id}`, await text(page, id), want);
    await page.selectOption('[data-testid="filter-model"]', "");
    await page.click('[data-testid="range-24h"]');
    await page.waitForSelector('body[data-loaded="24h"]');
    check("request rows again", JSON.stringify(await rowIds(page)), JSON.stringify(expect.requests));
    // The screenshot shows the last hour, where the workload's requests spread over the chart.
    await page.click('[data-testid="range-1h"]');
    await page.waitForSelector('body[data-loaded="1h"]');
    check("1h card-spend", await text(page, "card-spend"), expect.cards["card-spend"]);
    await page.click(`[data-testid="request-row"][data-id="${expect.detail_id}"]`);
    await page.waitForSelector(`[data-testid="detail-request_id"]:text-is("${expect.detail_id}")`);

    // From the top, so the sticky header sits where it belongs in the full-page image.
    await page.evaluate(() => window.scrollTo(0, 0));
    fs.mkdirSync(path.dirname(screenshot), { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log(`ok screenshot ${screenshot}`);

    // A gateway without a master key and with an empty ledger: open, zeros, no errors.
    const emptyUrl = process.env.DASHBOARD_EMPTY_URL;
    if (emptyUrl) {
      const empty = await context.newPage();
      empty.on("pageerror", (e) => problems.push(`page error (empty ledger): ${e.message}`));
      empty.on("console", (m) => {
        if (m.type() === "error") problems.push(`console error (empty ledger): ${m.text()}`);
      });
      await empty.goto(emptyUrl);
      await empty.waitForSelector('body[data-loaded="24h"]');
      check("empty ledger: requests", await text(empty, "card-requests"), "0");
      check("empty ledger: spend", await text(empty, "card-spend"), "$0.00");
      check("empty ledger: no sign-out without a key", await empty.locator('[data-testid="logout"]').count(), 0);
      await empty.click('[data-testid="range-all"]');
      await empty.waitForSelector('body[data-loaded="all"]');
      check("empty ledger: request rows", (await rowIds(empty)).length, 0);
      await empty.close();
    }
    if (problems.length) throw new Error(`the page reported problems:\n${problems.join("\n")}`);
    console.log("dashboard ok");
  } finally {
    await context.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e.stack || String(e));
  if (problems.length) console.error(problems.join("\n"));
  process.exit(1);
});
