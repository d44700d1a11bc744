/** Child processes of the cmdop benchmarks: spawned with a raised fd limit, their stderr watched, their RSS and CPU read from /proc. */

import { registerCleanup } from "./_cleanup.ts";

/** The open-file limit given to relays and load generators (the machines' hard limit). */
export const FD_LIMIT = 20_000;

/** A running child whose stderr (and optionally stdout) is collected as text. */
export interface Proc {
  pid: number;
  /** stderr so far. */
  stderr(): string;
  /** stdout so far (empty unless spawned with `stdout: "collect"`). */
  stdout(): string;
  /** Resolves with the exit code. */
  status: Promise<number>;
  /** Waits until `pattern` matches stderr (or stdout); returns the match. */
  waitFor(
    pattern: RegExp,
    timeoutMs?: number,
    source?: "stderr" | "stdout",
  ): Promise<RegExpExecArray>;
  /** Sends a signal (ignored when gone) and waits for the exit. */
  stop(signal?: Deno.Signal): Promise<number>;
}

/** Options of {@linkcode spawnProc}. */
export interface SpawnOptions {
  env?: Record<string, string>;
  /** `"collect"` keeps stdout as text; default discards it. */
  stdout?: "collect" | "null";
  /** Raise the open-file limit to {@linkcode FD_LIMIT} through `sh -c 'ulimit -n …; exec …'`. */
  raiseFdLimit?: boolean;
}

/**
 * Spawns `cmd args`, collecting stderr, and registers a SIGKILL for it on exit
 * so that no relay or agent outlives the run.
 *
 * @example
 * ```ts
 * const p = spawnProc(Deno.execPath(), ["run", "-A", "main.ts", "relay", "serve"], { raiseFdLimit: true });
 * const [, url] = await p.waitFor(/listening on (\S+)/);
 * await p.stop();
 * ```
 */
export function spawnProc(cmd: string, args: string[], options: SpawnOptions = {}): Proc {
  const [program, argv] = options.raiseFdLimit
    ? ["/bin/sh", ["-c", `ulimit -n ${FD_LIMIT} && exec "$@"`, "sh", cmd, ...args]]
    : [cmd, args];
  const child = new Deno.Command(program, {
    args: argv,
    env: options.env,
    stdin: "null",
    stdout: options.stdout === "collect" ? "piped" : "null",
    stderr: "piped",
  }).spawn();
  const release = registerCleanup(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
  });
  const err = collect(child.stderr);
  const out = options.stdout === "collect" ? collect(child.stdout) : undefined;
  const status = child.status.then(async (s) => {
    release();
    await Promise.all([err.done, out?.done]);
    return s.code;
  });
  let exited = false;
  status.then(() => exited = true);
  return {
    pid: child.pid,
    stderr: err.text,
    stdout: () => out?.text() ?? "",
    status,
    async waitFor(pattern, timeoutMs = 30_000, source = "stderr") {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        const text = source === "stderr" ? err.text() : out?.text() ?? "";
        const match = pattern.exec(text);
        if (match) return match;
        if (exited || performance.now() > deadline) {
          const why = exited ? "exited" : `waited ${timeoutMs} ms`;
          throw new Error(
            `Process "${cmd} ${
              args.slice(0, 6).join(" ")
            }" ${why} without printing "${pattern.source}"; ` +
              `stderr: ${err.text().slice(-800)}`,
          );
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async stop(signal = "SIGTERM") {
      try {
        child.kill(signal);
      } catch { /* exited */ }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* exited */ }
      }, 10_000);
      const code = await status;
      clearTimeout(timer);
      return code;
    },
  };
}

function collect(stream: ReadableStream<Uint8Array>) {
  let text = "";
  const decoder = new TextDecoder();
  const done = (async () => {
    for await (const chunk of stream) {
      text += decoder.decode(chunk, { stream: true });
      // Long runs log a line per session; only the recent part is ever searched.
      if (text.length > 4_000_000) text = text.slice(-1_000_000);
    }
  })().catch(() => {});
  return { text: () => text, done };
}

/**
 * Resident memory of a process in bytes (VmRSS), or `undefined` once it is gone.
 *
 * @example
 * ```ts
 * const bytes = rssBytes(relay.pid);
 * ```
 */
export function rssBytes(pid: number): number | undefined {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status);
    return kb ? Number(kb[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * CPU time a process has used so far (user + system), in seconds.
 *
 * @example
 * ```ts
 * const before = cpuSeconds(pid);
 * ```
 */
export function cpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of stat, counted in clock ticks (100 per second on Linux).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * Share of one core a process used over `ms` milliseconds (1.0 = a whole core).
 *
 * @example
 * ```ts
 * const idle = await cpuShare(relay.pid, 10_000);
 * ```
 */
export async function cpuShare(pid: number, ms: number): Promise<number> {
  const before = cpuSeconds(pid);
  const start = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  return (cpuSeconds(pid) - before) / ((performance.now() - start) / 1000);
}

/**
 * A free TCP port on 127.0.0.1 (bound and released, so a restart can reuse it).
 *
 * @example
 * ```ts
 * const port = freePort();
 * ```
 */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}
