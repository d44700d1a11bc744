/** OpenSSH baselines: exec round trip (new and multiplexed connection), bulk output and keystroke echo, direct and through a jump host. */

import { measureEchoOfCommand } from "./_echo.ts";
import { type BulkRead, repeat, timeBulkRead, timeCommand } from "./_run.ts";
import type { SshServer } from "./_sshd.ts";
import { type Measurement, summarizeLatency, summarizeRate } from "./_stats.ts";

const SSH = "/usr/bin/ssh";

/** How many times to run a latency measurement. */
export interface RunOptions {
  /** Timed runs. */
  runs: number;
  /** Untimed runs first. */
  warmup: number;
}

/** Tool name of the figures taken through the jump host (`ssh -J hop host`). */
export const SSH_JUMP = "ssh -J";

/** The tool, the arguments and a label suffix of a direct or a jump-host figure. */
function route(server: SshServer, jump: boolean, extra: string[]) {
  return jump
    ? { tool: SSH_JUMP, args: server.jumpArgs(extra), via: ", via jump host" }
    : { tool: "ssh", args: server.sshArgs(extra), via: "" };
}

/**
 * `ssh host true` with a full TCP + key exchange + auth handshake every time
 * (multiplexing explicitly off); with `jump`, `ssh -J hop host true`: two
 * handshakes, the second through a channel of the first.
 *
 * @example
 * ```ts
 * const m = await measureSshExec(server, { runs: 50, warmup: 3 });
 * const viaJump = await measureSshExec(server, { runs: 50, warmup: 3 }, true);
 * ```
 */
export async function measureSshExec(
  server: SshServer,
  options: RunOptions,
  jump = false,
): Promise<Measurement> {
  const { tool, args, via } = route(server, jump, [
    ...["-o", "ControlMaster=no", "-o", "ControlPath=none"],
  ]);
  return await timeSsh(
    tool,
    [...args, "true"],
    "exec.new",
    `exec true, new connection${via}`,
    options,
  );
}

/** Times `ssh args` over the runs, as one latency measurement. */
async function timeSsh(
  tool: string,
  args: string[],
  metric: string,
  label: string,
  options: RunOptions,
): Promise<Measurement> {
  const samples = await repeat(options.runs, options.warmup, () => timeCommand(SSH, args));
  return {
    tool,
    metric,
    label,
    stats: summarizeLatency(samples),
    details: { command: ["ssh", ...args], samplesMs: samples },
  };
}

/**
 * `ssh -S socket host true` over one ControlMaster connection started
 * beforehand, so only a new channel is opened per run.
 *
 * @example
 * ```ts
 * const m = await measureSshExecControlMaster(server, { runs: 50, warmup: 3 });
 * ```
 */
export async function measureSshExecControlMaster(
  server: SshServer,
  options: RunOptions,
): Promise<Measurement> {
  const socket = `${server.dir}/control.sock`;
  const master = await startControlMaster(server, socket);
  try {
    const args = [
      ...server.sshArgs(["-S", socket, "-o", "ControlMaster=no"]),
      "true",
    ];
    return await timeSsh("ssh", args, "exec.reused", "exec true, ControlMaster", options);
  } finally {
    await master.stop();
  }
}

/**
 * `ssh host 'head -c BYTES /dev/zero'` read to the end over a new connection.
 * The rate counts from the first byte to the last, so the handshake (~0.2 s
 * here, a tenth of a 1 GB run) does not dilute it; wall times are kept in
 * `details`. MB/s of the median run. With `jump`, through the jump host: the
 * bytes are encrypted twice on the way and cross two sshd processes.
 *
 * @example
 * ```ts
 * const m = await measureSshBulk(server, { bytes: 1e9, runs: 3 });
 * ```
 */
