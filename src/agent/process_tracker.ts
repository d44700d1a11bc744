/** ProcessTracker: the agent's record of the process sessions its commands run in, so none outlives the agent. */

/** A command's session: its leader's pid (which is the session id) and when the leader started. */
interface Tracked {
  sid: number;
  /** The leader's start time in clock ticks since boot (`/proc/PID/stat` field 22). */
  start: number;
}

/** What the agent writes to its state folder while commands run. */
interface TrackerFile {
  boot_id: string;
  sessions: Tracked[];
}

const FILE_NAME = "running_sessions.json";
const BOOT_ID_PATH = "/proc/sys/kernel/random/boot_id";

/**
 * Every command the agent starts leads a session of its own (exec: `detached`,
 * terminals: `setsid`). The tracker keeps the live ones in memory and, on
 * Linux, in `<stateDir>/running_sessions.json` with the boot id: an agent that
 * dies by SIGKILL cannot clean up, so the next one reads the file and kills
 * what is still there ({@linkcode reapLeftovers}). A process counts as part of
 * a recorded session only if it is in that session and started no earlier
 * than its leader, and only in the same boot: a reused pid is never hit.
 *
 * @example
 * ```ts
 * const tracker = new ProcessTracker({ stateDir, log });
 * const untrack = tracker.track(child.pid);
 * // … when the session is over:
 * untrack();
 * ```
 */
export class ProcessTracker {
  #live = new Map<number, Tracked>();
  #file: string | undefined;
  #bootId: string | undefined;
  #log: (message: string) => void;
  #writeFailed = false;

  constructor(options: { stateDir?: string; log?: (message: string) => void } = {}) {
    this.#log = options.log ?? (() => {});
    this.#bootId = readBootId();
    // Without a boot id a recorded pid could not be told from a reused one: nothing is written.
    this.#file = options.stateDir && this.#bootId ? `${options.stateDir}/${FILE_NAME}` : undefined;
  }

  /** Number of sessions tracked now. */
  get size(): number {
    return this.#live.size;
  }

  /** Records the session led by `sid`; the returned function forgets it (idempotent). */
  track(sid: number): () => void {
    const entry = { sid, start: startTime(sid) ?? 0 };
    this.#live.set(sid, entry);
    this.#save();
    return () => {
      if (this.#live.get(sid) !== entry) return;
      this.#live.delete(sid);
      this.#save();
    };
  }

  /**
   * Ends every tracked session: SIGTERM to each of their processes, SIGKILL to
   * what is left after `graceMs`. For an agent that is being stopped.
   */
  async endAll(graceMs = 1_000): Promise<void> {
    const sessions = [...this.#live.values()];
    if (sessions.length === 0) return;
    signalSessions(sessions, "SIGTERM");
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && membersOf(sessions).length > 0) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    signalSessions(sessions, "SIGKILL");
    this.#live.clear();
    this.#save();
  }

  #save(): void {
    if (!this.#file) return;
    const content: TrackerFile = { boot_id: this.#bootId!, sessions: [...this.#live.values()] };
    try {
      // Written whole and renamed: a crash mid-write leaves the previous list, never half of one.
      const temporary = `${this.#file}.tmp`;
      Deno.writeTextFileSync(temporary, JSON.stringify(content), { mode: 0o600 });
      Deno.renameSync(temporary, this.#file);
    } catch (error) {
      if (!this.#writeFailed) {
        this.#writeFailed = true;
        this.#log(
          `cannot record running commands in "${this.#file}": ${(error as Error).message}; ` +
            "commands left by a crash will not be ended at the next start",
        );
      }
    }
  }
}

/**
 * Kills the processes of every session recorded by an agent that did not
 * clean up (killed, or the machine lost power mid-write), and empties the
 * record. Returns how many processes it killed.
 *
 * @example
 * ```ts
 * const killed = await reapLeftovers(stateDir);
 * if (killed > 0) log(`ended ${killed} processes left by the previous run`);
 * ```
 */
export async function reapLeftovers(stateDir: string): Promise<number> {
  const path = `${stateDir}/${FILE_NAME}`;
  let recorded: TrackerFile;
  try {
    recorded = JSON.parse(await Deno.readTextFile(path));
  } catch {
    return 0; // None recorded, or unreadable: nothing can be safely killed.
  }
  let killed = 0;
  if (recorded.boot_id === readBootId() && Array.isArray(recorded.sessions)) {
    const sessions = recorded.sessions.filter((s) =>
      Number.isInteger(s?.sid) && s.sid > 1 && Number.isInteger(s.start)
    );
    killed = signalSessions(sessions, "SIGKILL");
  }
  await Deno.remove(path).catch(() => {});
  return killed;
}

/** Sends `signal` to every process of the given sessions; returns how many it reached. */
function signalSessions(sessions: Tracked[], signal: Deno.Signal): number {
  let reached = 0;
  for (const pid of membersOf(sessions)) {
    try {
      Deno.kill(pid, signal);
      reached++;
    } catch {
      // Gone meanwhile.
    }
  }
  return reached;
}

/**
 * Live processes in the given sessions. Linux does not reuse a pid while a
 * session still bears it as its id, so when a process with the leader's pid
 * exists but started at another time, the recorded session is over and its
 * id belongs to someone else: it is left alone.
 */
function membersOf(sessions: Tracked[]): number[] {
  if (sessions.length === 0) return [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync("/proc")];
  } catch {
    // No /proc (macOS): at least the leaders' process groups.
    return sessions.map((s) => -s.sid);
  }
  const current = new Map<number, number>();
  for (const s of sessions) {
    const leader = readStat(s.sid);
    if (!leader || leader.start === s.start) current.set(s.sid, s.start);
  }
  const members: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry.name)) continue;
    const pid = Number(entry.name);
    const stat = readStat(pid);
    if (!stat || stat.state === "Z" || pid === Deno.pid) continue;
    const start = current.get(stat.sid);
    if (start !== undefined && stat.start >= start) members.push(pid);
  }
  return members;
}

interface Stat {
  state: string;
  sid: number;
  start: number;
}

/** Fields of `/proc/PID/stat`; the command name in parentheses may itself hold spaces and parentheses. */
function readStat(pid: number): Stat | undefined {
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
    // rest[0] is field 3 (state); field N is rest[N - 3].
    return { state: rest[0], sid: Number(rest[3]), start: Number(rest[19]) };
  } catch {
    return undefined;
  }
}

function startTime(pid: number): number | undefined {
  return readStat(pid)?.start;
}

function readBootId(): string | undefined {
  try {
    return Deno.readTextFileSync(BOOT_ID_PATH).trim() || undefined;
  } catch {
    return undefined;
  }
}
