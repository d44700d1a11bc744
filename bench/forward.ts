/** Port forwarding throughput: `cmdop connect forward` next to `ssh -L`, direct and through a jump host. */

import { ensurePrograms } from "./_apt.ts";
import { registerCleanup } from "./_cleanup.ts";
import type { SshServer } from "./_sshd.ts";
import { type Measurement, summarizeRate } from "./_stats.ts";
import type { CmdopStack } from "./cmdop.ts";
import { formatBytes, SSH_JUMP } from "./ssh_baseline.ts";

/** What every forward figure moves: `bytes` from the machine's side to the client, `runs` times. */
export interface ForwardBenchOptions {
  bytes: number;
  runs: number;
}

/** A TCP server on the machine's side that sends `bytes` zero bytes to each connection, then closes. */
interface ByteSource {
  port: number;
  stop(): void;
}

/**
 * `socat` on a loopback port running `head -c BYTES /dev/zero` per connection: a
 * separate process, so the bench's own reading does not compete with the sending.
 */
async function startByteSource(bytes: number): Promise<ByteSource> {
  await ensurePrograms([{ program: "/usr/bin/socat", pkg: "socat" }]);
  const port = freePort();
  const child = new Deno.Command("socat", {
    args: [
      `TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork`,
      `EXEC:head -c ${bytes} /dev/zero`,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const stop = registerCleanup(() => {
    try {
      child.kill("SIGTERM");
    } catch { /* gone */ }
  });
  await waitAccepting(port, "socat");
  return { port, stop };
}

/**
 * Through `cmdop connect forward HOST 0:127.0.0.1:PORT`: the client reads
 * `bytes` from the byte source on the machine's side, through the relay.
 *
 * @example
 * ```ts
 * const figure = await measureCmdopForward(stack, { bytes: 1e9, runs: 3 });
 * ```
 */
export async function measureCmdopForward(
  stack: CmdopStack,
  options: ForwardBenchOptions,
): Promise<Measurement> {
  const source = await startByteSource(options.bytes);
  const args = [
    ...stack.cli.slice(1),
    ...["connect", "forward", stack.host, `0:127.0.0.1:${source.port}`, "--json"],
  ];
  const child = new Deno.Command(stack.cli[0], {
    args,
    env: stack.env,
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const stop = registerCleanup(() => {
    try {
      child.kill("SIGINT");
    } catch { /* gone */ }
  });
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const first = await reader.read();
    reader.cancel().catch(() => {});
    if (first.done) throw new Error("cmdop connect forward ended before it listened");
    const port = Number(JSON.parse(first.value.split("\n")[0]).listen.split(":").pop());
    return rate("cmdop", await readRuns(port, options), options, ["deno", ...args]);
  } finally {
    stop();
    await child.status;
    source.stop();
  }
}

/**
 * Through `ssh -N -L` to the bench's sshd, and with `jump` through the same
 * sshd as a jump host first (`ssh -J`: client → hop → machine, the topology of
 * cmdop's client → relay → agent).
 *
 * @example
 * ```ts
 * const figure = await measureSshForward(server, { bytes: 1e9, runs: 3 }, true);
 * ```
 */
export async function measureSshForward(
  server: SshServer,
  options: ForwardBenchOptions,
  jump = false,
): Promise<Measurement> {
  const source = await startByteSource(options.bytes);
  const port = freePort();
  const forward = [
    ...["-N", "-o", "ExitOnForwardFailure=yes", "-o", "ControlPath=none"],
    ...["-L", `127.0.0.1:${port}:127.0.0.1:${source.port}`],
  ];
  const args = jump ? server.jumpArgs(forward) : server.sshArgs(forward);
  const child = new Deno.Command("ssh", {
    args,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const stop = registerCleanup(() => {
    try {
      child.kill("SIGTERM");
    } catch { /* gone */ }
  });
  try {
    await waitAccepting(port, "ssh -L", () => stderr);
    const tool = jump ? SSH_JUMP : "ssh";
    return rate(tool, await readRuns(port, options), options, ["ssh", ...args]);
  } finally {
    stop();
    await child.status;
    source.stop();
  }
}

/** Reads the byte source through a forward's local port `runs` times: seconds from first byte to end. */
async function readRuns(port: number, options: ForwardBenchOptions): Promise<number[]> {
  const seconds: number[] = [];
  const buffer = new Uint8Array(256 * 1024);
  for (let i = 0; i < options.runs; i++) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    let bytes = 0;
    let first: number | undefined;
    try {
      for (;;) {
        const n = await conn.read(buffer);
        if (n === null) break;
        first ??= performance.now();
        bytes += n;
      }
    } finally {
      conn.close();
    }
    const end = performance.now();
    if (bytes !== options.bytes) {
      throw new Error(`a forward carried ${bytes} bytes of ${options.bytes}`);
    }
    seconds.push((end - (first ?? end)) / 1000);
  }
  return seconds;
}

function rate(
  tool: string,
  seconds: number[],
  options: ForwardBenchOptions,
  command: string[],
): Measurement {
  return {
    tool,
    metric: "forward",
    label: `port forward download, ${formatBytes(options.bytes)}`,
    stats: summarizeRate(options.bytes, seconds),
    details: { command, streamSeconds: seconds },
  };
}

/** Waits until something accepts on the port (a probe connection is closed at once). */
async function waitAccepting(port: number, what: string, log?: () => Promise<string>) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      if (Date.now() > deadline) {
        const said = log ? await Promise.race([log(), Promise.resolve("")]) : "";
        throw new Error(`${what} did not listen on 127.0.0.1:${port} within 30 s ${said}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}
