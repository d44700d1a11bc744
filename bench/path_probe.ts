/**
 * The session data path alone, run by hand: 1 GB through `cmdop connect exec` and keystroke echo through
 * `cmdop connect`, for one or more checkouts side by side, relay, agent and the echo's CLI optionally under
 * `--cpu-prof`.
 *
 * ```
 * deno run -A bench/path_probe.ts --root /tmp/before --root . --rounds 3 [--prof-dir /tmp/prof]
 * ```
 */
import { parseArgs } from "node:util";
import { measureAttachEcho } from "./attach_echo.ts";
import { timeBulkRead } from "./_run.ts";
import { spawnProc } from "./_proc.ts";
import { runCleanups } from "./_cleanup.ts";

const { values } = parseArgs({
  options: {
    root: { type: "string", multiple: true },
    bytes: { type: "string", default: "1000000000" },
    rounds: { type: "string", default: "3" },
    keystrokes: { type: "string", default: "300" },
    "prof-dir": { type: "string" },
    only: { type: "string" },
  },
});
const roots = (values.root ?? ["."]).map((r) => Deno.realPathSync(r));
const bytes = Number(values.bytes);
const rounds = Number(values.rounds);
const keystrokes = Number(values.keystrokes);
const profDir = values["prof-dir"];
const deno = Deno.execPath();

interface Stack {
  root: string;
  cli: string[];
  env: Record<string, string>;
  stop(): Promise<void>;
}

async function startStack(root: string, index: number): Promise<Stack> {
  const work = Deno.makeTempDirSync({ prefix: "cmdop-probe-" });
  const main = `${root}/main.ts`;
  const prof = (who: string) =>
    profDir ? [`--cpu-prof`, `--cpu-prof-dir=${profDir}/${index}-${who}`] : [];
  const relay = spawnProc(deno, [
    "run",
    "--quiet",
    "-A",
    ...prof("relay"),
    main,
    "relay",
    "serve",
    "--listen",
    "127.0.0.1:0",
    "--data",
    `${work}/relay`,
  ]);
  const [, url] = await relay.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/, 60_000);
  const created = await new Deno.Command(deno, {
    args: [
      "run",
      "--quiet",
      "-A",
      main,
      "relay",
      "workspace",
      "create",
      "p",
      "--data",
      `${work}/relay`,
      "--json",
    ],
    stdout: "piped",
  }).output();
  const ws = JSON.parse(new TextDecoder().decode(created.stdout));
  const agent = spawnProc(deno, [
    "run",
    "--quiet",
    "-A",
    ...prof("agent"),
    main,
    "agent",
    "run",
    "--server",
    url,
    "--enroll-token",
    ws.enroll_token,
    "--state",
    `${work}/agent`,
    "--hostname",
    "probe",
  ]);
  await agent.waitFor(/online as machine/, 60_000);
  const home = `${work}/home`;
  Deno.mkdirSync(home);
  return {
    root,
    cli: [deno, "run", "--quiet", "--no-prompt", "-A", main],
    env: { CMDOP_SERVER: url, CMDOP_API_KEY: ws.api_key, CMDOP_HOME: home, NO_COLOR: "1" },
    async stop() {
      // SIGINT lets --cpu-prof write its profile.
      await agent.stop("SIGINT");
      await relay.stop("SIGINT");
    },
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const stacks: Stack[] = [];
try {
  for (const [i, root] of roots.entries()) stacks.push(await startStack(root, i));
  const bulk = new Map<string, number[]>();
  const echo = new Map<string, number[]>();
  for (let round = 0; round < rounds; round++) {
    for (const s of stacks) {
      if (values.only !== "echo") {
        const args = [
          ...s.cli.slice(1),
          "connect",
          "exec",
          "probe",
          "--",
          "head",
          "-c",
          String(bytes),
          "/dev/zero",
        ];
        const r = await timeBulkRead(s.cli[0], args, bytes, { env: s.env });
        const mbs = bytes / 1e6 / r.streamSeconds;
        bulk.set(s.root, [...bulk.get(s.root) ?? [], mbs]);
        console.log(`${s.root} bulk ${mbs.toFixed(0)} MB/s`);
      }
      if (values.only !== "bulk") {
        // Under --prof-dir the echo's CLI is profiled too (it exits on Ctrl-D, writing its profile).
        const cli = profDir
          ? [s.cli[0], "run", `--cpu-prof`, `--cpu-prof-dir=${profDir}/${stacks.indexOf(s)}-cli`]
            .concat(s.cli.slice(2))
          : s.cli;
        const m = await measureAttachEcho({ cli, env: s.env, host: "probe" }, {
          keystrokes,
        });
        echo.set(s.root, [
          ...echo.get(s.root) ?? [],
          (m.stats as { p50: number; p90: number }).p50,
        ]);
        console.log(
          `${s.root} echo p50 ${(m.stats as { p50: number; p90: number }).p50.toFixed(3)} ms p90 ${
            (m.stats as { p50: number; p90: number }).p90.toFixed(3)
          }`,
        );
      }
    }
  }
  for (const s of stacks) {
    const b = bulk.get(s.root) ?? [];
    const e = echo.get(s.root) ?? [];
    console.log(
      `${s.root}: bulk median ${b.length ? median(b).toFixed(0) : "-"} MB/s [${
        b.map((x) => x.toFixed(0))
      }]; ` +
        `echo p50 median ${e.length ? median(e).toFixed(3) : "-"} ms [${
          e.map((x) => x.toFixed(3))
        }]`,
    );
  }
} finally {
  for (const s of stacks) await s.stop();
  runCleanups();
}
