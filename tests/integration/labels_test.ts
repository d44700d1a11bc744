/** Machine labels end to end: `agent run --label`, kept across restarts, shown and filtered by `connect --list`, bounded by the relay. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { AgentService } from "../../gen/cmdop/v1/agent_pb.ts";
import { createRelayTransport } from "../../src/lib/transport.ts";
import {
  type AgentProcess,
  clientEnv,
  killAll,
  type RelayProcess,
  runCmdop,
  startAgent,
  startRelay,
  waitFor,
  waitMachineOnline,
  type Workspace,
} from "../_harness.ts";

interface Listed {
  hostname: string;
  online: boolean;
  labels: Record<string, string>;
}

describe("machine labels", () => {
  let relay: RelayProcess;
  let ws: Workspace;
  let env: Record<string, string>;
  let web1: AgentProcess;
  let web1State = "";

  async function listed(...args: string[]): Promise<Listed[]> {
    const r = await runCmdop(["connect", "--list", "--json", ...args], { env });
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  }

  before(async () => {
    relay = await startRelay();
    ws = await relay.createWorkspace("acme");
    env = await clientEnv(relay.url, ws.api_key);
    const labelled = (hostname: string, ...labels: string[]) =>
      startAgent(relay.url, ws.enroll_token, { hostname, labels });
    [web1] = await Promise.all([
      labelled("web-1", "env=prod", "role=web"),
      labelled("web-2", "env=staging", "role=web"),
      labelled("db-1", "env=prod", "role=db"),
      labelled("plain"),
    ]);
    web1State = web1.stateDir;
    const gone = await labelled("web-old", "env=prod", "role=web");
    await gone.stop();
    await waitMachineOnline(relay.url, ws.api_key, "web-old", false);
  });

  after(async () => {
    await killAll();
  });

  it("shows them in a LABELS column of the table, sorted by key", async () => {
    const r = await runCmdop(["connect", "--list"], { env });
    assert.equal(r.code, 0, r.stderr);
    const [head, ...rows] = r.stdout.trimEnd().split("\n");
    assert.match(head, /\bLABELS$/);
    const row = (name: string) => rows.find((l) => l.startsWith(`${name} `)) ?? "";
    assert.match(row("web-1"), /\senv=prod,role=web$/);
    assert.match(row("db-1"), /\senv=prod,role=db$/);
    assert.match(row("plain"), /\sonline\s+\S+ ago$/, "no labels: nothing after the heartbeat");
  });

  it("gives a labels object per machine with --json", async () => {
    const machines = await listed();
    const of = (h: string) => machines.find((m) => m.hostname === h)!;
    assert.deepEqual(of("web-2").labels, { env: "staging", role: "web" });
    assert.deepEqual(of("plain").labels, {});
  });

  it("filters --list by every --label given, and by --online", async () => {
    const names = (ms: Listed[]) => ms.map((m) => m.hostname).sort();
    assert.deepEqual(names(await listed("--label", "role=web")), ["web-1", "web-2", "web-old"]);
    assert.deepEqual(names(await listed("--label", "role=web", "--online")), ["web-1", "web-2"]);
    assert.deepEqual(names(await listed("--label", "role=web", "--label", "env=prod")), [
      "web-1",
      "web-old",
    ]);
    assert.deepEqual(names(await listed("--label", "env=prod", "--label", "role=db")), ["db-1"]);
    const none = await runCmdop(["connect", "--list", "--label", "role=cache"], { env });
    assert.equal(none.code, 0);
    assert.equal(none.stdout, "");
    assert.match(none.stderr, /no machine has the labels role=cache/);
  });

  it("keeps them across an agent restart without --label, and replaces them with new ones", async () => {
    const labelsOfWeb1 = async () =>
      (await listed()).find((m) => m.hostname === "web-1" && m.online)?.labels;
    const restart = (...labels: string[]) =>
      startAgent(relay.url, ws.enroll_token, {
        hostname: "web-1",
        stateDir: web1State,
        labels,
      });
    await web1.stop();
    await waitMachineOnline(relay.url, ws.api_key, "web-1", false);
    let agent = await restart();
    await waitFor("web-1 back online", async () => (await labelsOfWeb1()) !== undefined);
    assert.deepEqual(await labelsOfWeb1(), { env: "prod", role: "web" });
    const saved = JSON.parse(await Deno.readTextFile(join(web1State, "agent.json")));
    assert.deepEqual(saved.labels, { env: "prod", role: "web" });

    await agent.stop();
    await waitMachineOnline(relay.url, ws.api_key, "web-1", false);
    agent = await restart("env=canary");
    await waitFor("web-1 back online", async () => (await labelsOfWeb1()) !== undefined);
    assert.deepEqual(await labelsOfWeb1(), { env: "canary" });
    // Same machine, not a second enrollment.
    assert.equal((await listed()).filter((m) => m.hostname === "web-1").length, 1);
    await agent.stop();
    await waitMachineOnline(relay.url, ws.api_key, "web-1", false);
    agent = await restart();
    await waitFor("web-1 back online", async () => (await labelsOfWeb1()) !== undefined);
    assert.deepEqual(await labelsOfWeb1(), { env: "canary" });
  });

  it("refuses a bad --label before enrolling, naming it", async () => {
    for (
      const [label, why] of [
        ["role", /label "role" is not key=value/],
        ["-bad=x", /label "-bad=x": key must start with a letter or digit/],
        ["role=web server", /label "role=web server": value may hold only/],
        [`k=${"v".repeat(129)}`, /value is longer than the limit of 128 characters/],
      ] as const
    ) {
      const state = await Deno.makeTempDir({ prefix: "cmdop-agent-" });
      const r = await runCmdop([
        "agent",
        "run",
        "--server",
        relay.url,
        "--enroll-token",
        ws.enroll_token,
        "--state",
        state,
        "--hostname",
        "never-enrolled",
        "--label",
        "env=prod",
        "--label",
        label,
      ]);
      assert.equal(r.code, 1, `${label}: ${r.stderr}`);
      assert.match(r.stderr, why);
      assert.match(r.stderr, /^error: --label: /m);
    }
    const many = Array.from({ length: 33 }, (_, i) => ["--label", `k${i}=v`]).flat();
    const r = await runCmdop([
      "agent",
      "run",
      "--server",
      relay.url,
      "--state",
      await Deno.makeTempDir(),
      ...many,
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /33 labels is more than the limit of 32/);
    assert.ok(!(await listed()).some((m) => m.hostname === "never-enrolled"));
    const list = await runCmdop(["connect", "--list", "--label", "role"], { env });
    assert.equal(list.code, 1);
    assert.match(list.stderr, /--label: label "role" is not key=value/);
  });

  it("is refused by the relay with invalid_argument naming the limit", async () => {
    const { credential } = JSON.parse(await Deno.readTextFile(join(web1State, "agent.json")));
    const agent = createClient(
      AgentService,
      createRelayTransport({ baseUrl: relay.url, bearer: credential }),
    );
    const hello = (labels: Record<string, string>) => async () => {
      for await (const _ of agent.control({ hostname: "web-1", labels })) return;
    };
    const cases: [Record<string, string>, RegExp][] = [
      [Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, "v"])), /limit of 32/],
      [{ ["k".repeat(64)]: "v" }, /key is longer than the limit of 63 characters/],
      [{ k: "v".repeat(129) }, /value is longer than the limit of 128 characters/],
      [{ "bad key": "v" }, /key must start with a letter or digit/],
    ];
    for (const [labels, why] of cases) {
      await assert.rejects(hello(labels), (error) => {
        const e = ConnectError.from(error);
        assert.equal(e.code, Code.InvalidArgument, e.message);
        assert.match(e.rawMessage, why);
        return true;
      });
    }
  });
});
