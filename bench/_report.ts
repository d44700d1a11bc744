/** The record of one benchmark run: figures taken, figures not measured yet, failures; and its summary. */

import { loadAverage, type Measurement, measurementTable } from "./_stats.ts";

/** Table order: related figures side by side, baselines before cmdop. */
const METRIC_ORDER = [
  "exec.new",
  "exec.new.tls",
  "exec.new.recorded",
  "exec.reused",
  "bulk",
  "bulk.tls",
  "bulk.recorded",
  "bulk.pty",
  "bulk.pty.recorded",
  "cp.upload",
  "cp.download",
  "echo",
  "echo.tls",
  "echo.recorded",
  "startup",
  "startup.version",
];
const TOOL_ORDER = ["pipe", "pty", "deno", "ssh", "ssh -J", "scp", "cmdop"];

/**
 * Collects what a run measured. A failing measurement is logged and recorded,
 * not thrown, so one broken figure does not cost the others.
 *
 * @example
 * ```ts
 * const log = new RunLog();
 * await log.measure("deno --version", () => measureDenoVersion({ runs: 10, warmup: 1 }));
 * console.log(log.summary());
 * ```
 */
export class RunLog {
  readonly measurements: Measurement[] = [];
  /** Names of figures whose function answered `undefined`. */
  readonly skipped: string[] = [];
  readonly failed: { name: string; error: string }[] = [];

  /** Runs one measurement; `undefined` from it means "not measured yet". */
  async measure(
    name: string,
    run: () => Promise<Measurement | Measurement[] | undefined>,
  ): Promise<void> {
    await this.attempt(name, async () => {
      const result = await run();
      if (result === undefined) this.skipped.push(name);
      else {
        // Each figure keeps the load it was taken under: the machine is shared.
        const load = loadAverage();
        this.measurements.push(
          ...[result].flat().map((m) => ({ ...m, details: { ...m.details, loadAverage: load } })),
        );
      }
    });
  }

  /** Runs a step that is not a figure (starting a server); on failure resolves `undefined`. */
  async attempt<T>(
    name: string,
    step: () => Promise<T>,
  ): Promise<T | undefined> {
    console.error(`${name} …`);
    try {
      return await step();
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      console.error(`${name} failed: ${error}`);
      this.failed.push({ name, error });
      return undefined;
    }
  }

  /** The figures in table order: related metrics together, baselines before cmdop. */
  sorted(): Measurement[] {
    return [...this.measurements].sort((a, b) =>
      rank(METRIC_ORDER, a.metric) - rank(METRIC_ORDER, b.metric) ||
      rank(TOOL_ORDER, a.tool) - rank(TOOL_ORDER, b.tool)
    );
  }

  /** The comparison table, then what was not measured and what failed. */
  summary(): string {
    const lines = [measurementTable(this.sorted())];
    if (this.skipped.length > 0) {
      lines.push("", `not measured: ${this.skipped.join(", ")}`);
    }
    for (const f of this.failed) lines.push(`FAILED ${f.name}: ${f.error}`);
    return lines.join("\n");
  }
}

function rank(order: string[], key: string): number {
  const i = order.indexOf(key);
  return i < 0 ? order.length : i;
}
