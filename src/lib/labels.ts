/** Machine labels (`env=prod`): their syntax and bounds, shared by the agent, the relay and the CLI. */

/** A machine's labels, key → value. */
export type Labels = Record<string, string>;

/** The bounds the relay enforces (and the agent and CLI check first, for a clearer error). */
export const LABEL_LIMITS = {
  /** Labels on one machine. */
  count: 32,
  /** Characters of a key. */
  keyLength: 63,
  /** Characters of a value. */
  valueLength: 128,
} as const;

/** A key starts with a letter or digit; then letters, digits, `.`, `_`, `-` and `/`. */
const KEY = /^[A-Za-z0-9][A-Za-z0-9._/-]*$/;
/** A value may be empty; otherwise letters, digits and `.`, `_`, `-`, `:`, `/`, `@`, `+`. */
const VALUE = /^[A-Za-z0-9._:/@+-]*$/;

/** A label that breaks the syntax or a bound; the message names the label and the rule. */
export class LabelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LabelError";
  }
}

/**
 * Reads one `key=value` label as typed on a command line.
 *
 * @example
 * ```ts
 * parseLabel("role=web"); // ["role", "web"]
 * parseLabel("role"); // throws LabelError: label "role" is not key=value
 * ```
 */
export function parseLabel(text: string): [string, string] {
  const eq = text.indexOf("=");
  if (eq < 0) throw new LabelError(`label "${text}" is not key=value`);
  const key = text.slice(0, eq);
  const value = text.slice(eq + 1);
  checkLabel(key, value);
  return [key, value];
}

/**
 * Reads repeated `key=value` labels into one object; a key given twice is an error.
 *
 * @example
 * ```ts
 * parseLabels(["env=prod", "role=web"]); // { env: "prod", role: "web" }
 * ```
 */
export function parseLabels(texts: readonly string[]): Labels {
  const labels: Labels = {};
  for (const text of texts) {
    const [key, value] = parseLabel(text);
    if (Object.hasOwn(labels, key)) throw new LabelError(`label "${key}" is given twice`);
    labels[key] = value;
  }
  checkLabels(labels);
  return labels;
}

/**
 * Checks a whole set of labels against the syntax and {@linkcode LABEL_LIMITS}.
 *
 * @example
 * ```ts
 * checkLabels({ env: "prod" }); // passes
 * ```
 */
export function checkLabels(labels: Labels): void {
  const count = Object.keys(labels).length;
  if (count > LABEL_LIMITS.count) {
    throw new LabelError(`${count} labels is more than the limit of ${LABEL_LIMITS.count}`);
  }
  for (const [key, value] of Object.entries(labels)) checkLabel(key, value);
}

function checkLabel(key: string, value: string): void {
  const shown = `${key}=${value}`;
  if (key.length > LABEL_LIMITS.keyLength) {
    throw new LabelError(
      `label "${shown}": key is longer than the limit of ${LABEL_LIMITS.keyLength} characters`,
    );
  }
  if (value.length > LABEL_LIMITS.valueLength) {
    throw new LabelError(
      `label "${shown}": value is longer than the limit of ${LABEL_LIMITS.valueLength} characters`,
    );
  }
  if (!KEY.test(key)) {
    throw new LabelError(
      `label "${shown}": key must start with a letter or digit and hold only letters, ` +
        "digits, '.', '_', '-' and '/'",
    );
  }
  if (!VALUE.test(value)) {
    throw new LabelError(
      `label "${shown}": value may hold only letters, digits, '.', '_', '-', ':', '/', '@' and '+'`,
    );
  }
}

/**
 * Whether a machine's labels carry every wanted one (an empty selector matches all).
 *
 * @example
 * ```ts
 * matchesLabels({ env: "prod", role: "web" }, { role: "web" }); // true
 * ```
 */
export function matchesLabels(labels: Readonly<Labels>, wanted: Readonly<Labels>): boolean {
  return Object.entries(wanted).every(([k, v]) => Object.hasOwn(labels, k) && labels[k] === v);
}

/**
 * Labels as one line, sorted by key: `env=prod,role=web`.
 *
 * @example
 * ```ts
 * formatLabels({ role: "web", env: "prod" }); // "env=prod,role=web"
 * ```
 */
export function formatLabels(labels: Readonly<Labels>): string {
  return Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join(",");
}
