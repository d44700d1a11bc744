/** Operator log lines of the relay and the agent: plain text for people, or one JSON object per line for collectors. */

/** `text`: `TIME message key=value…`; `json`: `{"time","level","msg",…fields}`. */
export type LogFormat = "text" | "json";

/** Extra facts of a line; `level` defaults to `info`. Never put a secret in one. */
export type LogFields = Record<string, string | number | boolean | undefined> & {
  level?: "debug" | "info" | "warn" | "error";
};

/** Writes one log line; existing callers pass a message only. */
export type Logger = (message: string, fields?: LogFields) => void;

/**
 * A logger writing whole lines through `write` (one call per line, so lines from
 * concurrent sessions never interleave).
 *
 * @example
 * ```ts
 * const log = createLogger("json", (line) => void Deno.stderr.write(enc.encode(line)), Date.now);
 * log("rpc", { method: "MachineService/List", code: "ok", ms: 3 });
 * // {"time":"2026-12-02T01:00:00.000Z","level":"info","msg":"rpc","method":…}
 * ```
 */
export function createLogger(
  format: LogFormat,
  write: (line: string) => void,
  now: () => number,
): Logger {
  if (format === "json") {
    return (message, fields) => {
      const { level = "info", ...rest } = fields ?? {};
      const time = new Date(now()).toISOString();
      write(`${JSON.stringify({ time, level, msg: message, ...rest })}\n`);
    };
  }
  return (message, fields) => {
    let line = `${new Date(now()).toISOString()} ${message}`;
    for (const [key, value] of Object.entries(fields ?? {})) {
      if (value === undefined || key === "level") continue;
      line += ` ${key}=${textValue(value)}`;
    }
    write(`${line}\n`);
  };
}

/** Quotes a value only when a space or quote would make the line ambiguous. */
function textValue(value: string | number | boolean): string {
  const text = String(value);
  return /^[^\s"=]*$/.test(text) && text !== "" ? text : JSON.stringify(text);
}
