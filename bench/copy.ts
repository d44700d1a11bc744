/** File copy: `cmdop connect cp` up and down against `scp` through the bench's sshd, MB/s of one file. */
import type { SshServer } from "./_sshd.ts";
import { timeCommand } from "./_run.ts";
import { type Measurement, summarizeRate } from "./_stats.ts";
import type { CmdopStack } from "./cmdop.ts";
import { formatBytes } from "./ssh_baseline.ts";

/** Sizes of a copy figure. */
export interface CopyBenchOptions {
  /** Bytes of the file copied each way. */
  bytes: number;
  /** Copies each way; the median run is the figure. */
  runs: number;
}

/** Where the remote side of scp keeps its copy: the bench user's home. */
const SCP_REMOTE_NAME = "cmdop-bench-copy.bin";

/**
 * Writes `bytes` of a repeated random MiB (not zeros: nothing on the way may shortcut them).
 *
 * @example
 * ```ts
 * await writeCopyFile("/tmp/x.bin", 1e9);
 * ```
 */
export async function writeCopyFile(path: string, bytes: number): Promise<void> {
  const block = crypto.getRandomValues(new Uint8Array(1 << 16));
  const mib = new Uint8Array(1 << 20);
  for (let i = 0; i < 16; i++) mib.set(block, i << 16);
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  for (let done = 0; done < bytes;) {
    const part = mib.subarray(0, Math.min(mib.length, bytes - done));
    let written = 0;
    while (written < part.length) written += await file.write(part.subarray(written));
    done += part.length;
  }
}

/**
 * `scp` of one file up to the bench user's home and back, timed from spawn to exit (the
 * handshake included, as cmdop's CLI start is). Metrics `cp.upload`, `cp.download`.
 *
 * @example
 * ```ts
 * const figures = await measureScpCopy(server, { bytes: 1e9, runs: 3 });
 * ```
 */
export async function measureScpCopy(
  server: SshServer,
  options: CopyBenchOptions,
): Promise<Measurement[]> {
  const dir = await Deno.makeTempDir({ prefix: "cmdop-bench-scp-" });
  try {
    const local = `${dir}/local.bin`;
    await writeCopyFile(local, options.bytes);
    // ssh's options as scp takes them: -P for the port; the target written as user@host:path.
    const sshArgs = server.sshArgs(["-o", "ControlPath=none"]);
    const target = sshArgs.pop()!;
    // -O: the scp protocol (the bench sshd has no sftp subsystem).
    const scpArgs = ["-q", "-O", ...sshArgs.map((a) => a === "-p" ? "-P" : a)];
    const remote = `${target}:${SCP_REMOTE_NAME}`;
    const up: number[] = [];
    const down: number[] = [];
    for (let i = 0; i < options.runs; i++) {
      up.push(await timeCommand("scp", [...scpArgs, local, remote], { timeoutMs: 600_000 }));
      down.push(
        await timeCommand("scp", [...scpArgs, remote, `${dir}/back.bin`], { timeoutMs: 600_000 }),
      );
      await Deno.remove(`${dir}/back.bin`);
    }
    await timeCommand("ssh", [...sshArgs, target, `rm -f ${SCP_REMOTE_NAME}`]);
    return copyFigures("scp", options.bytes, up, down, ["scp", ...scpArgs]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * `cmdop connect cp` of one file to the bench agent and back through the sandboxed CLI (its
 * local side inside its CMDOP_HOME, which the bench's client grant covers). Metrics
 * `cp.upload`, `cp.download`.
 *
 * @example
 * ```ts
 * const figures = await measureCmdopCopy(stack, { bytes: 1e9, runs: 3 });
 * ```
 */
export async function measureCmdopCopy(
  stack: CmdopStack,
  options: CopyBenchOptions,
): Promise<Measurement[]> {
  const local = `${stack.env.CMDOP_HOME}/copy-bench`;
  const remote = await Deno.makeTempDir({ prefix: "cmdop-bench-cp-" });
  await Deno.mkdir(local, { recursive: true });
  try {
    await writeCopyFile(`${local}/local.bin`, options.bytes);
    const cp = [...stack.cli.slice(1), "connect", "cp", "-q"];
    const run = (from: string, to: string) =>
      timeCommand(stack.cli[0], [...cp, from, to], { env: stack.env, timeoutMs: 600_000 });
    const up: number[] = [];
    const down: number[] = [];
    for (let i = 0; i < options.runs; i++) {
      up.push(await run(`${local}/local.bin`, `${stack.host}:${remote}/remote.bin`));
      down.push(await run(`${stack.host}:${remote}/remote.bin`, `${local}/back.bin`));
      await Deno.remove(`${local}/back.bin`);
    }
    return copyFigures("cmdop", options.bytes, up, down, ["deno", ...cp]);
  } finally {
    await Deno.remove(local, { recursive: true });
    await Deno.remove(remote, { recursive: true });
  }
}

function copyFigures(
  tool: string,
  bytes: number,
  upMs: number[],
  downMs: number[],
  command: string[],
): Measurement[] {
  return ([["cp.upload", "upload", upMs], ["cp.download", "download", downMs]] as const).map((
    [metric, way, ms],
  ) => ({
    tool,
    metric,
    label: `file copy ${way}, ${formatBytes(bytes)}`,
    stats: summarizeRate(bytes, ms.map((m) => m / 1000)),
    details: { command, wallSeconds: ms.map((m) => m / 1000) },
  }));
}
