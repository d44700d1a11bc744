/** `make bench`: measures OpenSSH, the local floors and cmdop where it can, prints one table, writes JSON and plots. */

import { parseArgs } from "node:util";
import {
  type BenchSettings,
  measureCapacityGroup,
  measureClusterGroup,
  measureCmdopGroup,
} from "./_cmdop_groups.ts";
import { checkGoals, goalsTable } from "./_goals.ts";
import { plotLatency, plotThroughput } from "./_plot.ts";
import { RunLog } from "./_report.ts";
import { startSshd } from "./_sshd.ts";
import { measureScpCopy } from "./copy.ts";
import { measureSshForward } from "./forward.ts";
import { loadAverage, machineInfo, type Measurement, RESULTS_DIR, writeResult } from "./_stats.ts";
import { type CapacityReport, capacityTable } from "./capacity.ts";
import {
  measureDenoEmptyScript,
  measureDenoVersion,
  measureLocalPtyEcho,
  measurePipeCopy,
  measurePipeRead,
} from "./floors.ts";
import {
  measureSshBulk,
  measureSshEcho,
  measureSshExec,
  measureSshExecControlMaster,
  opensshVersion,
} from "./ssh_baseline.ts";

const GROUPS = ["floors", "ssh", "cmdop", "capacity", "cluster"] as const;
type Group = typeof GROUPS[number];

const USAGE =
  `usage: deno run -A bench/main.ts [--quick] [--runs N] [--bulk-bytes N] [--bulk-runs N]
                                    [--keystrokes N] [--agents N] [--no-plots]
                                    [--only floors,ssh,cmdop,capacity,cluster]`;

