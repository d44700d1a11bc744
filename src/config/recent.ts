/** Which machines were used most recently, per workspace, so the picker can list them first (`CMDOP_HOME/recent.json`). */

import { readJsonFile, updateJsonFile } from "./json_file.ts";
import { configFilePath } from "./paths.ts";
import {
  expectArray,
  expectNumber,
  expectObject,
  expectString,
  expectVersion,
  fieldPath,
} from "./_validate.ts";

/** How many machines `recent.json` remembers in all; the least recently used go first. */
export const RECENT_LIMIT = 200;

/** One use of one machine of one workspace. */
export interface RecentUse {
  workspace: string;
  machine_id: string;
  last_used_ms: number;
}

/** The content of `recent.json`: `{ "version": 1, "entries": [RecentUse, …] }`, most recent first. */
export interface RecentFile {
  version: 1;
  entries: RecentUse[];
}

/**
 * Validates a parsed `recent.json`.
 *
 * @example
 * ```ts
 * parseRecentFile({ version: 1, entries: [] });
 * ```
 */
export function parseRecentFile(value: unknown): RecentFile {
  const root = expectObject(value, "");
  expectVersion(root.version, 1);
  const entries = expectArray(root.entries ?? [], "entries", (item, at) => {
    const entry = expectObject(item, at);
    return {
      workspace: expectString(entry.workspace, fieldPath(at, "workspace")),
      machine_id: expectString(entry.machine_id, fieldPath(at, "machine_id")),
      last_used_ms: expectNumber(
        entry.last_used_ms,
        fieldPath(at, "last_used_ms"),
      ),
    };
  });
  return { version: 1, entries };
}

/**
 * Records that a machine was used at `now()`, keeping at most {@linkcode RECENT_LIMIT}
 * entries across all workspaces.
 *
 * @example
 * ```ts
 * await touchRecent(home, "prod", machine.id, ctx.now);
 * ```
 */
export async function touchRecent(
  home: string,
  workspace: string,
  machineId: string,
  now: () => number,
): Promise<void> {
  await updateJsonFile(
    configFilePath(home, "recent"),
    (current): RecentFile => {
      const others = (current?.entries ?? []).filter((e) =>
        e.workspace !== workspace || e.machine_id !== machineId
      );
      const entries = [
        { workspace, machine_id: machineId, last_used_ms: now() },
        ...others,
      ]
        .sort((a, b) => b.last_used_ms - a.last_used_ms)
        .slice(0, RECENT_LIMIT);
      return { version: 1, entries };
    },
    parseRecentFile,
  );
}

/**
 * Machine ids of `workspace`, most recently used first.
 *
 * @example
 * ```ts
 * const order = await recentOrder(home, "prod");
 * ```
 */
export async function recentOrder(
  home: string,
  workspace: string,
): Promise<string[]> {
  const file = await readJsonFile(
    configFilePath(home, "recent"),
    parseRecentFile,
  );
  return (file?.entries ?? [])
    .filter((e) => e.workspace === workspace)
    .sort((a, b) => b.last_used_ms - a.last_used_ms)
    .map((e) => e.machine_id);
}

/**
 * Sorts machines for a picker: those in `order` first, in that order, then the rest in
 * their original order. Does not change `items`.
 *
 * @example
 * ```ts
 * const sorted = sortByRecentUse(machines, await recentOrder(home, "prod"), (m) => m.id);
 * ```
 */
export function sortByRecentUse<T>(
  items: readonly T[],
  order: readonly string[],
  idOf: (item: T) => string,
): T[] {
  const rank = new Map(order.map((id, index) => [id, index]));
  const rankOf = (item: T) => rank.get(idOf(item)) ?? order.length;
  return items
    .map((item, index) => ({ item, index }))
    .sort((a, b) => rankOf(a.item) - rankOf(b.item) || a.index - b.index)
    .map(({ item }) => item);
}
