/** Cluster test services: PostgreSQL, nats-server and haproxy from Debian, each started on its own loopback port. */
import { join } from "node:path";
import { findProgram, installTools, postgresBinDir } from "../_tools.ts";

/** A server process a test started, with the address to reach it. */
export interface ServiceProcess {
  /** `postgres://…`, `nats://…` or `http://…` for the load balancer. */
  url: string;
  port: number;
  pid: number;
  /** Ends the process and removes its files. */
  stop(): Promise<void>;
}

/**
 * Makes sure PostgreSQL and nats-server are installed (apt-get through scripts/test_deps.sh when
 * missing). Resolves why they cannot be had, or undefined; tests use `clusterSkipReason` instead.
 *
 * @example
 * ```ts
 * const missing = await ensureClusterPrograms();
 * ```
 */
export function ensureClusterPrograms(): Promise<string | undefined> {
  return installTools(["postgres", "initdb", "nats-server"]);
}

/**
 * Starts a server on a loopback port and waits until that very process listens there (and its
 * log matches `ready`, when given). The
 * port is picked free, but another run on this machine may take it before the server binds:
 * then the server exits (or someone else answers on it), and it is started again on another
 * port, up to five times. Waiting for "something accepts on the port" could be fooled by the
 * other run's server.
 */
