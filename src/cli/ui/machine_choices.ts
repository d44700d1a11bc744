/** What the machine picker lists: order by recent use, fuzzy filtering as the user types, and how each machine reads. */
import type { Machine } from "../../../gen/cmdop/v1/machine_pb.ts";
import { formatAgo } from "./table.ts";

/** One line of the picker. */
export interface MachineChoice {
  value: Machine;
  name: string;
  /** Shown after the question once chosen. */
  short: string;
  /** Shown under the list for the highlighted machine. */
  description: string;
}

/**
 * The picker's base order: machines used recently first, most recent first
 * (`recent` holds machine ids), then the others with online ones first, each
 * group by name.
 *
 * @example
 * ```ts
 * orderMachines(machines, ["3f2c…"]); // the machine used last comes first
 * ```
 */
export function orderMachines(machines: readonly Machine[], recent: readonly string[]): Machine[] {
  const rank = new Map(recent.map((id, index) => [id, index]));
  const rankOf = (m: Machine) => rank.get(m.id) ?? recent.length;
  return [...machines].sort((a, b) =>
    rankOf(a) - rankOf(b) ||
    Number(b.online) - Number(a.online) ||
    machineName(a).localeCompare(machineName(b)) ||
    a.hostname.localeCompare(b.hostname)
  );
}

/**
 * Narrows `ordered` to the machines whose hostname or display name fuzzily
 * matches `term`, best match first; equal matches keep their base order. An
 * empty term keeps everything as it is.
 *
 * @example
 * ```ts
 * filterMachines(ordered, "wb1"); // finds "web-1"
 * ```
 */
export function filterMachines(ordered: readonly Machine[], term: string | undefined): Machine[] {
  const query = (term ?? "").trim();
  if (!query) return [...ordered];
  return ordered
    .map((machine, index) => {
      const scores = [machine.hostname, machine.displayName]
        .map((text) => fuzzyScore(query, text))
        .filter((score): score is number => score !== undefined);
      return { machine, index, score: scores.length ? Math.max(...scores) : undefined };
    })
    .filter((entry) => entry.score !== undefined)
    .sort((a, b) => b.score! - a.score! || a.index - b.index)
    .map((entry) => entry.machine);
}

/**
 * How well `query` matches `text`, ignoring case: undefined when its
 * characters do not all occur in `text` in order; otherwise higher for a
 * match that is contiguous, starts the text or a word, and comes early.
 *
 * @example
 * ```ts
 * fuzzyScore("web", "web-1")! > fuzzyScore("web", "db-web")!; // true
 * fuzzyScore("xyz", "web-1"); // undefined
 * ```
 */
export function fuzzyScore(query: string, text: string): number | undefined {
  const q = query.toLowerCase();
  const t = text.toLowerCase();
  if (!q) return 0;
  const at = t.indexOf(q);
  if (at >= 0) {
    // Any substring beats any scattered match; a prefix or a word start beats the rest.
    const start = at === 0 ? 200 : startsWord(t, at) ? 100 : 0;
    return 1000 + start - at;
  }
  let score = 0;
  let from = 0;
  let previous = -2;
  for (const ch of q) {
    const found = t.indexOf(ch, from);
    if (found < 0) return undefined;
    score += found === previous + 1 ? 10 : startsWord(t, found) ? 6 : 1;
    score -= Math.min(found - from, 10) * 0.1;
    previous = found;
    from = found + 1;
  }
  return score;
}

function startsWord(text: string, at: number): boolean {
  return at === 0 || /[^a-z0-9]/.test(text[at - 1]);
}

/** The name a person gave the machine, else its hostname. */
export function machineName(m: Machine): string {
  return m.displayName || m.hostname;
}

/** Widths of the picker's name and hostname columns. */
export interface ChoiceColumns {
  name: number;
  hostname: number;
}

/**
 * The column widths that line up every machine's picker line.
 *
 * @example
 * ```ts
 * const columns = choiceColumns(machines);
 * ```
 */
export function choiceColumns(machines: readonly Machine[]): ChoiceColumns {
  const columns = { name: 0, hostname: 0 };
  for (const m of machines) {
    columns.name = Math.max(columns.name, machineName(m).length);
    if (machineName(m) !== m.hostname) {
      columns.hostname = Math.max(columns.hostname, m.hostname.length);
    }
  }
  return columns;
}

/**
 * A picker line: name, hostname when it differs, and online state marked, in
 * columns as wide as `columns` says (see {@linkcode choiceColumns}).
 *
 * @example
 * ```ts
 * machineChoice(machine, Date.now()).name; // "Web One  web-1  ● online"
 * ```
 */
export function machineChoice(
  m: Machine,
  nowMs: number,
  columns: ChoiceColumns = choiceColumns([m]),
): MachineChoice {
  const name = machineName(m);
  const host = name === m.hostname ? "" : m.hostname;
  const state = m.online ? "● online" : "○ offline";
  const platform = [m.os, m.arch].filter(Boolean).join("/");
  const cells = [name.padEnd(columns.name)];
  if (columns.hostname > 0) cells.push(host.padEnd(columns.hostname));
  cells.push(state);
  return {
    value: m,
    name: cells.join("  "),
    short: name,
    description: [
      m.id,
      platform,
      `last heartbeat ${formatAgo(Number(m.lastHeartbeatMs), nowMs)}`,
    ].filter(Boolean).join(" · "),
  };
}

/**
 * The confirm step's question: name, hostname, online state and last heartbeat.
 *
 * @example
 * ```ts
 * confirmMessage(machine, Date.now()); // "Web One\n  hostname …\n  Attach?"
 * ```
 */
export function confirmMessage(m: Machine, nowMs: number): string {
  const last = Number(m.lastHeartbeatMs);
  const heartbeat = last ? `${formatAgo(last, nowMs)} (${new Date(last).toISOString()})` : "never";
  return [
    machineName(m),
    `  hostname        ${m.hostname}`,
    `  status          ${m.online ? "● online" : "○ offline"}`,
    `  last heartbeat  ${heartbeat}`,
    "  Attach?",
  ].join("\n");
}
