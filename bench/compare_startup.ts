/** Times `cmdop connect exec HOST -- true` of several builds of cmdop side by side (one relay and agent), interleaved, next to an empty `deno run`. */

import { parseArgs } from "node:util";
import { registerCleanup, runCleanups } from "./_cleanup.ts";
import {
  clientCommand,
  createWorkspace,
  ROOT,
  startAgentProc,
  startRelayProc,
} from "./_cmdop_stack.ts";
import { timeCommand } from "./_run.ts";
import { formatTable, summarizeLatency } from "./_stats.ts";

const USAGE =
  `usage: deno run -A bench/compare_startup.ts [--runs N] [--warmup N] [--cpu] [NAME=DIR ...]

Each DIR is a checkout of cmdop with its own node_modules (default: this one, as "here").
The relay and agent are this checkout's; every round runs each build once and an empty
\`deno run\` once, in turn, so a busy machine weighs on all of them alike. --cpu also reports
the CPU time of each process (perf stat's task-clock), which a busy machine inflates less.`;

/** Wall and CPU milliseconds of one run. */
interface Sample {
  wall: number;
  cpu?: number;
}

/** Runs a command under \`perf stat\`: its wall time and the CPU time its process tree used. */
async function timeWithCpu(
  cmd: string,
  args: string[],
  options: { env?: Record<string, string>; cwd?: string },
  scratch: string,
): Promise<Sample> {
  const out = `${scratch}/perf.txt`;
  const wall = await timeCommand(
    "perf",
    ["stat", "-x,", "-e", "task-clock", "-o", out, "--", cmd, ...args],
    options,
  );
  const line = Deno.readTextFileSync(out).split("\n").find((l) => l.includes("task-clock"));
  const cpu = Number(line?.split(",")[0]);
  if (!Number.isFinite(cpu)) throw new Error(`perf stat gave no task-clock for ${cmd}`);
  return { wall, cpu };
}

/** A build of the CLI: its entry and its deno.json. */
interface Build {
  name: string;
  dir: string;
}

async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      runs: { type: "string", default: "60" },
      warmup: { type: "string", default: "3" },
      cpu: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const runs = Number(values.runs);
  const warmup = Number(values.warmup);
  if (!Number.isInteger(runs) || runs < 1 || runs > 10_000) {
    console.error(`error: --runs "${values.runs}" is not a whole number from 1 to 10000`);
    return 1;
  }
  if (!Number.isInteger(warmup) || warmup < 0 || warmup > 100) {
    console.error(`error: --warmup "${values.warmup}" is not a whole number from 0 to 100`);
    return 1;
  }
  const builds: Build[] = positionals.length === 0
    ? [{ name: "here", dir: ROOT.replace(/\/$/, "") }]
    : positionals.map((p) => {
      const at = p.indexOf("=");
      return at > 0
        ? { name: p.slice(0, at), dir: p.slice(at + 1).replace(/\/$/, "") }
        : { name: p, dir: p.replace(/\/$/, "") };
    });
  for (const build of builds) {
    try {
      Deno.statSync(`${build.dir}/main.ts`);
      Deno.statSync(`${build.dir}/node_modules`);
    } catch {
      console.error(`error: "${build.dir}" is not a cmdop checkout with node_modules`);
      console.error("hint: run make deps there first");
      return 1;
    }
  }

  const work = Deno.makeTempDirSync({ prefix: "cmdop-compare-startup-" });
  registerCleanup(() => Deno.removeSync(work, { recursive: true }));
  const relay = await startRelayProc(`${work}/relay`);
  const workspace = await createWorkspace(relay.dataDir, "bench");
  const agent = await startAgentProc(relay.url, workspace.enroll_token, "bench-host", `${work}/a`);
  const home = `${work}/home`;
  Deno.mkdirSync(home);
  const env = {
    CMDOP_SERVER: relay.url,
    CMDOP_API_KEY: workspace.api_key,
    CMDOP_HOME: home,
    NO_COLOR: "1",
  };
  Deno.writeTextFileSync(`${work}/empty.ts`, "");

  type Options = { env?: Record<string, string>; cwd?: string };
  const time = async (cmd: string, args: string[], options: Options): Promise<Sample> =>
    values.cpu
      ? await timeWithCpu(cmd, args, options, work)
      : { wall: await timeCommand(cmd, args, options) };
  const rows: { name: string; run: () => Promise<Sample> }[] = [{
    name: "deno run, empty script",
    run: () => time(Deno.execPath(), ["run", "--no-config", `${work}/empty.ts`], { cwd: work }),
  }];
  for (const build of builds) {
    const [deno, ...cli] = clientCommand(home, `${build.dir}/main.ts`)
      .map((a) => a === `${ROOT}deno.json` ? `${build.dir}/deno.json` : a);
    const argv = [...cli, "connect", "exec", "bench-host", "--", "true"];
    rows.push({ name: `exec true: ${build.name}`, run: () => time(deno, argv, { env }) });
  }
  const samples = rows.map(() => [] as Sample[]);
  for (let round = 0; round < warmup + runs; round++) {
    for (const [i, row] of rows.entries()) {
      const sample = await row.run();
      if (round >= warmup) samples[i].push(sample);
    }
  }
  await agent.stop();
  await relay.stop();

  const wall = samples.map((s) => summarizeLatency(s.map((x) => x.wall)));
  const cpu = values.cpu ? samples.map((s) => summarizeLatency(s.map((x) => x.cpu ?? 0))) : [];
  console.log(formatTable(
    [
      "what",
      "wall p50 ms",
      "p90",
      "min",
      "p50 − floor",
      ...(values.cpu ? ["CPU p50 ms", "− floor"] : []),
    ],
    rows.map((row, i) => [
      row.name,
      wall[i].p50.toFixed(1),
      wall[i].p90.toFixed(1),
      wall[i].min.toFixed(1),
      i === 0 ? "" : `+${(wall[i].p50 - wall[0].p50).toFixed(1)}`,
      ...(values.cpu
        ? [cpu[i].p50.toFixed(1), i === 0 ? "" : `+${(cpu[i].p50 - cpu[0].p50).toFixed(1)}`]
        : []),
    ]),
    [1, 2, 3, 4, 5, 6],
  ));
  console.log(`${runs} rounds, load average ${Deno.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  return 0;
}

try {
  Deno.exitCode = await main(Deno.args);
} finally {
  runCleanups();
}
