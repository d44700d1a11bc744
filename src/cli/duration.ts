/** parseDuration: "30", "90s", "5m", "2h" → milliseconds, with errors that name the flag. */
import { CliError } from "./errors.ts";

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses a non-negative duration; a bare number is in `defaultUnit`.
 *
 * @example
 * ```ts
 * parseDuration("90s", "--timeout", "s"); // 90000
 * ```
 */
export function parseDuration(text: string, flag: string, defaultUnit: keyof typeof UNITS): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) {
    throw new CliError(`${flag} "${text}" is not a duration`, {
      hint: `use a number of ${unitName(defaultUnit)} or a value like 90s, 5m, 2h`,
    });
  }
  return Math.round(Number(match[1]) * UNITS[match[2] ?? defaultUnit]);
}

function unitName(unit: string): string {
  return { ms: "milliseconds", s: "seconds", m: "minutes", h: "hours", d: "days" }[unit] ?? unit;
}
