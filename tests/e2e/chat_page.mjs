// Browser test of the chat page of cria serve (src/serve/web/chat.html), in Debian's Chromium, headless.
// It opens the page, sends a message, waits for the streamed reply, stops it mid-stream and checks that
// the reply stops growing and the Stop button turns off. A screenshot is left for people to look at.
//
//   CRIA_URL=http://127.0.0.1:8080 node tests/e2e/chat_page.mjs
//
// Environment: CRIA_URL (required, the server's base URL); SCREENSHOT_DIR (default build/e2e-artifacts/
// in the source tree); CHROMIUM (default /usr/bin/chromium). Exits 0 on success, 1 with a message on any
// failure, including the 60 s overall limit.
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

import puppeteer from "puppeteer-core";

const OVERALL_TIMEOUT_MS = 60_000;
const STEP_TIMEOUT_MS = 20_000;
const sourceRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const baseUrl = (process.env.CRIA_URL || "").replace(/\/+$/, "");
const screenshotDir = process.env.SCREENSHOT_DIR || path.join(sourceRoot, "build", "e2e-artifacts");
const chromium = process.env.CHROMIUM || "/usr/bin/chromium";

let browser = null;
let page = null;

function log(message) {
  console.log(`chat_page: ${message}`);
}

class Failure extends Error {}
function check(condition, message) {
  if (!condition) throw new Failure(message);
}

async function fail(message) {
  console.error(`chat_page: FAIL: ${message}`);
  if (page) {
    // What the page showed when it failed helps more than the message alone.
    const shot = path.join(screenshotDir, "chat-page-failure.png");
    try {
      await mkdir(screenshotDir, { recursive: true });
      await page.screenshot({ path: shot });
      console.error(`chat_page: the page at the failure: ${shot}`);
    } catch { /* the browser may be gone */ }
  }
  if (browser) await browser.close().catch(() => {});
  process.exit(1);
}

// Text of the last element matching `selector`, "" when there is none.
function lastText(selector) {
  return page.evaluate((sel) => {
    const all = document.querySelectorAll(sel);
    return all.length ? all[all.length - 1].textContent : "";
  }, selector);
}

function isDisabled(selector) {
  return page.$eval(selector, (el) => el.disabled);
}

async function setField(selector, value) {
  await page.$eval(selector, (el, v) => {
    el.value = v;
    el.dispatchEvent(new Event("input", { bubbles: true }));
    el.dispatchEvent(new Event("change", { bubbles: true }));
  }, value);
}

// page.waitForFunction with a failure that says what did not happen.
async function waitUntil(what, fn, ...args) {
  try {
    await page.waitForFunction(fn, {}, ...args);
  } catch (error) {
    throw new Failure(`${what} did not happen within ${STEP_TIMEOUT_MS / 1000} s (${error.message})`);
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function run() {
  check(baseUrl, "set CRIA_URL to the server's base URL, e.g. http://127.0.0.1:8080");
  browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,  // puppeteer passes --headless=new: Chrome's own headless mode, no X server needed
    args: ["--no-sandbox"],
    defaultViewport: { width: 1100, height: 760 },
  });
  page = await browser.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  const pageErrors = [];
  page.on("pageerror", (error) => pageErrors.push(error.message));
  page.on("console", (msg) => {
    if (msg.type() === "error") pageErrors.push(msg.text());
  });

  log(`opening ${baseUrl}/`);
  const response = await page.goto(`${baseUrl}/`, { waitUntil: "load" }).catch((error) => {
    throw new Failure(`cannot open ${baseUrl}/: ${error.message}`);
  });
  check(response && response.status() === 200, `GET / answered ${response ? response.status() : "nothing"}`);
  const contentType = response.headers()["content-type"] || "";
  check(contentType.startsWith("text/html"), `GET / has Content-Type '${contentType}', not text/html`);
  for (const id of ["input", "send", "stop", "system", "temperature", "max-tokens", "messages", "stats", "error"]) {
    check(await page.$(`#${id}`), `the page has no #${id}`);
  }
  check(await isDisabled("#stop"), "#stop is enabled before anything was sent");

  // Many tokens, so that the reply is still streaming when Stop is pressed.
  await setField("#max-tokens", "2000");
  const message = "Tell me a long story about a fox who learns to count.";
  await page.type("#input", message);
  await page.click("#send");
  log("sent a message");

  await waitUntil("the message showing as a .msg.user bubble",
    (text) => [...document.querySelectorAll(".msg.user")].some((el) => el.textContent === text), message);
  await waitUntil("reply text in a .msg.assistant bubble", () => {
    const replies = document.querySelectorAll(".msg.assistant");
    return replies.length > 0 && replies[replies.length - 1].textContent.length > 0;
  });
  const first = await lastText(".msg.assistant");
  log(`first text arrived: ${JSON.stringify(first.slice(0, 60))}`);
  check(!(await isDisabled("#stop")), "#stop is disabled while the reply streams");
  check(await isDisabled("#send"), "#send is enabled while the reply streams");

  // Let it grow a little, to see that text streams in rather than arriving at once.
  await waitUntil("the reply growing past its first text",
    (n) => {
      const replies = document.querySelectorAll(".msg.assistant");
      return replies[replies.length - 1].textContent.length > n;
    }, first.length);
  check(!(await isDisabled("#stop")), "the reply finished before Stop could be pressed (raise max tokens?)");
  await page.click("#stop");
  await waitUntil("#stop turning disabled after a click on it", () => document.querySelector("#stop").disabled);
  const stopped = await lastText(".msg.assistant");
  log(`stopped after ${stopped.length} characters`);
  check(stopped.length > 0, "the partial reply was dropped when stopped");

  await sleep(1500);
  const later = await lastText(".msg.assistant");
  check(later === stopped, `the reply kept growing after Stop (${stopped.length} -> ${later.length} characters)`);
  check(await isDisabled("#stop"), "#stop is enabled after stopping");
  check(!(await isDisabled("#send")), "#send is still disabled after stopping");
  const stats = await page.$eval("#stats", (el) => el.textContent);
  check(/token/.test(stats), `#stats shows no token count after the reply: '${stats}'`);
  const error = await page.$eval("#error", (el) => el.textContent);
  check(error === "", `the page shows an error: '${error}'`);
  check(pageErrors.length === 0, `the page logged errors: ${pageErrors.join(" | ")}`);
  log(`stats: ${stats}`);

  await mkdir(screenshotDir, { recursive: true });
  const shot = path.join(screenshotDir, "chat-page.png");
  await page.screenshot({ path: shot });
  log(`screenshot: ${shot}`);
  await browser.close();
  browser = null;
  log("PASS");
}

// Not unref'd: should every handle close while `run` waits, the timer still ends the process with a failure.
setTimeout(() => fail(`not done after ${OVERALL_TIMEOUT_MS / 1000} s`), OVERALL_TIMEOUT_MS);
run().then(
  () => process.exit(0),
  // Puppeteer's messages name the problem (net::ERR_CONNECTION_REFUSED at ..., Waiting failed: 20000ms
  // exceeded); the stack adds only puppeteer's internals.
  (error) => fail(error instanceof Error ? error.message : String(error)));
