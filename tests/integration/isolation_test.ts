/** Workspaces are isolated, and a relay restart brings agents back without an operator. */
import { after, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import {
  clientEnv,
  killAll,
  runCmdop,
  startAgent,
  startRelay,
  waitMachineOnline,
} from "../_harness.ts";

describe("workspace isolation", () => {
  after(killAll);

  it("a key of one workspace cannot see or reach another's machines", async () => {
    const relay = await startRelay();
    const a = await relay.createWorkspace("alpha");
    const b = await relay.createWorkspace("beta");
    await startAgent(relay.url, a.enroll_token, { hostname: "alpha-box" });
    const envA = await clientEnv(relay.url, a.api_key);
    const envB = await clientEnv(relay.url, b.api_key);
    const listA = JSON.parse(
      (await runCmdop(["connect", "--list", "--json"], { env: envA })).stdout,
    );
    assert.equal(listA.length, 1);
    const listB = JSON.parse(
      (await runCmdop(["connect", "--list", "--json"], { env: envB })).stdout,
    );
    assert.deepEqual(listB, []);
    const byName = await runCmdop(["connect", "exec", "alpha-box", "--", "true"], { env: envB });
    assert.equal(byName.code, 1);
    const byId = await runCmdop(["connect", "exec", listA[0].id, "--", "true"], { env: envB });
    assert.equal(byId.code, 1);
    assert.match(byId.stderr, /no machine with id/);
    await relay.stop();
  });

  it("refuses a second workspace with the same name", async () => {
    const relay = await startRelay();
    await relay.createWorkspace("gamma");
    const again = await runCmdop([
      "relay",
      "workspace",
      "create",
      "gamma",
      "--data",
      relay.dataDir,
    ]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /workspace "gamma" already exists/);
    await relay.stop();
  });
});

describe("relay restart", () => {
  after(killAll);

  it("brings the agent back online and the next exec works", async () => {
    const relay = await startRelay();
    const ws = await relay.createWorkspace("restart");
    await startAgent(relay.url, ws.enroll_token, { hostname: "phoenix" });
    const env = await clientEnv(relay.url, ws.api_key);
    assert.equal((await runCmdop(["connect", "exec", "phoenix", "--", "true"], { env })).code, 0);

    await relay.kill();
    const listen = new URL(relay.url).host;
    const reborn = await startRelay({ dataDir: relay.dataDir, listen });
    await waitMachineOnline(reborn.url, ws.api_key, "phoenix", true, 20_000);
    const r = await runCmdop(["connect", "exec", "phoenix", "--", "echo", "back"], { env });
    assert.equal(r.stdout, "back\n");
    assert.equal(r.code, 0);
    await reborn.stop();
  });
});