export async function measureSshBulk(
  server: SshServer,
  options: { bytes: number; runs: number },
  jump = false,
): Promise<Measurement> {
  const { tool, args: sshArgs, via } = route(server, jump, ["-o", "ControlPath=none"]);
  const args = [...sshArgs, `head -c ${options.bytes} /dev/zero`];
  const reads: BulkRead[] = [];
  for (let i = 0; i < options.runs; i++) {
    reads.push(await timeBulkRead(SSH, args, options.bytes));
  }
  return {
    tool,
    metric: "bulk",
    label: `bulk output, ${formatBytes(options.bytes)}${via}`,
    stats: summarizeRate(options.bytes, reads.map((r) => r.streamSeconds)),
    details: {
      command: ["ssh", ...args],
      streamSeconds: reads.map((r) => r.streamSeconds),
      wallSeconds: reads.map((r) => r.wallSeconds),
    },
  };
}

/**
 * Keystroke echo over `ssh -tt host`: the remote `/bin/sh` runs in a pty and
 * the pty echoes; ssh gets pipes locally, hence `-tt`. With `jump`, through
 * the jump host: each keystroke crosses the hop's sshd and its `ssh -W`.
 *
 * @example
 * ```ts
 * const m = await measureSshEcho(server, { keystrokes: 300 });
 * ```
 */
export async function measureSshEcho(
  server: SshServer,
  options: { keystrokes: number },
  jump = false,
): Promise<Measurement> {
  const { tool, args, via } = route(server, jump, ["-tt", "-o", "ControlPath=none"]);
  const samples = await measureEchoOfCommand(SSH, args, {
    keystrokes: options.keystrokes,
    // A dumb terminal keeps escape sequences out of the echo stream.
    env: { TERM: "dumb" },
  });
  return {
    tool,
    metric: "echo",
    label: `keystroke echo, interactive sh${via}`,
    stats: summarizeLatency(samples),
    details: { command: ["ssh", ...args], samplesMs: samples },
  };
}

/**
 * The OpenSSH client version, e.g. `OpenSSH_9.2p1 Debian-2+deb12u10, OpenSSL 3.0.17`.
 *
 * @example
 * ```ts
 * console.log(await opensshVersion());
 * ```
 */
export async function opensshVersion(): Promise<string> {
  // ssh -V prints to stderr.
  const out = await new Deno.Command(SSH, {
    args: ["-V"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return new TextDecoder().decode(out.stderr).trim();
}

async function startControlMaster(
  server: SshServer,
  socket: string,
): Promise<{ stop(): Promise<void> }> {
  const child = new Deno.Command(SSH, {
    args: [
      ...server.sshArgs(["-M", "-N", "-S", socket, "-o", "ControlPersist=no"]),
    ],
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  let exited = false;
  child.status.then(() => exited = true);
  const stop = async () => {
    await new Deno.Command(SSH, {
      args: [...server.sshArgs(["-S", socket, "-O", "exit"])],
      stderr: "null",
    })
      .output();
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
    }, 5000);
    await child.status;
    clearTimeout(timer);
  };
  const deadline = performance.now() + 10_000;
  while (performance.now() < deadline) {
    if (exited) {
      throw new Error(`Ssh ControlMaster exited before creating "${socket}"`);
    }
    const check = await new Deno.Command(SSH, {
      args: [...server.sshArgs(["-S", socket, "-O", "check"])],
      stdout: "null",
      stderr: "null",
    }).output();
    if (check.success) return { stop };
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop();
  throw new Error(
    `Ssh ControlMaster did not come up at "${socket}" within 10 s`,
  );
}

/**
 * Byte counts in decimal units, as MB/s is.
 *
 * @example
 * ```ts
 * formatBytes(1e9); // "1 GB"
 * formatBytes(5e7); // "50 MB"
 * ```
 */
export function formatBytes(bytes: number): string {
  return bytes >= 1e9 ? `${+(bytes / 1e9).toFixed(2)} GB` : `${+(bytes / 1e6).toFixed(2)} MB`;
}
