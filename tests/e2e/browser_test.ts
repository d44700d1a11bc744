/** End to end: a share link opened in a real headless Chromium (Debian's, driven by playwright-core) is the machine's terminal, directly and through nginx, haproxy and Caddy. */
import { after, afterEach, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import {
  clientEnv,
  killAll,
  MAIN,
  type RelayProcess,
  runCmdop,
  startAgent,
  startRelay,
  type Workspace,
} from "../_harness.ts";
import { HOUR_MS, type TestClock, testClock } from "../_login.ts";
import { makeCertificates } from "../_tls.ts";
import { findProgram, needTools } from "../_tools.ts";
import { type ProxyProcess, startCaddy, startHaproxyTls, startNginx } from "../deploy/_proxies.ts";

/** The reverse proxies of docs/deploy.md, each started with its snippet from that page. */
const PROXIES = {
  nginx: (port: number, certs: string) => startNginx(port, certs),
  haproxy: startHaproxyTls,
  caddy: startCaddy,
};
import { Tmux } from "./_tmux.ts";

const skip = await needTools("share links in a browser", [
  "chromium",
  "tmux",
  "nginx",
  "haproxy",
  "caddy",
  "openssl",
]);

/**
 * A shell's prompt at the end of a row. The outputs waited for are computed by the shell
 * (`$((6*7))` typed, 42 shown), so they match nowhere else and need no anchors: a line the shell
 * prints over one the terminal wrapped keeps that line's tail after it.
 */
const PROMPT = /[#$] *$/m;

/** What the page's terminal shows, row by row (xterm's DOM renderer). */
const screenOf = (page: Page) => page.locator(".xterm-rows").innerText();
const statusOf = (page: Page) => page.locator("#status").innerText();

/** Waits until the page's terminal shows `pattern`; fails with the screen and status. */
async function screenShows(page: Page, pattern: RegExp, what: string): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const screen = await screenOf(page);
    if (pattern.test(screen)) return screen;
    if (Date.now() > deadline) {
      throw new Error(
        `timed out waiting for ${what} (${pattern}); status: ${await statusOf(page)}\n${screen}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Waits for the page's state (`body[data-state]`), then returns its status line. */
async function stateIs(page: Page, state: string): Promise<string> {
  await page.waitForSelector(`body[data-state="${state}"]`, { timeout: 30_000 }).catch(
    async (error) => {
      throw new Error(`page never reached "${state}"; status: ${await statusOf(page)}`, {
        cause: error,
      });
    },
  );
  return await statusOf(page);
}

/**
 * Waits until the page's terminal size (`body[data-size]`, "ROWS COLS") differs from `was`;
 * read from here, since the page's CSP forbids the eval that page.waitForFunction needs.
 */
async function sizeChangedFrom(page: Page, was: string | null): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const size = await page.locator("body").getAttribute("data-size");
    if (size && size !== was) return size;
    if (Date.now() > deadline) throw new Error(`the page's terminal stayed at ${was}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A remote command printing `label=ROWS COLS` once the pty has that size (SIGWINCH may lag the keys). */
function remoteSize(label: string, size: string): string {
  return `for i in $(seq 50); do [ "$(stty size)" = "${size}" ] && break; sleep 0.1; done; ` +
    `echo "${label}=$(stty size)"`;
}

describe("a share link in a browser", { skip }, () => {
  let clock: TestClock;
  let relay: RelayProcess;
  let ws: Workspace;
  let env: Record<string, string>;
  let browser: Browser;
  let scratch: string;
  let certs: string;
  const proxies: ProxyProcess[] = [];
  let owner: Tmux;
  /** CSP violations and script errors each page reported. */
  const problems: string[] = [];

  async function share(...args: string[]): Promise<{ id: string; link: string }> {
    const host = args[0] === "--host" ? args.splice(0, 2)[1] : "web-box";
    const r = await runCmdop(["connect", "share", host, "--json", ...args], { env });
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  }

  async function openPage(url: string): Promise<Page> {
    const context = await browser.newContext({
      viewport: { width: 1000, height: 600 },
      ignoreHTTPSErrors: true,
    });
    const page = await context.newPage();
    page.on("console", (message) => {
      if (message.type() === "error") problems.push(`console: ${message.text()}`);
    });
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    // Run in the page before its own scripts (as a string: this file is not type checked for the DOM).
    await page.addInitScript({
      content: `document.addEventListener("securitypolicyviolation", (event) =>
        console.error("CSP violation: " + event.violatedDirective + " " + event.blockedURI));`,
    });
    await page.goto(url);
    return page;
  }

  before(async () => {
    clock = await testClock();
    relay = await startRelay({ env: clock.env });
    ws = await relay.createWorkspace("web");
    env = await clientEnv(relay.url, ws.api_key);
    await startAgent(relay.url, ws.enroll_token, { hostname: "web-box" });
    await startAgent(relay.url, ws.enroll_token, {
      hostname: "locked-box",
      password: "open sesame",
    });
    scratch = await Deno.makeTempDir({ prefix: "cmdop-e2e-browser-" });
    certs = await Deno.makeTempDir({ prefix: "cmdop-certs-" });
    await makeCertificates(certs);
    await Deno.mkdir(`${scratch}/bin`);
    await Deno.writeTextFile(
      `${scratch}/bin/cmdop`,
      `#!/bin/sh\nexec "${Deno.execPath()}" run -A --quiet "${MAIN}" "$@"\n`,
      { mode: 0o755 },
    );
    owner = await Tmux.start({
      cols: 100,
      rows: 30,
      env: { ...env, TERM: "xterm-256color", PATH: `${scratch}/bin:/usr/bin:/bin` },
    });
    browser = await chromium.launch({
      executablePath: findProgram("chromium") ?? "/usr/bin/chromium",
      headless: true,
      // Chromium's sandbox refuses to run as root.
      args: Deno.uid() === 0 ? ["--no-sandbox"] : [],
    });
  });

  /** What the pages reported since the last look: no CSP violation, no script error, no failed load. */
  const noProblems = () => {
    const seen = problems.splice(0);
    assert.deepEqual(seen, [], "the page reported no CSP violation and no script error");
  };
  afterEach(() => problems.splice(0));

  after(async () => {
    await browser?.close();
    await owner?.kill();
    await Promise.all(proxies.map((proxy) => proxy.stop()));
    await killAll();
    if (scratch) await Deno.remove(scratch, { recursive: true });
    if (certs) await Deno.remove(certs, { recursive: true });
  });

  it("serves the page with a strict CSP, no inline script or style, and the link kept out of caches and Referer", async () => {
    const { link } = await share("--ttl", "1h");
    const token = /\/s\/(cms_\S+)$/.exec(link)![1];
    const html = await fetch(link, { headers: { accept: "text/html" } });
    const body = await html.text();
    assert.equal(html.status, 200);
    assert.equal(html.headers.get("content-type"), "text/html; charset=utf-8");
    const csp = html.headers.get("content-security-policy") ?? "";
    assert.match(
      csp,
      /^default-src 'none'; script-src 'self'; style-src 'self' 'nonce-[0-9a-f]{32}'; connect-src 'self'; img-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'$/,
    );
    assert.equal(html.headers.get("referrer-policy"), "no-referrer");
    assert.equal(html.headers.get("cache-control"), "no-store");
    assert.equal(html.headers.get("x-content-type-options"), "nosniff");
    // Every script is a file of the relay's; no inline script, handler or style attribute.
    const scripts = [...body.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    assert.ok(scripts.length > 0);
    for (const [, attributes, content] of scripts) {
      assert.match(attributes, /\bsrc="assets\/[a-z.-]+"/);
      assert.equal(content.trim(), "");
    }
    assert.doesNotMatch(body, /<style|\sstyle=|\son[a-z]+=|javascript:/i);
    assert.ok(!body.includes(token), "the page does not carry the token");
    // The CLI's and curl's view of the same address: a plain note, never the page.
    const plain = await fetch(link);
    assert.match(plain.headers.get("content-type") ?? "", /^text\/plain/);
    assert.match(await plain.text(), /cmdop share link/);
    const script = await fetch(new URL("assets/page.js", link));
    assert.equal(script.headers.get("content-type"), "text/javascript; charset=utf-8");
    assert.match(await script.text(), /HalfSession/);
    const css = await fetch(new URL("assets/xterm.css", link));
    assert.equal(css.headers.get("content-type"), "text/css; charset=utf-8");
    await css.body?.cancel();
    assert.equal((await fetch(new URL("assets/nope.js", link))).status, 404);
  });

  it("says on the page that the relay records the session when its workspace records", async () => {
    const recording = (state: string) =>
      runCmdop(["relay", "workspace", "recording", state, "web", "--data", relay.dataDir]);
    const on = await recording("on");
    assert.equal(on.code, 0, on.stderr);
    try {
      const { link } = await share("--ttl", "1h");
      const page = await openPage(link);
      assert.equal(
        await stateIs(page, "connected"),
        "connected to web-box · this session is recorded by the relay (input is not)",
      );
      assert.equal(await page.locator("body").getAttribute("data-recorded"), "true");
      noProblems();
      await page.context().close();
    } finally {
      const off = await recording("off");
      assert.equal(off.code, 0, off.stderr);
    }
  });

  it("types a command and sees its output, follows the window's size, and ends with the exit status", async () => {
    const { link } = await share("--ttl", "1h");
    const started = performance.now();
    const page = await openPage(link);
    const loadedMs = Math.round(performance.now() - started);
    assert.equal(await stateIs(page, "connected"), "connected to web-box");
    assert.equal(await page.locator("body").getAttribute("data-recorded"), "false");
    await screenShows(page, PROMPT, "the shell's prompt");
    const nonce = crypto.randomUUID().slice(0, 8);
    await page.keyboard.type(`echo hi-${nonce}-$((6*7))-marker\n`);
    await screenShows(page, new RegExp(`hi-${nonce}-42-marker`), "the command's output");
    const body = page.locator("body");
    const [readyMs, firstOutputMs] = await Promise.all([
      body.getAttribute("data-ready-ms"),
      body.getAttribute("data-first-output-ms"),
    ]);
    console.error(
      `share page: loaded in ${loadedMs} ms, session up at ${readyMs} ms, first output at ` +
        `${firstOutputMs} ms (the machine's login shell starting)`,
    );

    // The machine's pty has the page's terminal size, and follows the window.
    const first = (await page.locator("body").getAttribute("data-size"))!;
    await page.keyboard.type(remoteSize("SIZE1", first) + "\n");
    await screenShows(page, new RegExp(`SIZE1=${first}(?!\\d)`), "the first size");
    await page.setViewportSize({ width: 640, height: 360 });
    const second = await sizeChangedFrom(page, first);
    const [rows, cols] = second.split(" ").map(Number);
    assert.ok(rows > 5 && cols > 20 && second !== first, `${first} → ${second}`);
    await page.keyboard.type(remoteSize("SIZE2", second) + "\n");
    await screenShows(page, new RegExp(`SIZE2=${second}(?!\\d)`), "the new size");

    await page.keyboard.type("exit 5\n");
    assert.equal(await stateIs(page, "ended"), "session ended (exit 5)");
    noProblems();
    await page.context().close();
  });

  it("shows the owner's terminal through a read-only link, refusing the page's keys", async () => {
    const { link } = await share("--ttl", "1h", "--read-only");
    await owner.respawn();
    await owner.type("cmdop connect web-box; echo OWNER_EX''IT=$?");
    await owner.waitFor(/attached to "web-box"/);
    await owner.type("echo BEFORE-$((3*5))");
    await owner.waitFor(/^BEFORE-15\s*$/m);

    const page = await openPage(link);
    assert.match(
      await stateIs(page, "readonly"),
      /^read-only: watching a terminal on web-box; nothing typed is sent$/,
    );
    await screenShows(page, /BEFORE-15/, "what the terminal showed before");
    await owner.type("echo LIVE-$((4*5))");
    await screenShows(page, /LIVE-20/, "the owner's new output");

    const marker = join(scratch, "typed-in-the-browser");
    await page.locator("#terminal").click();
    await page.keyboard.type(`touch ${marker}\n`);
    await owner.type("echo AFTER-$((5*5))");
    await screenShows(page, /AFTER-25/, "output after the page's keys");
    await assert.rejects(Deno.stat(marker), "the page's keys reached the machine");
    assert.doesNotMatch(await owner.capture(), /typed-in-the-browser/);

    await owner.type("exit 4");
    await owner.waitFor(/^OWNER_EXIT=4\s*$/m);
    assert.equal(await stateIs(page, "ended"), "session ended (exit 4)");
    noProblems();
    await page.context().close();
  });

  it("asks for a machine's attach password in the page, and says when it is wrong", async () => {
    const { link } = await share("--host", "locked-box", "--ttl", "1h");
    const page = await openPage(link);
    assert.equal(await stateIs(page, "password"), "locked-box requires its attach password");
    await page.locator("#password-field").fill("not it");
    await page.locator("#password-field").press("Enter");
    assert.match(await stateIs(page, "refused"), /^refused: .*password/);
    // The wrong password's 401 is a failed load the console reports; nothing else may be.
    assert.deepEqual(problems.splice(0).filter((p) => !/status of 401/.test(p)), []);
    await page.reload();
    await stateIs(page, "password");
    await page.locator("#password-field").fill("open sesame");
    await page.locator("#password-field").press("Enter");
    assert.match(await stateIs(page, "connected"), /connected to locked-box/);
    await screenShows(page, PROMPT, "the shell's prompt");
    await page.keyboard.type("echo unlocked-$((10*10))\n");
    await screenShows(page, /unlocked-100/, "output on the unlocked machine");
    await page.keyboard.type("exit 0\n");
    assert.equal(await stateIs(page, "ended"), "session ended (exit 0)");
    noProblems();
    await page.context().close();
  });

  for (const [name, start] of Object.entries(PROXIES)) {
    it(`works through ${name} configured as docs/deploy.md says`, async () => {
      const proxy = await start(Number(new URL(relay.url).port), certs);
      proxies.push(proxy);
      const { link } = await share("--ttl", "1h");
      const page = await openPage(link.replace(relay.url, proxy.url));
      await stateIs(page, "connected");
      await screenShows(page, PROMPT, "the shell's prompt");
      await page.keyboard.type(`echo via-$((2*21))-${name}\n`);
      await screenShows(page, new RegExp(`via-42-${name}`), `output through ${name}`);
      const before = await page.locator("body").getAttribute("data-size");
      await page.setViewportSize({ width: 700, height: 400 });
      const size = await sizeChangedFrom(page, before);
      await page.keyboard.type(remoteSize("NSIZE", size) + "\n");
      await screenShows(page, new RegExp(`NSIZE=${size}(?!\\d)`), `the size through ${name}`);
      await page.keyboard.type("exit 0\n");
      assert.equal(await stateIs(page, "ended"), "session ended (exit 0)");
      noProblems();
      await page.context().close();
    });
  }

  it("refuses unknown, revoked and expired links with a page that says so, and ends an open page when its link expires", async () => {
    const unknown = await fetch(`${relay.url}/s/cms_${"x".repeat(43)}`, {
      headers: { accept: "text/html" },
    });
    assert.equal(unknown.status, 404);
    assert.match(await unknown.text(), /This share link is not valid/);

    const revoked = await share("--ttl", "1h");
    const r = await runCmdop(["connect", "share", "revoke", revoked.id], { env });
    assert.equal(r.code, 0, r.stderr);
    const gone = await openPage(revoked.link);
    assert.match(await gone.locator("h1").innerText(), /This share link has ended/);
    assert.match(await statusOf(gone), /share link was revoked/);
    // The 410 itself is reported as a failed load; nothing else may be.
    assert.deepEqual(problems.splice(0).filter((p) => !/status of 410/.test(p)), []);
    await gone.context().close();

    const expiring = await share("--ttl", "1h");
    const page = await openPage(expiring.link);
    await stateIs(page, "connected");
    await clock.advance(2 * HOUR_MS);
    assert.match(await stateIs(page, "lost"), /^disconnected: its share link expired at /);
    await page.reload();
    assert.match(await page.locator("h1").innerText(), /This share link has ended/);
    assert.match(await statusOf(page), /share link expired at/);
    const status = await fetch(expiring.link, { headers: { accept: "text/html" } });
    assert.equal(status.status, 410);
    await status.body?.cancel();
    await page.context().close();
  });
});
