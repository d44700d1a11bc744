/** Finding the processes of a terminal's session, and hanging them up, then killing what remains. */

const SESSION_POLL_MS = 25;
/** After SIGKILL, how long close() waits for processes stuck in the kernel. */
const KILL_WAIT_MS = 5_000;

/** Lists the live processes of a session: all of them, or those of `known` still there. */
export type SessionMembers = (known?: number[]) => Promise<number[]>;

/** How to list the session led by `sid` on terminal `tty`; on macOS, call it before the hang-up. */
export async function sessionMembers(sid: number, tty: string): Promise<SessionMembers> {
  if (Deno.build.os === "linux") {
    return (known) => Promise.resolve(linuxSessionMembers(sid, known));
  }
  // macOS: found by controlling terminal, which the hang-up takes away, so listed before it.
  const initial = await psLive(["-t", tty.replace(/^\/dev\//, "")]);
  return (known = initial) =>
    known.length === 0 ? Promise.resolve([]) : psLive(["-p", known.join(",")]);
}

function linuxSessionMembers(sid: number, known?: number[]): number[] {
  const pids = known ??
    Array.from(Deno.readDirSync("/proc"), (entry) => Number(entry.name)).filter(Number.isInteger);
  return pids.filter((pid) => {
    let stat: string;
    try {
      stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    } catch {
      return false; // Exited meanwhile.
    }
    // "pid (comm) state ppid pgrp session ...": comm may contain spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[3]) === sid && fields[0] !== "Z";
  });
}

async function psLive(selection: string[]): Promise<number[]> {
  const { stdout } = await new Deno.Command("ps", {
    args: [...selection, "-o", "pid=,stat="],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(stdout).split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter(([pid, stat]) => pid && stat && !stat.startsWith("Z"))
    .map(([pid]) => Number(pid));
}

/** SIGHUP to everything in the session, SIGKILL to what is left after `graceMs`. */
export async function terminateSession(
  sid: number,
  members: SessionMembers,
  graceMs: number,
): Promise<void> {
  // Listing needs /proc (or ps); without it the leader and its process group are still signalled.
  const list = (known?: number[]) => members(known).catch(() => []);
  const signal = (pids: number[], name: Deno.Signal) => {
    // The negative id reaches the leader's process group even when listing missed a fresh child;
    // the leader itself is named in case it never became one.
    for (const pid of new Set([-sid, sid, ...pids])) {
      try {
        Deno.kill(pid, name);
      } catch {
        // Already gone.
      }
    }
  };
  const pause = () => new Promise((resolve) => setTimeout(resolve, SESSION_POLL_MS));
  let left = await list();
  signal(left, "SIGHUP");
  // A stopped job acts on SIGHUP only once continued, as after a real hang-up.
  signal(left, "SIGCONT");
  const killAt = Date.now() + graceMs;
  // Only known processes are checked while waiting: a full listing reads /proc for every process.
  while (left.length > 0 && Date.now() < killAt) {
    await pause();
    left = await list(left);
  }
  // A full listing again: a process may have started another while it was hanging up.
  const giveUpAt = Date.now() + KILL_WAIT_MS;
  for (left = await list(); left.length > 0 && Date.now() < giveUpAt; left = await list(left)) {
    signal(left, "SIGKILL");
    await pause();
  }
}
