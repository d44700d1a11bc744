/** `cmdop connect exec --label … / --all` against a real relay and a fleet of agents: marked lines, NDJSON, exit codes, offline machines, workspaces. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  clientEnv,
  killAll,
  MACHINE_VARIABLE,
  type RelayProcess,
  runCmdop,
  startAgent,
  startRelay,
  waitMachineOnline,
  type Workspace,
} from "../_harness.ts";

/** Agents of the fleet; 50 is the size the feature is meant for, 20 keeps the suite quick. */
const FLEET = Number(Deno.env.get("CMDOP_TEST_FLEET_AGENTS") ?? "20");
/** Lines each machine prints in the interleaving test, each in three writes. */
const LINES = 200;
/** The exit code of a fan-out in which some machine failed or was offline. */
const FANOUT_FAILED = 5;

const fleetName = (i: number) => `fleet-${String(i).padStart(2, "0")}`;

interface Envelope {
  machine: string;
  machine_id: string;
  stdout: string;
  stderr: string;
  exit_code: number | null;
  duration_ms: number;
  offline?: boolean;
  error?: string;
}

describe("cmdop connect exec on many machines", () => {
  let relay: RelayProcess;
  let acme: Workspace;
  let env: Record<string, string>;
  let otherEnv: Record<string, string>;

  /** Every stdout line of a run, parsed as one JSON envelope each. */
  function ndjson(stdout: string): Envelope[] {
    assert.ok(stdout.endsWith("\n"), "NDJSON ends with a newline");
    return stdout.slice(0, -1).split("\n").map((line) => JSON.parse(line));
  }

  before(async () => {
    relay = await startRelay();
    acme = await relay.createWorkspace("acme");
    const other = await relay.createWorkspace("other");
    env = await clientEnv(relay.url, acme.api_key);
    otherEnv = await clientEnv(relay.url, other.api_key);
    const agent = (ws: Workspace, hostname: string, ...labels: string[]) =>
      startAgent(relay.url, ws.enroll_token, { hostname, labels });
    // A few at a time: twenty Deno processes starting at once starve a small machine.
    for (let i = 1; i <= FLEET; i += 5) {
      await Promise.all(
        Array.from(
          { length: Math.min(5, FLEET - i + 1) },
          (_, k) => agent(acme, fleetName(i + k), "role=web", "tier=fleet"),
        ),
      );
    }
    await Promise.all([
      agent(acme, "db-1", "role=db"),
      agent(other, "other-web-1", "role=web", "tier=fleet"),
      agent(other, "other-web-2", "role=web", "tier=fleet"),
    ]);
    const gone = await agent(acme, "web-gone", "role=web");
    await gone.stop();
    await waitMachineOnline(relay.url, acme.api_key, "web-gone", false);
  });

  after(async () => {
    await killAll();
  });

  it("marks every line with its machine and never mixes two machines in a line", async () => {
    // Each line leaves the machine in three writes, so lines arrive cut at random places.
    const script = `i=0; while [ $i -lt ${LINES} ]; do ` +
      `printf '%s ' "$${MACHINE_VARIABLE}"; printf 'line %d ' $i; printf 'end\\n'; ` +
      `i=$((i+1)); done; echo "$${MACHINE_VARIABLE} complains" >&2; printf 'no newline'`;
    const r = await runCmdop(
      ["connect", "exec", "--label", "tier=fleet", "--", "sh", "-c", script],
      { env, timeoutMs: 120_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    const seen = new Map<string, number>();
    for (const line of r.stdout.slice(0, -1).split("\n")) {
      const match = /^(fleet-\d\d) \| (?:(fleet-\d\d) line (\d+) end|no newline)$/.exec(line);
      assert.ok(match, `not a whole line of one machine: ${JSON.stringify(line)}`);
      const [, name, own, n] = match;
      const count = seen.get(name) ?? 0;
      if (own !== undefined) {
        assert.equal(own, name, `a line of ${own} marked as ${name}`);
        assert.equal(Number(n), count, `${name}'s lines out of order`);
      } else assert.equal(count, LINES, `${name}: the unfinished line comes last`);
      seen.set(name, count + 1);
    }
    assert.equal(seen.size, FLEET, "every machine of the fleet, no other");
    for (const [name, count] of seen) assert.equal(count, LINES + 1, name);
    for (let i = 1; i <= FLEET; i++) {
      const name = fleetName(i);
      assert.match(r.stderr, new RegExp(`^${name} \\| ${name} complains$`, "m"));
    }
    assert.match(
      r.stderr,
      new RegExp(`^${FLEET} machines: ${FLEET} ok, 0 failed, 0 offline$`, "m"),
    );
  });

  it("prints one envelope per machine as NDJSON with --json, the offline one included", async () => {
    const r = await runCmdop(
      [
        "connect",
        "exec",
        "--label",
        "role=web",
        "--json",
        "--",
        "sh",
        "-c",
        `echo "$${MACHINE_VARIABLE}"`,
      ],
      { env, timeoutMs: 120_000 },
    );
    assert.equal(r.code, FANOUT_FAILED, r.stderr);
    const envelopes = ndjson(r.stdout);
    assert.equal(envelopes.length, FLEET + 1);
    for (const e of envelopes.filter((e) => !e.offline)) {
      assert.equal(e.stdout, `${e.machine}\n`);
      assert.equal(e.stderr, "");
      assert.equal(e.exit_code, 0);
      assert.equal(typeof e.duration_ms, "number");
      assert.match(e.machine_id, /^[0-9a-f-]{36}$/);
    }
    const offline = envelopes.filter((e) => e.offline);
    assert.deepEqual(offline.map((e) => e.machine), ["web-gone"]);
    assert.equal(offline[0].exit_code, null);
    assert.match(offline[0].error!, /offline/);
    assert.ok(!envelopes.some((e) => e.machine.startsWith("other-")), "never another workspace");
    assert.match(r.stderr, new RegExp(`${FLEET + 1} machines: ${FLEET} ok, 0 failed, 1 offline`));
    assert.match(r.stderr, /^ {2}web-gone\s+offline$/m);
  });

  it("reports the offline matches in the human output too", async () => {
    const r = await runCmdop(["connect", "exec", "--label", "role=web", "--", "true"], {
      env,
      timeoutMs: 120_000,
    });
    assert.equal(r.code, FANOUT_FAILED);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /^web-gone \| error: machine "web-gone" is offline$/m);
    assert.match(r.stderr, /1 offline/);
  });

  it(`exits ${FANOUT_FAILED} and names each failed machine with its exit code`, async () => {
    const script = `case "$${MACHINE_VARIABLE}" in fleet-02) exit 7;; fleet-03) exit 9;; esac`;
    const r = await runCmdop(
      ["connect", "exec", "--label", "tier=fleet", "--", "sh", "-c", script],
      { env, timeoutMs: 120_000 },
    );
    assert.equal(r.code, FANOUT_FAILED, r.stderr);
    assert.match(r.stderr, new RegExp(`${FLEET} machines: ${FLEET - 2} ok, 2 failed, 0 offline`));
    assert.match(r.stderr, /^ {2}fleet-02\s+exit 7$/m);
    assert.match(r.stderr, /^ {2}fleet-03\s+exit 9$/m);
    const json = await runCmdop(
      ["connect", "exec", "--label", "tier=fleet", "--json", "--", "sh", "-c", script],
      { env, timeoutMs: 120_000 },
    );
    assert.equal(json.code, FANOUT_FAILED);
    const codes = Object.fromEntries(ndjson(json.stdout).map((e) => [e.machine, e.exit_code]));
    assert.equal(codes["fleet-02"], 7);
    assert.equal(codes["fleet-03"], 9);
    assert.equal(codes["fleet-01"], 0);
  });

  it("runs on every machine of the workspace with --all, and only of it", async () => {
    const r = await runCmdop(
      ["connect", "exec", "--all", "--json", "--", "sh", "-c", `echo "$${MACHINE_VARIABLE}"`],
      { env: otherEnv },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(ndjson(r.stdout).map((e) => e.stdout).sort(), [
      "other-web-1\n",
      "other-web-2\n",
    ]);
    const acmeAll = await runCmdop(["connect", "exec", "--all", "--json", "--", "true"], {
      env,
      timeoutMs: 120_000,
    });
    const names = ndjson(acmeAll.stdout).map((e) => e.machine);
    assert.equal(names.length, FLEET + 2);
    assert.ok(names.includes("db-1") && names.includes("web-gone"));
    assert.ok(!names.some((n) => n.startsWith("other-")));
  });

  it("runs no more than --parallel machines at once", async () => {
    const script = "date +%s%N; sleep 0.4; date +%s%N";
    const r = await runCmdop(
      [
        "connect",
        "exec",
        "--label",
        "tier=fleet",
        "--parallel",
        "3",
        "--json",
        "--",
        "sh",
        "-c",
        script,
      ],
      { env, timeoutMs: 120_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    const spans = ndjson(r.stdout).map((e) => e.stdout.trim().split("\n").map(Number));
    const events = spans.flatMap(([start, end]) => [[start, 1], [end, -1]]).sort((a, b) =>
      a[0] - b[0] || a[1] - b[1]
    );
    let running = 0;
    let most = 0;
    for (const [, step] of events) most = Math.max(most, running += step);
    assert.ok(most <= 3, `${most} ran at once`);
    assert.ok(most >= 2, "they do run side by side");
  });

  it("groups each machine's output in one block with --group", async () => {
    const r = await runCmdop(
      ["connect", "exec", "--label", "role=db", "--group", "--", "sh", "-c", "echo a; echo b"],
      { env },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "=== db-1 (exit 0) ===\na\nb\n");
  });

  it("fails naming the selector when nothing matches", async () => {
    const r = await runCmdop(
      ["connect", "exec", "--label", "role=cache", "--label", "env=prod", "--", "true"],
      { env },
    );
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.match(
      r.stderr,
      /^error: no machine in workspace "acme" matches --label env=prod --label role=cache$/m,
    );
    const json = await runCmdop(["connect", "exec", "--label", "role=db", "--json", "--", "true"], {
      env: otherEnv,
    });
    assert.equal(json.code, 1);
    assert.match(json.stderr, /no machine in workspace "other" matches --label role=db/);
  });

  it("refuses a share link with --label or --all", async () => {
    const shared = await runCmdop(["connect", "share", "db-1", "--json"], { env });
    assert.equal(shared.code, 0, shared.stderr);
    const { link } = JSON.parse(shared.stdout);
    const dir = await Deno.makeTempDir({ prefix: "cmdop-links-" });
    const file = join(dir, "link.txt");
    await Deno.writeTextFile(file, `${link}\n`, { mode: 0o600 });
    const stranger = { CMDOP_HOME: (await clientEnv(relay.url)).CMDOP_HOME };
    for (
      const [args, extra] of [
        [["--link-file", file, "--label", "role=web"], {}],
        [["--all"], { CMDOP_SHARE_LINK: link }],
        [[link, "--all"], {}],
      ] as const
    ) {
      const r = await runCmdop(["connect", "exec", ...args, "--", "true"], {
        env: { ...stranger, ...extra },
      });
      assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
      assert.match(
        r.stderr,
        /a share link reaches one machine: .* cannot be used with --label or --all/,
      );
    }
  });

  it("refuses a host beside --label, and --parallel without it", async () => {
    const both = await runCmdop(["connect", "exec", "db-1", "--label", "role=db", "--", "true"], {
      env,
    });
    assert.equal(both.code, 1);
    assert.match(both.stderr, /--label and --all choose the machines: "db-1" cannot be given/);
    const lone = await runCmdop(["connect", "exec", "db-1", "--parallel", "2", "--", "true"], {
      env,
    });
    assert.equal(lone.code, 1);
    assert.match(lone.stderr, /--parallel and --group go with --label or --all/);
  });
});
