/** `relay serve` refuses a backend it cannot use with one line naming it, opens nothing, and listens on nothing. */
import { describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import { runCmdop } from "../_harness.ts";

/** Runs `relay serve` on a free loopback port with `args`; it must refuse and exit by itself. */
async function refusedServe(args: string[], env: Record<string, string> = {}) {
  // A relay that took the flags would serve until stopped: 30 s is ample for a refusal.
  const r = await runCmdop(["relay", "serve", "--listen", "127.0.0.1:0", ...args], {
    env,
    timeoutMs: 30_000,
  });
  assert.equal(r.code, 1, `relay serve should have refused: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /listening on/);
  assert.doesNotMatch(r.stderr, /^\s+at /m, "a stack trace instead of a message");
  return r.stderr;
}

describe("relay serve backends", () => {
  it("refuses --bus without a PostgreSQL store", async () => {
    const data = await Deno.makeTempDir({ prefix: "cmdop-relay-" });
    const stderr = await refusedServe(["--data", data, "--bus", "nats://127.0.0.1:4222"]);
    assert.match(stderr, /^error: --bus needs --store postgres:\/\/…\n/m);
    assert.match(stderr, /hint: cluster nodes share their state/);
  });

  it("names a store URL that is not PostgreSQL, with its password hidden", async () => {
    const stderr = await refusedServe(["--store", "mysql://cmdop:s3cret@db/cmdop"]);
    assert.match(
      stderr,
      /^error: store "mysql:\/\/cmdop:\*\*\*@db\/cmdop" is not a postgres:\/\/ URL/m,
    );
    assert.doesNotMatch(stderr, /s3cret/);
  });

  it("takes the store URL from CMDOP_RELAY_STORE when --store is absent", async () => {
    const stderr = await refusedServe([], { CMDOP_RELAY_STORE: "sqlite:///tmp/x" });
    assert.match(stderr, /^error: store "sqlite:\/\/\/tmp\/x" is not a postgres:\/\/ URL/m);
  });

  it("refuses a data folder whose relay.db is a symbolic link, and leaves its target alone", async () => {
    const data = await Deno.makeTempDir({ prefix: "cmdop-relay-" });
    const target = await Deno.makeTempFile({ prefix: "cmdop-elsewhere-" });
    await Deno.symlink(target, `${data}/relay.db`);
    const stderr = await refusedServe(["--data", data]);
    assert.match(stderr, new RegExp(`^error: .*${data}/relay\\.db.* is a symbolic link`, "m"));
    assert.equal((await Deno.stat(target)).size, 0, "the link's target was written");
  });
});
