/** PNG plots of benchmark results, drawn by gnuplot (Debian's gnuplot-nox, installed when missing). */

import { ensurePrograms } from "./_apt.ts";
import { type Measurement, TLS_RELAY } from "./_stats.ts";

const GNUPLOT = "/usr/bin/gnuplot";

/** Bar colours per percentile and per tool (matplotlib's defaults, familiar to readers of plots). */
const PERCENTILE_COLOURS = ["#1f77b4", "#ff7f0e", "#d62728"];
const TOOL_COLOURS: Record<string, string> = {
  ssh: "#1f77b4",
  "ssh -J": "#17becf",
  cmdop: "#2ca02c",
  deno: "#7f7f7f",
  pty: "#9467bd",
  pipe: "#bcbd22",
};
/** cmdop against the relay over TLS: a darker green beside the plain relay's. */
const CMDOP_TLS_COLOUR = "#1a6b1a";

/** Tick label of a bar group: tool, then the label in up to two lines (columns 1–3). */
const XTIC = 'sprintf("%s\\n%s\\n%s", stringcolumn(1), stringcolumn(2), stringcolumn(3))';

/**
 * Grouped bars: one group per latency figure (tool and metric), bars p50, p90
 * and p99, log scale since handshakes and keystrokes are 1000x apart. Writes
 * nothing and returns false when there are no latency figures.
 *
 * @example
 * ```ts
 * await plotLatency(measurements, "bench/results/latency.png");
 * ```
 */
export async function plotLatency(
  measurements: readonly Measurement[],
  pngPath: string,
): Promise<boolean> {
  const rows = measurements.flatMap((m) => {
    if (m.stats.kind !== "latency") return [];
    const { p50, p90, p99 } = m.stats;
    return [[m.tool, ...wrap(m.label), p50, p90, p99]];
  });
  if (rows.length === 0) return false;
  const data = rows.map((r) => r.map(cell).join("\t")).join("\n") + "\n";
  // Wide enough for two lines of a long label ("keystroke echo, interactive sh (attach), TLS relay").
  const width = Math.max(900, 260 * rows.length);
  // Clustered histogram: 3 bars per group, gap 1 → each bar is 1/4 wide, centred at -1/4, 0, +1/4.
  const series = ["p50", "p90", "p99"].map((name, i) =>
    `$DATA using ${i + 4}:xtic(${XTIC}) ` +
    `title '${name}' linecolor rgb '${PERCENTILE_COLOURS[i]}'`
  );
  const labels = [4, 5, 6].map((col, i) => {
    const x = `($0 + ${(i - 1) * 0.25})`;
    return `$DATA using ${x}:${col}:(fmt(column(${col}))) with labels font ',8' offset 0,0.6 notitle`;
  });
  await gnuplot(data, [
    `set terminal pngcairo size ${width},600 font 'DejaVu Sans,11' noenhanced`,
    `set output '${quote(pngPath)}'`,
    "set title 'Latency (lower is better)'",
    "set style data histogram",
    "set style histogram clustered gap 1",
    "set style fill solid 0.9 border -1",
    "set logscale y",
    "set ylabel 'milliseconds (log scale)'",
    "set grid ytics",
    "set key top right",
    "set xtics nomirror",
    "set bmargin 6",
    "fmt(v) = v < 1 ? sprintf('%.3f', v) : v < 10 ? sprintf('%.2f', v) : v < 100 ? sprintf('%.1f', v) : sprintf('%.0f', v)",
    `plot ${[...series, ...labels].join(", \\\n  ")}`,
  ]);
  return true;
}

/**
 * One bar per throughput figure (MB/s of the median run). Writes nothing and
 * returns false when there are no rate figures.
 *
 * @example
 * ```ts
 * await plotThroughput(measurements, "bench/results/throughput.png");
 * ```
 */
export async function plotThroughput(
  measurements: readonly Measurement[],
  pngPath: string,
): Promise<boolean> {
  const rows = measurements.flatMap((m) => {
    if (m.stats.kind !== "rate") return [];
    // gnuplot's "rgb variable" takes the colour as the number 0xRRGGBB.
    const colour = parseInt(colourOf(m).slice(1), 16);
    return [[m.tool, ...wrap(m.label), m.stats.mbPerSec, colour]];
  });
  if (rows.length === 0) return false;
  const data = rows.map((r) => r.map(cell).join("\t")).join("\n") + "\n";
  const width = Math.max(700, 240 * rows.length);
  await gnuplot(data, [
    `set terminal pngcairo size ${width},500 font 'DejaVu Sans,11' noenhanced`,
    `set output '${quote(pngPath)}'`,
    "set title 'Bulk output throughput (higher is better)'",
    "set style fill solid 0.9 border -1",
    "set boxwidth 0.6",
    "set ylabel 'MB/s (10^6 bytes per second)'",
    "set yrange [0:*]",
    "set offsets 0.5, 0.5, graph 0.1, 0",
    "set grid ytics",
    "set xtics nomirror",
    "unset key",
    "set bmargin 5",
    `plot $DATA using 0:4:5:xtic(${XTIC}) with boxes linecolor rgb variable, \\\n` +
    "  $DATA using 0:4:(sprintf('%.0f MB/s', column(4))) with labels offset 0,0.8 notitle",
  ]);
  return true;
}

/** Splits a label into two lines of about 20 characters at a space, so neighbouring ticks do not collide. */
function wrap(label: string, width = 20): [string, string] {
  // A blank rather than empty second line: gnuplot misreads an empty field.
  if (label.length <= width) return [label, " "];
  const comma = label.lastIndexOf(", ", width);
  const at = comma > 0 ? comma + 1 : label.lastIndexOf(" ", width);
  return at > 0 ? [label.slice(0, at).trim(), label.slice(at).trim()] : [label, " "];
}

function colourOf(m: Measurement): string {
  if (m.tool === "cmdop" && m.metric.endsWith(TLS_RELAY)) return CMDOP_TLS_COLOUR;
  return TOOL_COLOURS[m.tool] ?? "#8c564b";
}

function cell(v: string | number): string {
  // Tab-separated, so strings need no quotes; tabs and newlines would split them.
  return typeof v === "number" ? String(v) : v.replaceAll(/[\t\n]/g, " ");
}

function quote(path: string): string {
  return path.replaceAll("'", "''");
}

/** Runs a gnuplot script with `data` inlined as the datablock `$DATA`. */
async function gnuplot(data: string, script: string[]): Promise<void> {
  await ensurePrograms([{ program: GNUPLOT, pkg: "gnuplot-nox" }]);
  const dir = Deno.makeTempDirSync({ prefix: "cmdop-bench-plot-" });
  try {
    const file = `${dir}/plot.gp`;
    const text = [
      "set datafile separator '\\t'",
      `$DATA << EOD\n${data}EOD`,
      ...script,
      "",
    ].join("\n");
    Deno.writeTextFileSync(file, text);
    const out = await new Deno.Command(GNUPLOT, {
      args: [file],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr).trim();
    if (!out.success) throw new Error(`Gnuplot failed on "${file}": ${stderr}`);
    if (stderr) console.error(`gnuplot: ${stderr}`);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}
