/** `make bench`: measures OpenSSH, the local floors and cmdop where it can, prints one table, writes JSON and plots. */

import { parseArgs } from "node:util";
import { registerCleanup } from "./_cleanup.ts";
import { plotLatency, plotThroughput } from "./_plot.ts";
import { RunLog } from "./_report.ts";
import { startSshd } from "./_sshd.ts";
import { machineInfo, RESULTS_DIR, writeResult } from "./_stats.ts";
import {
  type CmdopBenchOptions,
  measureCliList,
  measureCliStartup,
  measureCmdopBulk,
  measureCmdopEcho,
  measureCmdopExec,
  startCmdop,
} from "./cmdop.ts";
import { measureDenoEmptyScript, measureDenoVersion, measureLocalPtyEcho } from "./floors.ts";
import {
  measureSshBulk,
  measureSshEcho,
  measureSshExec,
  measureSshExecControlMaster,
  opensshVersion,
} from "./ssh_baseline.ts";

const GROUPS = ["floors", "ssh", "cmdop"] as const;
type Group = typeof GROUPS[number];

const USAGE =
  `usage: deno run -A bench/main.ts [--quick] [--runs N] [--bulk-bytes N] [--bulk-runs N]
                                    [--keystrokes N] [--only floors,ssh,cmdop] [--no-plots]`;

/** Sizes of a full run (`make bench`) and of `--quick`, a check that everything works. */
const DEFAULTS = {
  full: {
    runs: 100,
    warmup: 3,
    bulkBytes: 1_000_000_000,
    bulkRuns: 3,
    keystrokes: 500,
  },
  quick: {
    runs: 10,
    warmup: 1,
    bulkBytes: 100_000_000,
    bulkRuns: 1,
    keystrokes: 100,
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
  const settings = {
    runs: count("runs", values.runs, sizes.runs),
    warmup: sizes.warmup,
    bulkBytes: count("bulk-bytes", values["bulk-bytes"], sizes.bulkBytes),
    bulkRuns: count("bulk-runs", values["bulk-runs"], sizes.bulkRuns),
    keystrokes: count("keystrokes", values.keystrokes, sizes.keystrokes),
  };
  const machine = machineInfo();
  console.error(
    `${machine.cpuModel}, ${machine.cores} cores, deno ${machine.deno}`,
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
          "ssh bulk output",
          () =>
            measureSshBulk(server, {
              bytes: settings.bulkBytes,
              runs: settings.bulkRuns,
            }),
        );
        await log.measure(
          "ssh keystroke echo",
          () => measureSshEcho(server, settings),
        );
      } finally {
        server.stop();
      }
    }
  }
  if (groups.has("cmdop")) await measureCmdop(log, settings);

  console.log();
  if (openssh) console.log(`${openssh}\n`);
  console.log(log.summary());
  const measurements = log.sorted();
  const { skipped, failed } = log;
  const written = [
    await writeResult("summary", {
      openssh,
      settings,
      measurements,
      skipped,
      failed,
    }),
  ];
  if (!values["no-plots"]) {
    const latency = resultPath("latency.png");
    const throughput = resultPath("throughput.png");
    await log.attempt("plots", async () => {
      if (await plotLatency(measurements, latency)) written.push(latency);
      if (await plotThroughput(measurements, throughput)) {
        written.push(throughput);
      }
    });
  }
  console.log(`\nwrote ${written.join(", ")}`);
  return log.failed.length > 0 ? 1 : 0;
}

/** cmdop's figures through the real CLI, relay and agent; a failing figure does not cost the others. */
async function measureCmdop(
  log: RunLog,
  settings: Omit<CmdopBenchOptions, "workDir">,
) {
  const workDir = Deno.makeTempDirSync({ prefix: "cmdop-bench-" });
  const removeWorkDir = registerCleanup(() => Deno.removeSync(workDir, { recursive: true }));
  const options = { ...settings, workDir };
  try {
    await log.measure("cmdop --version", () => measureCliStartup(options));
    const stack = await log.attempt(
      "starting cmdop relay and agent",
      () => startCmdop(options),
    );
    if (!stack) {
      log.skipped.push(
        "cmdop exec",
        "cmdop connect --list",
        "cmdop bulk output",
        "cmdop keystroke echo",
      );
      return;
    }
    try {
      await log.measure("cmdop exec", () => measureCmdopExec(stack, options));
      await log.measure("cmdop connect --list", () => measureCliList(stack, options));
      await log.measure(
        "cmdop bulk output",
        () => measureCmdopBulk(stack, options),
      );
      await log.measure(
        "cmdop keystroke echo",
        () => measureCmdopEcho(stack, options),
      );
    } finally {
      await stack.stop();
    }
  } finally {
    removeWorkDir();
  }
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
