/**
 * The client's address behind a reverse proxy (`relay serve --trusted-proxy`): a trusted proxy's
 * X-Forwarded-For names the client for the audit log and the per-source password lock-out; the
 * same header from anyone else is ignored. Requests come from 127.0.0.1 and 127.0.0.2 (curl
 * `--interface`), the "proxy" being 127.0.0.2.
 */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import {
  clientEnv,
  killAll,
  type RelayProcess,
  runCmdop,
  startAgent,
  startRelay,
  waitFor,
  type Workspace,
} from "../_harness.ts";
import { needTools } from "../_tools.ts";

const PASSWORD = "proxy-pass-5";
const PROXY = "127.0.0.2";

const skip = await needTools("the client's address behind a proxy", ["curl"]);

describe("the client's address behind a trusted proxy", { skip }, () => {
  let relay: RelayProcess;
  let ws: Workspace;
  let env: Record<string, string>;
  let machineId: string;

  before(async () => {
    relay = await startRelay({ extraArgs: ["--trusted-proxy", `${PROXY}/32`] });
    ws = await relay.createWorkspace("acme");
    env = await clientEnv(relay.url, ws.api_key);
    await startAgent(relay.url, ws.enroll_token, { hostname: "pw-box", password: PASSWORD });
    const list = await runCmdop(["connect", "--list", "--json"], { env });
    assert.equal(list.code, 0, list.stderr);
    machineId = (JSON.parse(list.stdout) as { id: string; hostname: string }[])
      .find((m) => m.hostname === "pw-box")!.id;
  });

  after(killAll);

  /** An UnlockMachine call (Connect, JSON) from `from`, with X-Forwarded-For when given. */
  async function unlock(from: string, password: string, forwardedFor?: string) {
    const args = [
      "-sS",
      "--interface",
      from,
      "-H",
      "content-type: application/json",
      "-H",
      `authorization: Bearer ${ws.api_key}`,
      ...(forwardedFor === undefined ? [] : ["-H", `x-forwarded-for: ${forwardedFor}`]),
      "--data",
      JSON.stringify({ machineId, password }),
      `${relay.url}/cmdop.v1.MachineService/UnlockMachine`,
    ];
    const out = await new Deno.Command("curl", { args, stdout: "piped", stderr: "piped" }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    return JSON.parse(new TextDecoder().decode(out.stdout)) as { code?: string; message?: string };
  }

  /** The peers of password.failed events, oldest first. */
  async function failedPeers(): Promise<string[]> {
    const r = await runCmdop(["connect", "audit", "--json"], { env });
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.split("\n").filter((l) => l).map((l) => JSON.parse(l))
      .filter((e) => e.kind === "password.failed").map((e) => e.peer as string);
  }

  it("takes the client from a trusted proxy's X-Forwarded-For, and ignores it from anyone else", async () => {
    // The client wrote 6.6.6.6 itself; the proxy appended the address it accepted: that one.
    assert.equal((await unlock(PROXY, "wrong", "6.6.6.6, 198.51.100.4")).code, "unauthenticated");
    // Straight to the relay, the header is the client's own word: its TCP address counts.
    assert.equal((await unlock("127.0.0.1", "wrong", "198.51.100.9")).code, "unauthenticated");
    // A trusted proxy that forwards no header is the client itself.
    assert.equal((await unlock(PROXY, "wrong")).code, "unauthenticated");
    await waitFor("three password.failed events", async () => (await failedPeers()).length >= 3);
    assert.deepEqual(await failedPeers(), ["198.51.100.4", "127.0.0.1", PROXY]);
  });

  it("locks out one client behind the proxy, not every client behind it", async () => {
    // 198.51.100.4 has one failure already; three more lock it out (three are free).
    for (let i = 0; i < 3; i++) await unlock(PROXY, `wrong-${i}`, "198.51.100.4");
    const locked = await unlock(PROXY, PASSWORD, "198.51.100.4");
    assert.equal(locked.code, "resource_exhausted", JSON.stringify(locked));
    assert.match(locked.message ?? "", /too many wrong passwords/);
    // Another client through the same proxy still gets in.
    const other = await unlock(PROXY, PASSWORD, "198.51.100.77");
    assert.equal(other.code, undefined, JSON.stringify(other));
  });

  it("refuses a --trusted-proxy that is not an address or range, naming it", async () => {
    const r = await runCmdop([
      "relay",
      "serve",
      "--listen",
      "127.0.0.1:0",
      "--data",
      await Deno.makeTempDir(),
      "--trusted-proxy",
      "proxy.internal",
    ]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /error: --trusted-proxy: trusted proxy "proxy\.internal" is not an IP address or CIDR range/,
    );
    assert.match(r.stderr, /hint: give the address the reverse proxy connects to the relay from/);
  });
});
