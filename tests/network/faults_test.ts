/** Real network faults between CLI, relay and agent, each in its own network namespace: latency, a slow link, blackholes of either side (an exec resumed across them). */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import { createWorkspace, waitFor } from "../_harness.ts";
import { needTools } from "../_tools.ts";
import {
  ADDR,
  createTopology,
  namespacesUnavailable,
  type NsProcess,
  type Topology,
} from "./_netns.ts";

const MB = 1_000_000;
/** The exec's size: 50 MB, as the fault cases ask, unless `CMDOP_TEST_FAULT_MB` says. */
const EXEC_MB = Number(Deno.env.get("CMDOP_TEST_FAULT_MB") ?? "50");
/** The exec cut by a blackhole: 100 MB, as resuming asks, unless `CMDOP_TEST_RESUME_MB` says. */
const RESUME_MB = Number(Deno.env.get("CMDOP_TEST_RESUME_MB") ?? "100");
/** On the 1 Mbit/s link 50 MB would take 7 minutes: 2 MB (~17 s) unless `CMDOP_TEST_SLOW_LINK_MB` says. */
const SLOW_LINK_MB = Number(Deno.env.get("CMDOP_TEST_SLOW_LINK_MB") ?? "2");
const BLACKHOLE_MS = 20_000;
/** Latency added by the delaying relay, each way. */
const DELAY_MS = 50;
/** After a fault, the agent reconnects within this: its welcome timeout (15 s) and backoff cap (10 s), and slack. */
const BACK_ONLINE_WITHIN_MS = 45_000;
const RELAY_PORT = 4780;
const AGENT_DELAY_PORT = 4781;
const CLI_DELAY_PORT = 4782;
const DELAY_PROXY = new URL("./_delay_proxy.ts", import.meta.url).pathname;

