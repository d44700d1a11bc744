/** The relay behind nginx and haproxy with TLS, each set up with its snippet from docs/deploy.md: presence, 200 MB exec intact, attach echo, an idle attach kept for 2 minutes. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import {
  type AgentProcess,
  clientEnv,
  killAll,
  MAIN,
  type RelayProcess,
  runCmdop,
  spawnCli,
  startAgent,
  startRelay,
  waitFor,
  waitMachineOnline,
  type Workspace,
} from "../_harness.ts";
import { makeCertificates } from "../_tls.ts";
import { startInTmux } from "../cluster/_tmux.ts";
import { needTools } from "../_tools.ts";
import { type ProxyProcess, startCaddy, startHaproxyTls, startNginx } from "./_proxies.ts";

const skip = await needTools("reverse proxies", ["nginx", "haproxy", "caddy", "openssl", "tmux"]);
const BULK_BYTES = 200_000_000;
/** How long an attach sits idle: longer than every default proxy timeout we know (nginx 60 s, haproxy 50 s). */
const IDLE_MS = 125_000;

/** nginx reaches the relay from this loopback alias, which the relay trusts (--trusted-proxy). */
const NGINX_SOURCE = "127.0.0.2";
const STARTERS = {
  nginx: (relayPort: number, certs: string) =>
    startNginx(relayPort, certs, [], { bindFrom: NGINX_SOURCE }),
  haproxy: startHaproxyTls,
  caddy: startCaddy,
};
type ProxyName = keyof typeof STARTERS;
const NAMES = Object.keys(STARTERS) as ProxyName[];

/** Runs `exec` through the CLI and hashes stdout as it streams: 200 MB never sits in memory. */
async function execDigest(
  env: Record<string, string>,
  host: string,
  argv: string[],
): Promise<{ code: number; bytes: number; sha256: string; stderr: string }> {
  // A busy test machine may carry it at a few MB/s: far past exec's 30 s default.
  const child = spawnCli(["connect", "exec", host, "--timeout", "900", "--", ...argv], env);
  const hash = createHash("sha256");
  let bytes = 0;
  const stderr = new Response(child.stderr).text();
  for await (const chunk of child.stdout) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  const { code } = await child.status;
  return { code, bytes, sha256: hash.digest("hex"), stderr: await stderr };
}

