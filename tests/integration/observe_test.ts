/** The relay's operator surface: /healthz, /readyz, Prometheus /metrics read by a real text-format parser, JSON logs with an access line per RPC. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
// @ts-types="./_prometheus_text.d.ts"
import parsePrometheus from "parse-prometheus-text-format";
import {
  type AgentProcess,
  clientEnv,
  killAll,
  type RelayProcess,
  runCmdop,
  spawnCli,
  startAgent,
  startRelay,
  waitFor,
  type Workspace,
} from "../_harness.ts";

interface Family {
  name: string;
  type: string;
  metrics: { value?: string; labels?: Record<string, string>; count?: string }[];
}

/**
 * The page as parse-prometheus-text-format reads it. That parser folds a histogram's
 * labelled series into one (it keeps only `le`), so each histogram's `_count` series is
 * also parsed on its own, as a counter family named `NAME_count`.
 */
async function scrape(relay: RelayProcess): Promise<Map<string, Family>> {
  const response = await fetch(`${relay.url}/metrics`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  const text = await response.text();
  const families = parsePrometheus(text) as Family[];
  for (const histogram of families.filter((f) => f.type === "HISTOGRAM")) {
    const counts = text.split("\n").filter((l) => l.startsWith(`${histogram.name}_count`));
    const page = `# TYPE ${histogram.name}_count counter\n${counts.join("\n")}\n`;
    families.push(...parsePrometheus(page) as Family[]);
  }
  return new Map(families.map((f) => [f.name, f]));
}

function value(families: Map<string, Family>, name: string, labels: Record<string, string> = {}) {
  const family = families.get(name);
  assert.ok(family, `metric ${name} is exported`);
  const sample = family.metrics.find((m) =>
    Object.entries(labels).every(([k, v]) => m.labels?.[k] === v)
  );
  return Number(sample?.value ?? 0);
}

/** Every line but the command contract's plain `listening on URL`. */
function jsonLines(text: string): Record<string, unknown>[] {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  assert.match(lines[0], /^listening on http:\/\/\S+$/);
  return lines.slice(1).map((line) => {
    try {
      return JSON.parse(line);
    } catch {
      throw new Error(`relay log line is not JSON: ${line}`);
    }
  });
}

describe("relay health, metrics and logs", () => {
  let relay: RelayProcess;
  let ws: Workspace;
  let env: Record<string, string>;
  let agent: AgentProcess;

  before(async () => {
    relay = await startRelay({ extraArgs: ["--log-format", "json"] });
    ws = await relay.createWorkspace("acme");
    env = await clientEnv(relay.url, ws.api_key);
    agent = await startAgent(relay.url, ws.enroll_token, { hostname: "web-1" });
  });

  after(async () => {
    await killAll();
  });

  it("answers /healthz and /readyz with 200 when SQLite answers", async () => {
    const health = await fetch(`${relay.url}/healthz`);
    assert.equal([health.status, await health.text()].join(" "), "200 ok\n");
    const ready = await fetch(`${relay.url}/readyz`);
    assert.equal([ready.status, await ready.text()].join(" "), "200 ready\n");
  });

  it("exports sessions, agents, bytes, auth failures and latencies in the text format", async () => {
    const r = await runCmdop([
      "connect",
      "exec",
      "web-1",
      "--",
      "head",
      "-c",
      "300000",
      "/dev/zero",
    ], {
      env,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdoutBytes.length, 300_000);
    const bad = await runCmdop(["connect", "--list"], {
      env: { ...env, CMDOP_API_KEY: "cmk_notarealkey" },
    });
    assert.equal(bad.code, 2, bad.stderr);

    // Counts settle once the relay has seen the streams end, a moment after the CLI exits.
    let families = await scrape(relay);
    await waitFor("the session to be counted as ended", async () => {
      families = await scrape(relay);
      return value(families, "cmdop_sessions_open") === 0 &&
        value(families, "cmdop_sessions_total", { end: "exit" }) === 1 &&
        value(families, "cmdop_rpc_duration_seconds_count", {
            method: "SessionService/Session",
            code: "ok",
          }) === 1;
    });
    assert.equal(value(families, "cmdop_agents_online"), 1);
    assert.ok(value(families, "cmdop_relayed_bytes_total", { direction: "output" }) >= 300_000);
    assert.equal(value(families, "cmdop_auth_failures_total", { credential: "api_key" }), 1);
    assert.equal(families.get("cmdop_rpc_duration_seconds")?.type, "HISTOGRAM");
    assert.ok(
      value(families, "cmdop_rpc_duration_seconds_count", {
        method: "SessionService/Session",
        code: "ok",
      }) >= 1,
    );
    assert.ok(
      value(families, "cmdop_rpc_duration_seconds_count", {
        method: "MachineService/ListMachines",
        code: "unauthenticated",
      }) >= 1,
    );
    assert.ok(
      value(families, "cmdop_store_duration_seconds_count", {
        op: "workspaceIdByApiKey",
        result: "ok",
      }) >= 2,
    );
    assert.ok(value(families, "process_resident_memory_bytes") > 0);
  });

  it("logs JSON lines: one access line per RPC, auth failures with the source address, never a key", async () => {
    await waitFor("the auth failure to be logged", () => relay.stderr().includes("auth failure"));
    const lines = jsonLines(relay.stderr());
    for (const line of lines) {
      assert.equal(typeof line.time, "string");
      assert.ok(["info", "warn", "error"].includes(line.level as string), JSON.stringify(line));
    }
    const session = lines.find((l) => l.msg === "rpc" && l.method === "SessionService/Session");
    assert.ok(session, "an access line for the exec");
    assert.equal(session.code, "ok");
    assert.equal(session.peer, "127.0.0.1");
    assert.equal(typeof session.ms, "number");
    const control = lines.find((l) => l.msg === "rpc" && l.method === "AgentService/Control");
    assert.equal(control, undefined, "the agent's control stream is still open, so not logged");
    const failure = lines.find((l) => l.msg === "auth failure");
    assert.deepEqual(
      [failure?.level, failure?.peer, failure?.credential, failure?.method],
      ["warn", "127.0.0.1", "api_key", "MachineService/ListMachines"],
    );
    const text = relay.stderr();
    assert.ok(!text.includes(ws.api_key), "the API key never reaches the log");
    assert.ok(!text.includes("cmk_notarealkey"), "a wrong key never reaches the log");
    assert.ok(!text.includes(ws.enroll_token), "the enroll token never reaches the log");
  });

  it("counts a session whose machine has not dialled back in cmdop_sessions_waiting, until its client leaves", async () => {
    Deno.kill(agent.pid, "SIGSTOP");
    try {
      const client = spawnCli(["connect", "exec", "web-1", "--", "true"], env);
      await waitFor(
        "the session to wait for the stopped machine",
        async () => value(await scrape(relay), "cmdop_sessions_waiting") === 1,
      );
      client.kill("SIGKILL");
      await client.status;
      await client.stdout.cancel();
      await client.stderr.cancel();
      await waitFor(
        "the relay to give the session up",
        async () => value(await scrape(relay), "cmdop_sessions_waiting") === 0,
      );
    } finally {
      Deno.kill(agent.pid, "SIGCONT");
    }
  });
});