// tc comes with ip (iproute2).
const missingTools = await needTools("network fault tests", ["ip", "nft"]);
const noNamespaces = missingTools ?? await namespacesUnavailable();
if (noNamespaces && !missingTools) {
  if (Deno.env.get("CI") === "true") {
    throw new Error(`network fault tests cannot make network namespaces: ${noNamespaces}`);
  }
  const bar = "!".repeat(72);
  console.error(`\n${bar}\n!! network fault tests SKIPPED: ${noNamespaces}\n${bar}\n`);
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** An exec's outcome: the right bytes, or a failure that says what happened. */
function judge(
  what: string,
  result: { code: number; stdout: Uint8Array; stderr: string },
  wantSha: string,
  gotSha: string,
  logs: () => string,
): "intact" | "failed clearly" {
  if (result.code === 0) {
    assert.equal(
      gotSha,
      wantSha,
      `${what}: exit 0 but the output differs (${result.stdout.length} bytes)`,
    );
    return "intact";
  }
  assert.match(
    result.stderr,
    /stopped answering|lost the connection|is offline/,
    `${what}: exit ${result.code} without a clear error: ${result.stderr}${logs()}`,
  );
  return "failed clearly";
}

describe("network faults between namespaces", { skip: noNamespaces }, () => {
  let net: Topology;
  let env: Record<string, string>;
  let relay: NsProcess;
  const agents: NsProcess[] = [];
  const proxies: NsProcess[] = [];
  const files: Record<string, { path: string; sha: string }> = {};
  const relayUrl = `http://${ADDR.relay}:${RELAY_PORT}`;

  /** The last lines the relay and the agents logged, for failure messages. */
  function tails(): string {
    const tail = (name: string, p: NsProcess) =>
      `\n--- ${name}:\n${p.stderr().trimEnd().split("\n").slice(-12).join("\n")}`;
    return tail("relay", relay) + agents.map((a, i) => tail(`agent ${i}`, a)).join("");
  }

  /** Starts an agent in the agent namespace, dialling `server`. */
  async function startAgentIn(hostname: string, server: string, enrollToken: string) {
    const state = await Deno.makeTempDir({ prefix: "cmdop-agent-" });
    const agent = net.spawnCmdop("agent", [
      "agent",
      "run",
      "--server",
      server,
      "--enroll-token",
      enrollToken,
      "--state",
      state,
      "--hostname",
      hostname,
    ]);
    agents.push(agent);
    await waitFor(
      `agent ${hostname} online`,
      () => /online as machine/.test(agent.stderr()),
      30_000,
    );
    return agent;
  }

  let lastList = "";

  /** Whether the relay lists the machine online, asked from the CLI's namespace. */
  async function online(hostname: string): Promise<boolean> {
    const r = await net.cmdop("cli", ["connect", "--list", "--json"], env);
    lastList = `exit ${r.code}: ${new TextDecoder().decode(r.stdout)}${r.stderr}`;
    if (r.code !== 0) return false;
    const list = JSON.parse(new TextDecoder().decode(r.stdout)) as {
      hostname: string;
      online: boolean;
    }[];
    return list.some((m) => m.hostname === hostname && m.online);
  }

  /** Runs `cat FILE` on the machine, slowly (1 MB every `pauseS` s) when asked, and returns the judged outcome. */
  async function catFile(
    host: string,
    file: { path: string; sha: string },
    server: string,
    pauseS = 0,
    onStdout?: (bytes: number) => void,
  ) {
    const argv = pauseS > 0
      ? [
        "sh",
        "-c",
        `i=0; n=$(( $(wc -c <${file.path}) / ${MB} )); while [ $i -lt $n ]; do ` +
        `dd if=${file.path} bs=${MB} skip=$i count=1 2>/dev/null; i=$((i+1)); sleep ${pauseS}; done`,
      ]
      : ["cat", file.path];
    const started = Date.now();
    const result = await net.cmdop("cli", [
      "connect",
      "exec",
      host,
      "--timeout",
      "0",
      "--",
      ...argv,
    ], {
      ...env,
      CMDOP_SERVER: server,
    }, onStdout);
    const took = Date.now() - started;
    return { result, took, sha: await sha256(result.stdout) };
  }

  before(async () => {
    net = await createTopology();
    const sizes = [["big", EXEC_MB], ["small", SLOW_LINK_MB], ["resume", RESUME_MB]] as const;
    for (const [name, mb] of sizes) {
      const path = await Deno.makeTempFile({ prefix: `cmdop-fault-${name}-` });
      const data = new Uint8Array(mb * MB);
      for (let at = 0; at < data.length; at += 65_536) {
        crypto.getRandomValues(data.subarray(at, at + 65_536));
      }
      await Deno.writeFile(path, data);
      files[name] = { path, sha: await sha256(data) };
    }
    const dataDir = await Deno.makeTempDir({ prefix: "cmdop-relay-" });
    relay = net.spawnCmdop("relay", [
      "relay",
      "serve",
      "--listen",
      `${ADDR.relay}:${RELAY_PORT}`,
      "--data",
      dataDir,
    ]);
    await waitFor("the relay to listen", () => /listening on/.test(relay.stderr()), 30_000);
    const ws = await createWorkspace(dataDir, "faults");
    env = {
      CMDOP_SERVER: relayUrl,
      CMDOP_API_KEY: ws.api_key,
      CMDOP_HOME: await Deno.makeTempDir({ prefix: "cmdop-home-" }),
    };
    // web-1 dials the relay directly; web-far through a relay that delays every byte, as the CLI can.
    for (const port of [AGENT_DELAY_PORT, CLI_DELAY_PORT]) {
      const proxy = net.spawnScript("relay", DELAY_PROXY, [
        `${ADDR.relay}:${port}`,
        `${ADDR.relay}:${RELAY_PORT}`,
        String(DELAY_MS),
      ]);
      proxies.push(proxy);
      await waitFor("the delaying relay", () => /delaying/.test(proxy.stderr()), 30_000);
    }
    await startAgentIn("web-1", relayUrl, ws.enroll_token);
    await startAgentIn("web-far", `http://${ADDR.relay}:${AGENT_DELAY_PORT}`, ws.enroll_token);
  }, 240_000);

  after(async () => {
    for (const agent of [...agents, ...proxies]) await agent.kill();
    await relay?.kill();
    await net?.destroy();
    for (const file of Object.values(files)) await Deno.remove(file.path).catch(() => {});
  });

  it(`carries a ${EXEC_MB} MB exec over links with ${DELAY_MS} ms added each way`, async () => {
    const { result, took, sha } = await catFile(
      "web-far",
      files.big,
      `http://${ADDR.relay}:${CLI_DELAY_PORT}`,
    );
    console.log(`latency: ${EXEC_MB} MB in ${took} ms, exit ${result.code}`);
    assert.equal(
      judge("latency", result, files.big.sha, sha, tails),
      "intact",
      result.stderr + tails(),
    );
  });

  it(`carries a ${SLOW_LINK_MB} MB exec over a 1 Mbit/s agent link`, {
    timeoutMs: 120_000 + SLOW_LINK_MB * 20_000,
  }, async () => {
    const unlimit = await net.limitAgentLink("1mbit");
    try {
      const { result, took, sha } = await catFile("web-1", files.small, relayUrl);
      console.log(`1 Mbit/s: ${SLOW_LINK_MB} MB in ${took} ms, exit ${result.code}`);
      assert.equal(
        judge("1 Mbit/s", result, files.small.sha, sha, tails),
        "intact",
        result.stderr + tails(),
      );
    } finally {
      await unlimit();
    }
    assert.ok(await online("web-1"), "web-1 went offline on a slow link");
  });

  for (const side of ["agent", "cli"] as const) {
    it(
      `resumes a ${RESUME_MB} MB exec across a ${
        BLACKHOLE_MS / 1000
      } s blackhole of the ${side}'s link: every byte once, exit 0`,
      { timeoutMs: 300_000 },
      async () => {
        // Cut once output flows: 1 MB every 0.2 s, so the cut lands mid-stream.
        let received = 0;
        const exec = catFile("web-1", files.resume, relayUrl, 0.2, (bytes) => received = bytes);
        await waitFor("output to flow", () => received >= 2 * MB, 60_000);
        const restore = await net.blackhole(side);
        const cut = Date.now();
        let restored = false;
        const ending = (async () => {
          await new Promise((r) => setTimeout(r, BLACKHOLE_MS));
          await restore();
          restored = true;
        })();
        try {
          const { result, sha } = await exec;
          const endedAfter = Date.now() - cut;
          console.log(
            `${side} blackhole: exec ended ${endedAfter} ms after the cut, exit ${result.code}; ` +
              result.stderr.trim().split("\n").join(" | "),
          );
          // The command ran on, kept by the agent; the client resumed it where it stopped.
          assert.equal(
            judge(`${side} blackhole`, result, files.resume.sha, sha, tails),
            "intact",
            result.stderr + tails(),
          );
          assert.match(result.stderr, /resumed the command on "web-1"/);
        } finally {
          await ending;
        }
        assert.ok(restored);
        const healed = Date.now();
        await waitFor("web-1 to be online again", () => online("web-1"), BACK_ONLINE_WITHIN_MS)
          .catch((error) => {
            throw new Error(`${error.message}; the list said ${lastList}${tails()}`);
          });
        console.log(
          `${side} blackhole: web-1 online ${Date.now() - healed} ms after the link came back`,
        );
        const again = await net.cmdop(
          "cli",
          ["connect", "exec", "web-1", "--", "echo", "back"],
          env,
        );
        assert.equal(new TextDecoder().decode(again.stdout), "back\n", again.stderr);
      },
    );
  }
});