describe("the relay behind reverse proxies with TLS", { skip }, () => {
  let certs: string;
  let relay: RelayProcess;
  let ws: Workspace;
  let bulkFile: string;
  let bulkSha256: string;
  const proxies = {} as Record<ProxyName, ProxyProcess>;
  const agents = {} as Record<ProxyName, AgentProcess>;
  const envs = {} as Record<ProxyName, Record<string, string>>;
  const idlePanes = {} as Record<ProxyName, Awaited<ReturnType<typeof startInTmux>>>;
  let idleSince = 0;

  before(async () => {
    certs = await Deno.makeTempDir({ prefix: "cmdop-certs-" });
    await makeCertificates(certs);
    relay = await startRelay({ extraArgs: ["--trusted-proxy", NGINX_SOURCE] });
    ws = await relay.createWorkspace("behind");
    const relayPort = Number(new URL(relay.url).port);
    for (const name of NAMES) {
      proxies[name] = await STARTERS[name](relayPort, certs);
      envs[name] = {
        ...(await clientEnv(proxies[name].url, ws.api_key)),
        CMDOP_CA_FILE: join(certs, "ca.pem"),
      };
    }
    await Promise.all(NAMES.map(async (name) => {
      agents[name] = await startAgent(proxies[name].url, ws.enroll_token, {
        hostname: `via-${name}`,
        caFile: join(certs, "ca.pem"),
      });
    }));
    // An attach through each, echoed once and then left idle while the other tests run: its idle
    // 2 minutes (the last test) overlap the 200 MB transfers instead of adding to them.
    await Promise.all(NAMES.map(async (name) => {
      const pane = await startInTmux(
        [Deno.execPath(), "run", "-A", "--quiet", MAIN, "connect", `via-${name}`],
        { ...envs[name], NO_COLOR: "1", TERM: "xterm-256color", PS1: "$ " },
      );
      idlePanes[name] = pane;
      await pane.sendKeys("echo $((6 * 7))-first", "Enter");
      await pane.waitForScreen(/^42-first\s*$/m, 60_000);
    }));
    idleSince = Date.now();
    // Random bytes, so that a lost, repeated or reordered block changes the digest.
    bulkFile = join(certs, "bulk.bin");
    const file = await Deno.open(bulkFile, { write: true, create: true });
    const hash = createHash("sha256");
    const block = new Uint8Array(1 << 20);
    for (let left = BULK_BYTES; left > 0; left -= block.length) {
      const part = block.subarray(0, Math.min(left, block.length));
      for (let i = 0; i < part.length; i += 65536) {
        crypto.getRandomValues(part.subarray(i, i + 65536));
      }
      hash.update(part);
      await file.write(part);
    }
    file.close();
    bulkSha256 = hash.digest("hex");
  });
  after(async () => {
    await Promise.all(Object.values(idlePanes).map((pane) => pane.kill().catch(() => {})));
    await killAll();
    await Promise.all(NAMES.map((name) => proxies[name]?.stop()));
    await Deno.remove(certs, { recursive: true }).catch(() => {});
  });

  for (const name of NAMES) {
    it(`${name}: agents behind it are online, and shown offline once they stop`, async () => {
      const { api_key } = ws;
      await waitMachineOnline(relay.url, api_key, `via-${name}`, true, 30_000);
      const gone = await startAgent(proxies[name].url, ws.enroll_token, {
        hostname: `gone-${name}`,
        caFile: join(certs, "ca.pem"),
      });
      await waitMachineOnline(relay.url, api_key, `gone-${name}`, true, 30_000);
      await gone.stop();
      await waitMachineOnline(relay.url, api_key, `gone-${name}`, false, 30_000);
    });

    it(`${name}: exec of 200 MB arrives whole, with the right sha256`, {
      timeoutMs: 600_000,
    }, async () => {
      const r = await execDigest(envs[name], `via-${name}`, ["cat", bulkFile]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.bytes, BULK_BYTES, r.stderr);
      assert.equal(r.sha256, bulkSha256);
    });
  }

  it("the audit log names the client behind nginx (trusted, X-Forwarded-For), not nginx", async () => {
    const r = await runCmdop(["connect", "exec", "via-nginx", "--", "true"], { env: envs.nginx });
    assert.equal(r.code, 0, r.stderr);
    let starts: { peer: string; machine: string }[] = [];
    await waitFor("the exec's session.start event", async () => {
      const audit = await runCmdop(["connect", "audit", "--json"], { env: envs.nginx });
      starts = audit.stdout.split("\n").filter((l) => l).map((l) => JSON.parse(l))
        .filter((e) => e.kind === "session.start" && e.machine === "via-nginx");
      return starts.length > 0;
    });
    // nginx connected from 127.0.0.2 and appended the client's 127.0.0.1 to X-Forwarded-For
    // (this exec's session and the earlier tests' through nginx).
    assert.deepEqual([...new Set(starts.map((e) => e.peer))], ["127.0.0.1"]);
    assert.match(
      relay.stderr(),
      new RegExp(`client addresses from X-Forwarded-For of ${NGINX_SOURCE}`),
    );
  });

  it("nginx with its default proxy_buffering on still streams exec output (X-Accel-Buffering: no)", async () => {
    const buffering = await startNginx(
      Number(new URL(relay.url).port),
      certs,
      ["proxy_buffering off;"],
    );
    try {
      const env = { ...envs.nginx, CMDOP_SERVER: buffering.url };
      const child = spawnCli([
        "connect",
        "exec",
        "via-nginx",
        "--",
        "sh",
        "-c",
        "echo first; sleep 8; echo second",
      ], env);
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      while (!text.includes("first")) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
      }
      const firstAt = performance.now();
      assert.equal(text, "first\n");
      for (let next = await reader.read(); !next.done; next = await reader.read()) {
        text += next.value;
      }
      assert.equal(text, "first\nsecond\n");
      assert.equal((await child.status).code, 0);
      // "first" was out while the command still slept: nothing held it back until the end.
      const heldMs = performance.now() - firstAt;
      assert.ok(heldMs > 4_000, `"first" came only ${Math.round(heldMs)} ms before the end`);
    } finally {
      await buffering.stop();
    }
  });

  it("attach echoes through each, and an attach left idle for 2 minutes still works", {
    timeoutMs: 600_000,
  }, async () => {
    // The attaches went idle before the tests above ran (see before); what is left of the 2 minutes.
    await new Promise((r) => setTimeout(r, Math.max(0, idleSince + IDLE_MS - Date.now())));
    await Promise.all(NAMES.map(async (name) => {
      const pane = idlePanes[name];
      try {
        await pane.sendKeys("echo $((6 * 8))-after-idle", "Enter");
        await pane.waitForScreen(/^48-after-idle\s*$/m, 60_000).catch((error) => {
          throw new Error(`${name}: ${error.message}\nproxy log:\n${proxies[name].log()}`);
        });
        await pane.sendKeys("exit 4", "Enter");
        assert.equal(await pane.exitStatus(30_000), 4);
      } finally {
        await pane.kill();
      }
      // The agent's control stream outlived the idle time too: it never had to reconnect.
      const onlines = agents[name].stderr().match(/online as machine/g) ?? [];
      assert.equal(onlines.length, 1, `${name}: agent log:\n${agents[name].stderr()}`);
    }));
  });
});
