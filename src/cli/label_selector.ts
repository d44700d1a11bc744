/** labelSelector: the `--label key=value` flags that pick machines, checked and read into one selector. */
import type { Machine } from "../../gen/cmdop/v1/machine_pb.ts";
import {
  formatLabels,
  LabelError,
  type Labels,
  matchesLabels,
  parseLabels,
} from "../lib/labels.ts";
import { CliError } from "./errors.ts";

/**
 * Reads repeated `--label` values; every one must match. A malformed label is an error
 * naming it.
 *
 * @example
 * ```ts
 * labelSelector(["role=web", "env=prod"]); // { role: "web", env: "prod" }
 * ```
 */
export function labelSelector(texts: readonly string[] | undefined): Labels {
  try {
    return parseLabels(texts ?? []);
  } catch (error) {
    if (!(error instanceof LabelError)) throw error;
    throw new CliError(`--label: ${error.message}`, {
      hint: "select machines with --label key=value (repeatable; all must match)",
    });
  }
}

/**
 * The machines whose labels carry every label of the selector.
 *
 * @example
 * ```ts
 * selectByLabels(machines, { role: "web" });
 * ```
 */
export function selectByLabels(machines: readonly Machine[], selector: Labels): Machine[] {
  return machines.filter((m) => matchesLabels(m.labels ?? {}, selector));
}

/**
 * A selector as the user typed it, for messages: `--label env=prod --label role=web`.
 *
 * @example
 * ```ts
 * describeSelector({ role: "web" }); // "--label role=web"
 * ```
 */
export function describeSelector(selector: Labels): string {
  const text = formatLabels(selector);
  return text ? text.split(",").map((l) => `--label ${l}`).join(" ") : "--all";
}
