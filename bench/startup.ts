/** Where cmdop's start-up goes: the same exec and --version under other ways of loading the program (bundle, eager imports, cache flags). */

import { clientCommand, DENO_JSON, MAIN, ROOT } from "./_cmdop_stack.ts";
import { repeat, timeCommand } from "./_run.ts";
import { type Measurement, summarizeLatency } from "./_stats.ts";
import type { CmdopBenchOptions, CmdopStack } from "./cmdop.ts";

/** One way of starting the CLI: extra `deno run` flags and the entry it runs. */
interface Variant {
  name: string;
  flags: string[];
  entry: string;
  /** Read access beyond CMDOP_HOME and the program that the variant needs (a bundle). */
  read?: string;
  /** Without the client's `--unstable-lazy-dynamic-imports`: Deno reads the whole graph at start. */
  eager?: boolean;
}

/**
 * Builds the CLI into one ESM file with `deno bundle` (esbuild, fetched from
 * npm on first use); `undefined` when that is not possible here.
 */
async function bundleCli(dir: string): Promise<string | undefined> {
  const out = `${dir}/cmdop.bundle.js`;
  const result = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "deno", "--config", DENO_JSON, "-o", out, MAIN],
    cwd: ROOT,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!result.success) {
    console.error(`deno bundle failed: ${new TextDecoder().decode(result.stderr).trim()}`);
    return undefined;
  }
  return out;
}

/**
 * `cmdop connect exec HOST -- true` and `cmdop --version` under each variant,
 * every one with the sandboxed client's grant: as shipped; `--cached-only`;
 * `--no-code-cache` (what V8's code cache saves); `--node-modules-dir=auto`
 * (Deno re-checks node_modules per npm package); eager dynamic imports (without
 * the client's `--unstable-lazy-dynamic-imports`: the whole graph read at
 * start); and a `deno bundle` single file.
 * Metric `startup`, so each compares with the empty-script floor.
 *
 * @example
 * ```ts
 * const figures = await measureStartupVariants(stack, options);
 * ```
 */
export async function measureStartupVariants(
  stack: CmdopStack,
  options: CmdopBenchOptions,
): Promise<Measurement[]> {
  const variants: Variant[] = [
    { name: "as shipped", flags: [], entry: MAIN },
    { name: "--cached-only", flags: ["--cached-only"], entry: MAIN },
    { name: "--no-code-cache", flags: ["--no-code-cache"], entry: MAIN },
    { name: "node_modules auto", flags: ["--node-modules-dir=auto"], entry: MAIN },
    { name: "eager dynamic imports", flags: [], entry: MAIN, eager: true },
  ];
  const bundle = await bundleCli(options.workDir);
  if (bundle) variants.push({ name: "deno bundle", flags: [], entry: bundle, read: bundle });
  const runs = Math.max(10, Math.round(options.runs / 3));
  const home = stack.env.CMDOP_HOME;
  const figures: Measurement[] = [];
  for (const variant of variants) {
    const [deno, ...base] = clientCommand(home, variant.entry);
    const args = base.map((a) =>
      a.startsWith("--allow-read=") && variant.read ? `${a},${variant.read}` : a
    ).filter((a) => !(variant.eager && a === "--unstable-lazy-dynamic-imports"));
    args.splice(1, 0, ...variant.flags);
    for (
      const [what, verb] of [["exec true", ["connect", "exec", stack.host, "--", "true"]], [
        "--version",
        ["--version"],
      ]] as const
    ) {
      const argv = [...args, ...verb];
      const samples = await repeat(runs, 2, () => timeCommand(deno, argv, { env: stack.env }));
      figures.push({
        tool: "cmdop",
        metric: "startup",
        label: `${what}, ${variant.name}`,
        stats: summarizeLatency(samples),
        details: { command: ["deno", ...argv], samplesMs: samples, variant: variant.name },
      });
    }
  }
  return figures;
}
