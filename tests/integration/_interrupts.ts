/** Interrupt-test helpers: clients in each session mode, their remote pids through marker files, the relay's sockets and sessions. */
import { MAIN, processAlive, waitFor } from "../_harness.ts";

const DENO = Deno.execPath();

/** How a client reaches the machine: `connect exec`, piped `connect HOST` (a shell on stdin), `connect HOST` on a terminal. */
export type Mode = "exec" | "piped" | "pty";

/** A client process, and the pid of the cmdop CLI inside it (under `script` for a terminal). */
export interface Client {
  child: Deno.ChildProcess;
  /** The CLI's pid once known (`script` starts it a moment later). */
  cliPid(): Promise<number>;
  /** Everything written to stdout so far (drained continuously unless `drain` was false). */
  stdout(): string;
  /** The start of what it wrote to stderr, for a failure message. */
  stderr(): string;
  /** Ends stdin and stops reading; waits for the process (up to `timeoutMs`, then kills it) and reports whether it exited. */
  finish(timeoutMs: number): Promise<boolean>;
}

const started = new Set<Deno.ChildProcess>();

/**
 * Starts a client of `machine` that runs `command` (a shell line) there: as
 * `sh -c` for exec, typed into the remote shell otherwise.
 */
export function startClient(
  mode: Mode,
  machine: string,
  command: string,
  env: Record<string, string>,
): Client {
  const cli = ["run", "-A", "--quiet", MAIN, "connect"];
  const { program, args } = mode === "exec"
    ? { program: DENO, args: [...cli, "exec", machine, "--", "sh", "-c", command] }
    : mode === "piped"
    ? { program: DENO, args: [...cli, machine] }
    // `script` gives the CLI a real terminal, so it runs its raw-mode attach.
    : { program: "script", args: scriptArgs([DENO, ...cli, machine]) };
  const child = new Deno.Command(program, {
    args,
    env: { NO_COLOR: "1", ...env },
    stdin: mode === "exec" ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  started.add(child);
  child.status.then(() => started.delete(child));
  let text = "";
  const decoder = new TextDecoder();
  const reading = (async () => {
    for await (const chunk of child.stdout) {
      // Only the start is kept: the output of cat /dev/zero is not for keeping.
      if (text.length < 4096) text += decoder.decode(chunk, { stream: true });
    }
  })().catch(() => {});
  let errors = "";
  const errorDecoder = new TextDecoder();
  const readingErrors = (async () => {
    for await (const chunk of child.stderr) {
      if (errors.length < 2048) errors += errorDecoder.decode(chunk, { stream: true });
    }
  })().catch(() => {});
  const stdin = mode === "exec" ? undefined : child.stdin.getWriter();
  // The remote shell reads this once the session is open; the line stays queued until then.
  stdin?.write(new TextEncoder().encode(`${command}\n`)).catch(() => {});
  return {
    child,
    cliPid: mode === "pty" ? () => cliUnderScript(child.pid) : () => Promise.resolve(child.pid),
    stdout: () => text,
    stderr: () => errors,
    async finish(timeoutMs) {
      await stdin?.close().catch(() => {});
      let timer: ReturnType<typeof setTimeout> | undefined;
      const exited = await Promise.race([
        child.status.then(() => true),
        new Promise<boolean>((r) => timer = setTimeout(() => r(false), timeoutMs)),
      ]);
      clearTimeout(timer);
      if (!exited) {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
        await child.status;
      }
      await reading;
      await readingErrors;
      return exited;
    },
  };
}

/** Kills every client still running (use in `after`). */
export async function killClients(): Promise<void> {
  for (const child of [...started]) {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
    await child.status.catch(() => {});
  }
}

function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The first child of `pid` (Linux). */
/**
 * Arguments for `script` that run `argv` on a terminal of its own. `script` runs its command
 * with `$SHELL -c`; `exec` makes the program the shell's child itself whatever the shell is
 * (dash, /bin/sh when SHELL is unset, forks and waits instead, and holds back a SIGINT meant
 * for the program).
 */
export function scriptArgs(argv: string[]): string[] {
  return ["-qfec", `exec ${argv.map(shellQuote).join(" ")}`, "/dev/null"];
}

/**
 * The pid of the program `script` (pid `scriptPid`) runs, once it is that program (Deno); 0 when
 * script ended first (a CLI refused at once, by a machine gone offline, can end between polls).
 */
export async function cliUnderScript(scriptPid: number): Promise<number> {
  let found = 0;
  await waitFor(`script ${scriptPid} to start the CLI`, async () => {
    const children = await Deno.readTextFile(`/proc/${scriptPid}/task/${scriptPid}/children`)
      .catch(() => "");
    found = Number(children.trim().split(/\s+/)[0] || 0);
    if (found === 0) return !(await processAlive(scriptPid));
    const exe = await Deno.readLink(`/proc/${found}/exe`).catch(() => "");
    return exe === DENO;
  }, 30_000);
  return found;
}

/** Signals a process; false when it was already gone. */
export function signal(pid: number, sig: Deno.Signal): boolean {
  try {
    Deno.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

/** The pid a command wrote to `marker` (`echo $$ > marker`), once it has; undefined if it never did within `timeoutMs`. */
export async function markerPid(marker: string, timeoutMs: number): Promise<number | undefined> {
  let pid: number | undefined;
  await waitFor(`"${marker}"`, async () => {
    const text = await Deno.readTextFile(marker).catch(() => "");
    pid = /^(\d+)\n/.test(text) ? Number(text.trim()) : undefined;
    return pid !== undefined;
  }, timeoutMs).catch(() => {});
  return pid;
}

/** Waits until none of `pids` runs; returns the ones still running at the deadline. */
export async function waitGone(pids: number[], timeoutMs: number): Promise<number[]> {
  let left = pids;
  await waitFor("remote commands to end", async () => {
    const alive = await Promise.all(left.map(processAlive));
    left = left.filter((_, i) => alive[i]);
    return left.length === 0;
  }, timeoutMs).catch(() => {});
  for (const pid of left) signal(pid, "SIGKILL"); // not left behind by a failing test
  return left;
}

/** Sockets the process holds open (Linux: /proc/PID/fd). */
export function openSockets(pid: number): number {
  return [...Deno.readDirSync(`/proc/${pid}/fd`)].filter((fd) => {
    try {
      return Deno.readLinkSync(`/proc/${pid}/fd/${fd.name}`).startsWith("socket:");
    } catch {
      return false; // closed meanwhile
    }
  }).length;
}

/** The relay's log lines of sessions that started and never ended, for a failure message. */
export function unendedSessions(relayStderr: string): string {
  const lines = relayStderr.split("\n");
  const ended = new Set(lines.map((l) => /session (\S+): ended/.exec(l)?.[1]).filter((id) => id));
  const open = lines.filter((l) => {
    const id = /session (\S+): (exec|pty) on /.exec(l)?.[1];
    return id !== undefined && !ended.has(id);
  });
  return `sessions the relay never ended:\n${open.join("\n") || "(none)"}`;
}

/**
 * The relay's TCP connections whose other end is not a socket of one of `agentPids`
 * (`ss -tanp`): a client's, a dead agent's, or one half-closed and never released.
 */
export async function relaySocketsNotToAgents(
  relayUrl: string,
  agentPids: number[],
): Promise<string[]> {
  const port = new URL(relayUrl).port;
  const out = await new Deno.Command("ss", {
    args: ["-tanpH", `( sport = :${port} or dport = :${port} )`],
    stdout: "piped",
    stderr: "null",
  }).output();
  const rows = new TextDecoder().decode(out.stdout).trim().split("\n").filter((l) => l)
    .map((line) => {
      const [state, , , local, peer, ...rest] = line.trim().split(/\s+/);
      const pid = Number(/pid=(\d+)/.exec(rest.join(" "))?.[1] ?? 0); // 0: no process holds it
      return { state, local, peer, pid };
    });
  const owner = new Map(rows.map((r) => [r.local, r.pid]));
  return rows
    // TIME-WAIT is the kernel's, after the relay closed its end: no descriptor is held.
    .filter((r) => !["LISTEN", "TIME-WAIT"].includes(r.state) && r.local.endsWith(`:${port}`))
    .filter((r) => !agentPids.includes(owner.get(r.peer) ?? 0))
    .map((r) => `${r.state} ${r.local} <- ${r.peer} (pid ${owner.get(r.peer) ?? "gone"})`);
}

/** Runs `task(0)`, `task(1)`, … at most `width` at a time, while `more()` says so. */
export async function inBatches(
  more: () => boolean,
  width: number,
  task: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (more()) await task(next++);
  };
  await Promise.all(Array.from({ length: width }, worker));
}