/** Sizes of a full run (`make bench`) and of `--quick`, a check that everything works. */
const DEFAULTS = {
  full: {
    runs: 100,
    warmup: 3,
    bulkBytes: 1_000_000_000,
    bulkRuns: 3,
    keystrokes: 500,
    agents: 10_000,
    execSeconds: 5,
  },
  quick: {
    runs: 10,
    warmup: 1,
    bulkBytes: 100_000_000,
    bulkRuns: 1,
    keystrokes: 100,
    agents: 1_000,
    execSeconds: 2,
  },
};

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: "boolean", default: false },
      runs: { type: "string" },
      "bulk-bytes": { type: "string" },
      "bulk-runs": { type: "string" },
      keystrokes: { type: "string" },
      agents: { type: "string" },
      only: { type: "string" },
      "no-plots": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const groups = parseGroups(values.only);
  const sizes = values.quick ? DEFAULTS.quick : DEFAULTS.full;
  const settings: BenchSettings = {
    runs: count("runs", values.runs, sizes.runs),
    warmup: sizes.warmup,
    bulkBytes: count("bulk-bytes", values["bulk-bytes"], sizes.bulkBytes),
    bulkRuns: count("bulk-runs", values["bulk-runs"], sizes.bulkRuns),
    keystrokes: count("keystrokes", values.keystrokes, sizes.keystrokes),
  };
  const machine = machineInfo();
  const loadAtStart = loadAverage();
  console.error(
    `${machine.cpuModel}, ${machine.cores} cores, deno ${machine.deno}, load average ${
      loadAtStart?.join(" ") ?? "unknown"
    }`,
  );

  const log = new RunLog();
  let openssh: string | undefined;
  if (groups.has("floors")) {
    await log.measure("deno --version", () => measureDenoVersion(settings));
    await log.measure(
      "deno empty script",
      () => measureDenoEmptyScript(settings),
    );
    await log.measure("local pty echo", () => measureLocalPtyEcho(settings));
    const bulk = { bytes: settings.bulkBytes, runs: settings.bulkRuns };
    await log.measure("pipe copy, head | cat", () => measurePipeCopy(bulk));
    await log.measure("pipe read by the bench", () => measurePipeRead(bulk));
  }
  if (groups.has("ssh")) {
    const server = await log.attempt("starting sshd", () => startSshd());
    if (server) {
      try {
        openssh = await opensshVersion();
        await log.measure(
          "ssh exec, new connection",
          () => measureSshExec(server, settings),
        );
        await log.measure(
          "ssh exec, ControlMaster",
          () => measureSshExecControlMaster(server, settings),
        );
        await log.measure(
          "ssh -J exec, new connections",
          () => measureSshExec(server, settings, true),
        );
        const bulk = { bytes: settings.bulkBytes, runs: settings.bulkRuns };
        await log.measure("ssh bulk output", () => measureSshBulk(server, bulk));
        await log.measure("ssh -J bulk output", () => measureSshBulk(server, bulk, true));
        await log.measure(
          "scp file copy",
          () => measureScpCopy(server, { bytes: settings.bulkBytes, runs: settings.bulkRuns }),
        );
        const forward = { bytes: settings.bulkBytes, runs: settings.bulkRuns };
        await log.measure("ssh -L port forward", () => measureSshForward(server, forward));
        await log.measure(
          "ssh -L port forward through a jump host",
          () => measureSshForward(server, forward, true),
        );
        await log.measure(
          "ssh keystroke echo",
          () => measureSshEcho(server, settings),
        );
        await log.measure(
          "ssh -J keystroke echo",
          () => measureSshEcho(server, settings, true),
        );
      } finally {
        server.stop();
      }
    }
  }
  if (groups.has("cmdop")) await measureCmdopGroup(log, settings);
  let capacity: CapacityReport | undefined;
  if (groups.has("capacity")) {
    const agents = count("agents", values.agents, sizes.agents);
    capacity = await measureCapacityGroup(log, { agents, execSeconds: sizes.execSeconds });
  }
  if (groups.has("cluster")) await measureClusterGroup(log, settings);

  const loadAtEnd = loadAverage();
  console.log();
  if (openssh) console.log(`${openssh}\n`);
  console.log(
    `load average (1, 5, 15 min): ${loadAtStart?.join(" ") ?? "unknown"} at the start, ${
      loadAtEnd?.join(" ") ?? "unknown"
    } at the end\n`,
  );
  console.log(log.summary());
  if (capacity) console.log(`\n${capacityTable(capacity)}`);
  const measurements = log.sorted();
  const goals = checkGoals(measurements, capacity);
  console.log(`\n${goalsTable(goals)}`);
  const { skipped, failed } = log;
  const written = [
    await writeResult("summary", {
      openssh,
      settings,
      loadAverage: { start: loadAtStart, end: loadAtEnd },
      measurements,
      capacity,
      goals,
      skipped,
      failed,
    }),
  ];
  if (!values["no-plots"]) {
    const latency = resultPath("latency.png");
    const startup = resultPath("startup.png");
    const throughput = resultPath("throughput.png");
    await log.attempt("plots", async () => {
      // Start-up variants get a plot of their own, next to the floors they compare with.
      const isVariant = (m: Measurement) => m.details?.variant !== undefined;
      const main = measurements.filter((m) => !isVariant(m));
      if (await plotLatency(main, latency)) written.push(latency);
      const variants = measurements.filter((m) => isVariant(m) || m.tool === "deno");
      if (variants.some(isVariant) && await plotLatency(variants, startup)) written.push(startup);
      if (await plotThroughput(measurements, throughput)) {
        written.push(throughput);
      }
    });
  }
  console.log(`\nwrote ${written.join(", ")}`);
  return log.failed.length > 0 ? 1 : 0;
}

function parseGroups(value: string | undefined): Set<Group> {
  if (value === undefined) return new Set(GROUPS);
  const groups = value.split(",").map((g) => g.trim());
  for (const g of groups) {
    if (!(GROUPS as readonly string[]).includes(g)) {
      throw new Error(
        `Unknown group "${g}" in --only; expected some of "${GROUPS.join(",")}"`,
      );
    }
  }
  return new Set(groups as Group[]);
}

function count(
  flag: string,
  value: string | undefined,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(
      `Option "--${flag}" must be a positive integer, got "${value}"`,
    );
  }
  return n;
}

function resultPath(file: string): string {
  return decodeURIComponent(new URL(file, RESULTS_DIR).pathname);
}

if (import.meta.main) {
  let code: number;
  try {
    code = await main(Deno.args);
  } catch (err) {
    console.error(`error: ${err instanceof Error ? err.message : err}`);
    console.error(USAGE);
    code = 2;
  }
  // Exiting explicitly: the Ctrl-C listeners of _cleanup.ts would keep the process alive.
  Deno.exit(code);
}
