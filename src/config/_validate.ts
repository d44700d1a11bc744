/** Small hand-written validators for cmdop's JSON files; every failure names the offending field. */

/**
 * A value in a JSON file does not have the expected shape.
 *
 * `field` is a path such as `workspaces[2].name` (empty for the whole document).
 * `readJsonFile` turns it into a `ConfigFileError` that also names the file.
 *
 * @example
 * ```ts
 * throw new ShapeError("workspaces[2].name", "must be a string");
 * // message: workspaces[2].name must be a string
 * ```
 */
export class ShapeError extends Error {
  constructor(readonly field: string, problem: string) {
    super(`${field === "" ? "the document" : field} ${problem}`);
    this.name = "ShapeError";
  }
}

/** Turns a parsed JSON value into a typed one, or throws a {@linkcode ShapeError}. */
export type Validator<T> = (value: unknown) => T;

/** The path of a property of the value at `field`: `fieldPath("a[1]", "b")` is `a[1].b`. */
export function fieldPath(field: string, key: string | number): string {
  if (typeof key === "number") return `${field}[${key}]`;
  return field === "" ? key : `${field}.${key}`;
}

/** A plain JSON object (not an array, not null). */
export function expectObject(
  value: unknown,
  field: string,
): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ShapeError(field, "must be an object");
  }
  return value as Record<string, unknown>;
}

/** A string, empty or not. */
export function expectString(value: unknown, field: string): string {
  if (typeof value !== "string") {
    throw new ShapeError(field, "must be a string");
  }
  return value;
}

/** A string, or `undefined` when absent or `null` (other programs write `null` for "unset"). */
export function optionalString(
  value: unknown,
  field: string,
): string | undefined {
  return value === undefined || value === null ? undefined : expectString(value, field);
}

/** A finite number. */
export function expectNumber(value: unknown, field: string): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new ShapeError(field, "must be a number");
  }
  return value;
}

/** A finite number, or `undefined` when absent or `null`. */
export function optionalNumber(
  value: unknown,
  field: string,
): number | undefined {
  return value === undefined || value === null ? undefined : expectNumber(value, field);
}

/** An array whose items each pass `item`, which receives the item's own field path. */
export function expectArray<T>(
  value: unknown,
  field: string,
  item: (value: unknown, field: string) => T,
): T[] {
  if (!Array.isArray(value)) throw new ShapeError(field, "must be an array");
  return value.map((entry, index) => item(entry, fieldPath(field, index)));
}

/**
 * The `version` of a cmdop file: absent means 1; a newer version is refused so that
 * an older cmdop never rewrites, and so loses, fields it does not know.
 */
export function expectVersion(value: unknown, supported: number): number {
  if (value === undefined) return supported;
  const version = expectNumber(value, "version");
  if (version > supported) {
    throw new ShapeError(
      "version",
      `is ${version}, newer than this cmdop supports (${supported})`,
    );
  }
  return version;
}
