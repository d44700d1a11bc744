/** Network errors name the URL or address that was tried, where it came from, and a fix. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import { killAll, MAIN, type RelayProcess, runCmdop, startRelay } from "../_harness.ts";
import { needTools } from "../_tools.ts";

const noUnshare = await needTools("a relay host name that does not resolve", ["unshare"]);

let relay: RelayProcess;
let apiKey: string;
let home: string;

/** A loopback port nothing listens on: bound, read, released. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

describe("network errors", () => {
  before(async () => {
    relay = await startRelay();
    apiKey = (await relay.createWorkspace("errors")).api_key;
    home = await Deno.makeTempDir({ prefix: "cmdop-home-" });
  });
  after(killAll);

  it("says no relay is configured, and how to configure one, instead of using a default", async () => {
    const r = await runCmdop(["connect", "--list", "-k", apiKey], { env: { CMDOP_HOME: home } });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^error: no relay server configured\n/);
    assert.match(r.stderr, /hint: pass --server URL, set CMDOP_SERVER, .*cmdop login --server URL/);
  });

  it("names the address and its source when nothing listens there", async () => {
    const url = `http://127.0.0.1:${closedPort()}`;
    const r = await runCmdop(["connect", "--list", "-k", apiKey], {
      env: { CMDOP_HOME: home, CMDOP_SERVER: url },
    });
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      new RegExp(
        `^error: cannot reach the relay at ${url} \\(CMDOP_SERVER environment variable\\)`,
        "m", // after the warning that -k puts a key on the command line
      ),
    );
    assert.match(r.stderr, /hint: nothing is listening on 127\.0\.0\.1:\d+: start the relay/);
  });

  it("tells https:// to a plain-HTTP relay apart, for a server and for a share link", async () => {
    const https = relay.url.replace("http:", "https:");
    const listed = await runCmdop(["connect", "--list", "-k", apiKey, "-s", https], {
      env: { CMDOP_HOME: home },
    });
    assert.equal(listed.code, 1);
    assert.match(
      listed.stderr,
      new RegExp(`cannot reach the relay at ${https} \\(--server flag\\)`),
    );
    assert.match(listed.stderr, new RegExp(`hint: .*plain HTTP.*try ${relay.url}`));
    const linked = await runCmdop(["connect", "exec", `${https}/s/cms_abc`, "--", "true"], {
      env: { CMDOP_HOME: home },
    });
    assert.equal(linked.code, 1);
    assert.match(linked.stderr, new RegExp(`cannot reach the relay at ${https} \\(share link\\)`));
    assert.match(linked.stderr, /hint: .*plain HTTP/);
  });

  it("says a URL with an extra path answered 404 and is not the relay's base URL", async () => {
    const url = `${relay.url}/extra/path`;
    const r = await runCmdop(["connect", "--list", "-k", apiKey, "-s", url], {
      env: { CMDOP_HOME: home },
    });
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      new RegExp(`^error: the server at ${url} \\(--server flag\\) answered HTTP 404`, "m"),
    );
    assert.match(r.stderr, /hint: that URL is not a cmdop relay: give the relay's base URL/);
  });

  it("names a host name that does not resolve (in a network namespace of its own)", {
    skip: noUnshare,
  }, async () => {
    // No network at all in the namespace: the lookup fails without leaving this machine.
    const out = await new Deno.Command("unshare", {
      args: ["-rn", Deno.execPath(), "run", "-A", "--quiet", MAIN, "connect", "--list"],
      env: { CMDOP_HOME: home, CMDOP_API_KEY: apiKey, CMDOP_SERVER: "nonsense", NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 1, stderr);
    // After the warning that the key would go to a plain-http relay off this machine.
    assert.match(stderr, /^error: cannot reach the relay at http:\/\/nonsense \(CMDOP_SERVER/m);
    assert.match(stderr, /hint: "nonsense" does not resolve: check the host name/);
  });

  it("names the address relay serve cannot listen on", async () => {
    const listen = new URL(relay.url).host;
    const data = await Deno.makeTempDir({ prefix: "cmdop-relay-" });
    const r = await runCmdop(["relay", "serve", "--listen", listen, "--data", data]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      new RegExp(`error: cannot listen on ${listen}: the address is already in use`),
    );
    assert.match(r.stderr, /hint: .*choose another with --listen HOST:PORT/);
  });
});