export async function listenOnFreePort(
  what: string,
  spawn: (port: number) => Deno.ChildProcess,
  options: { timeoutMs?: number; ready?: RegExp } = {},
): Promise<{ child: Deno.ChildProcess; port: number; log: () => string }> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  // Listening is not always ready: PostgreSQL answers "starting up" until it logs so.
  const ready = options.ready;
  let lastLog = "";
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = freePort();
    const child = spawn(port);
    const log = drain(child.stderr);
    let exited = false;
    child.status.then(() => exited = true, () => exited = true);
    const started = Date.now();
    const up = async () => (await listensOn(child.pid, port)) && (!ready || ready.test(log()));
    while (!exited && !(await up())) {
      if (Date.now() - started > timeoutMs) {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
        await child.status;
        throw new Error(
          `${what} did not listen on port ${port} within ${timeoutMs / 1000} s; ` +
            `its log:\n${log()}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    if (!exited) return { child, port, log };
    lastLog = log();
  }
  throw new Error(`${what} exited on each of five ports; its last log:\n${lastLog}`);
}

/** True when process `pid` holds a listening TCP socket on 127.0.0.1:`port` (Linux /proc). */
async function listensOn(pid: number, port: number): Promise<boolean> {
  let table: string;
  try {
    table = await Deno.readTextFile(`/proc/${pid}/net/tcp`);
  } catch {
    return false;
  }
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  const inodes = new Set<string>();
  for (const line of table.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    // f[1] is local address:port, f[3] the state (0A: LISTEN), f[9] the socket's inode.
    if (f.length > 9 && f[1].endsWith(`:${hexPort}`) && f[3] === "0A") inodes.add(f[9]);
  }
  if (inodes.size === 0) return false;
  try {
    for await (const fd of Deno.readDir(`/proc/${pid}/fd`)) {
      const target = await Deno.readLink(`/proc/${pid}/fd/${fd.name}`).catch(() => "");
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode && inodes.has(inode)) return true;
    }
  } catch { /* gone */ }
  return false;
}

/** A loopback port nothing listens on right now (see {@linkcode listenOnFreePort}: it may not stay so). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** The user PostgreSQL runs as: itself refuses root. */
async function postgresUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (Deno.uid() !== 0) return undefined;
  const id = async (flag: string) => {
    const out = await new Deno.Command("id", { args: [flag, "postgres"] }).output();
    if (!out.success) throw new Error(`there is no "postgres" user to run PostgreSQL as`);
    return Number(new TextDecoder().decode(out.stdout).trim());
  };
  return { uid: await id("-u"), gid: await id("-g") };
}

/**
 * `initdb` into a temporary directory and `postgres` on a free loopback port,
 * as the `postgres` user when running as root. Trust auth: loopback only.
 */
export async function startPostgres(): Promise<ServiceProcess> {
  const bin = postgresBinDir();
  if (!bin) throw new Error("PostgreSQL is not installed");
  const user = await postgresUser();
  const dir = await Deno.makeTempDir({ prefix: "cmdop-pg-" });
  if (user) await Deno.chown(dir, user.uid, user.gid);
  const asUser = user ? { uid: user.uid, gid: user.gid } : {};
  const init = await new Deno.Command(join(bin, "initdb"), {
    args: ["-D", join(dir, "data"), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"],
    stdout: "piped",
    stderr: "piped",
    ...asUser,
  }).output();
  if (!init.success) {
    throw new Error(`initdb failed: ${new TextDecoder().decode(init.stderr)}`);
  }
  const { child, port } = await listenOnFreePort(
    "PostgreSQL",
    (port) =>
      new Deno.Command(join(bin, "postgres"), {
        args: [
          "-D",
          join(dir, "data"),
          "-p",
          String(port),
          "-k",
          dir,
          "-c",
          "listen_addresses=127.0.0.1",
          // A test database: durability is not what is being tested.
          "-c",
          "fsync=off",
          "-c",
          "synchronous_commit=off",
          "-c",
          "full_page_writes=off",
          "-c",
          "max_connections=200",
        ],
        stdin: "null",
        stdout: "null",
        stderr: "piped",
        ...asUser,
      }).spawn(),
    { ready: /ready to accept connections/ },
  );
  return service(child, `postgres://postgres@127.0.0.1:${port}/postgres`, port, dir, "SIGINT");
}

/** `nats-server` on a free loopback port (core NATS only: cmdop needs no JetStream). */
export async function startNats(): Promise<ServiceProcess> {
  const program = findProgram("nats-server");
  if (!program) throw new Error("nats-server is not installed");
  const { child, port } = await listenOnFreePort(
    "nats-server",
    (port) =>
      new Deno.Command(program, {
        args: ["-a", "127.0.0.1", "-p", String(port)],
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).spawn(),
  );
  return service(child, `nats://127.0.0.1:${port}`, port, undefined, "SIGTERM");
}

/** How {@linkcode startHaproxy} proxies. */
export interface HaproxyOptions {
  /** `tcp` (the default) or `http`, as an operator terminating HTTP would run it. */
  mode?: "tcp" | "http";
  /** `timeout client` and `timeout server`: how long a connection may idle (default 1h). */
  idleTimeout?: string;
}

/**
 * haproxy in front of the relay nodes (TCP mode unless told): round robin,
 * health checks every 300 ms, and a retry on another node when one refuses.
 */
export async function startHaproxy(
  backendPorts: number[],
  options: HaproxyOptions = {},
): Promise<ServiceProcess> {
  const mode = options.mode ?? "tcp";
  const idle = options.idleTimeout ?? "1h";
  const program = findProgram("haproxy");
  if (!program) throw new Error("haproxy is not installed");
  const dir = await Deno.makeTempDir({ prefix: "cmdop-haproxy-" });
  const servers = backendPorts.map((p, i) =>
    `  server node${i} 127.0.0.1:${p} check inter 300ms fall 2 rise 1`
  );
  const config = (port: number) =>
    [
      "global",
      "  maxconn 4096",
      "defaults",
      `  mode ${mode}`,
      // Without it each small write waits for the next (~220 ms a keystroke per hop).
      ...(mode === "http" ? ["  option http-no-delay"] : []),
      "  timeout connect 1s",
      `  timeout client ${idle}`,
      `  timeout server ${idle}`,
      "  retries 3",
      "  option redispatch",
      "frontend relay",
      `  bind 127.0.0.1:${port}`,
      "  default_backend nodes",
      "backend nodes",
      "  balance roundrobin",
      ...servers,
      "",
    ].join("\n");
  const { child, port } = await listenOnFreePort("haproxy", (port) => {
    Deno.writeTextFileSync(join(dir, "haproxy.cfg"), config(port));
    return new Deno.Command(program, {
      args: ["-db", "-f", join(dir, "haproxy.cfg")],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
  });
  return service(child, `http://127.0.0.1:${port}`, port, dir, "SIGTERM");
}

function service(
  child: Deno.ChildProcess,
  url: string,
  port: number,
  dir: string | undefined,
  signal: Deno.Signal,
): ServiceProcess {
  let stopping: Promise<void> | undefined;
  return {
    url,
    port,
    pid: child.pid,
    stop() {
      stopping ??= (async () => {
        try {
          child.kill(signal);
        } catch { /* already gone */ }
        const killer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch { /* gone */ }
        }, 5_000);
        await child.status;
        clearTimeout(killer);
        if (dir) await Deno.remove(dir, { recursive: true }).catch(() => {});
      })();
      return stopping;
    },
  };
}

/** Reads a stream to the end so the child never blocks on a full pipe; returns its text so far. */
function drain(stream: ReadableStream<Uint8Array>): () => string {
  let text = "";
  const decoder = new TextDecoder();
  (async () => {
    for await (const chunk of stream) text = (text + decoder.decode(chunk)).slice(-20_000);
  })().catch(() => {});
  return () => text;
}
