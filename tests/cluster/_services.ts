/** Cluster test services: PostgreSQL, nats-server and haproxy from Debian, each started on its own loopback port. */
import { join } from "node:path";

/** A server process a test started, with the address to reach it. */
export interface ServiceProcess {
  /** `postgres://…`, `nats://…` or `http://…` for the load balancer. */
  url: string;
  port: number;
  pid: number;
  /** Ends the process and removes its files. */
  stop(): Promise<void>;
}

/** The Debian package of each program the cluster tests run. */
const PACKAGES = {
  postgres: "postgresql",
  "nats-server": "nats-server",
  haproxy: "haproxy",
  tmux: "tmux",
};

/** A program the cluster tests run. */
export type Program = keyof typeof PACKAGES;

/** Where Debian puts PostgreSQL's server programs (not on PATH). */
function postgresBinDir(): string | undefined {
  try {
    const versions = [...Deno.readDirSync("/usr/lib/postgresql")]
      .map((e) => Number(e.name))
      .filter((v) => v > 0)
      .sort((a, b) => b - a);
    for (const version of versions) {
      const dir = `/usr/lib/postgresql/${version}/bin`;
      if (exists(join(dir, "postgres")) && exists(join(dir, "initdb"))) return dir;
    }
  } catch {
    // No PostgreSQL installed.
  }
  return undefined;
}

function programPath(name: Program): string | undefined {
  if (name === "postgres") {
    const dir = postgresBinDir();
    return dir ? join(dir, "postgres") : undefined;
  }
  for (const dir of ["/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin"]) {
    if (exists(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/**
 * Installs with apt-get (in one go) whichever of `names` are missing.
 * Resolves a reason per program that still cannot be run.
 */
export async function ensurePrograms(names: Program[]): Promise<Map<Program, string>> {
  const reasons = new Map<Program, string>();
  const missing = names.filter((name) => !programPath(name));
  if (missing.length === 0) return reasons;
  const failure = await aptInstall(missing.map((name) => PACKAGES[name]));
  for (const name of missing) {
    if (programPath(name)) continue;
    reasons.set(name, `cannot install "${PACKAGES[name]}"${failure ? `: ${failure}` : ""}`);
  }
  return reasons;
}

/**
 * Makes sure PostgreSQL and nats-server are installed, with apt-get when they
 * are missing. Resolves a reason to skip when they cannot be had.
 */
export async function ensureClusterPrograms(): Promise<string | undefined> {
  const reasons = await ensurePrograms(["postgres", "nats-server"]);
  return reasons.size > 0 ? [...reasons.values()].join("; ") : undefined;
}

async function aptInstall(packages: string[]): Promise<string | undefined> {
  if (Deno.uid() !== 0) return "not root, so apt-get cannot run";
  // Installing a server package would otherwise start the system's own instance.
  const policy = "/usr/sbin/policy-rc.d";
  const ownPolicy = !exists(policy);
  if (ownPolicy) Deno.writeTextFileSync(policy, "#!/bin/sh\nexit 101\n", { mode: 0o755 });
  try {
    const install = ["install", "-y", "-q", "--no-install-recommends", ...packages];
    if ((await aptGet(install)) === undefined) return undefined;
    await aptGet(["update", "-q"]);
    return await aptGet(install);
  } finally {
    if (ownPolicy) Deno.removeSync(policy);
  }
}

async function aptGet(args: string[]): Promise<string | undefined> {
  try {
    const out = await new Deno.Command("apt-get", {
      args,
      env: { DEBIAN_FRONTEND: "noninteractive" },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    return out.success ? undefined : new TextDecoder().decode(out.stderr).trim().split("\n").at(-1);
  } catch (error) {
    return (error as Error).message;
  }
}

/** A loopback port nothing listens on right now. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Resolves once something accepts TCP connections on the port. */
export async function waitForPort(port: number, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`${what} did not listen on port ${port} in time`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
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
  const port = freePort();
  const child = new Deno.Command(join(bin, "postgres"), {
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
  }).spawn();
  const log = drain(child.stderr);
  await waitForPort(port, "PostgreSQL").catch((error) => {
    throw new Error(`${error.message}; its log:\n${log()}`);
  });
  return service(child, `postgres://postgres@127.0.0.1:${port}/postgres`, port, dir, "SIGINT");
}

/** `nats-server` on a free loopback port (core NATS only: cmdop needs no JetStream). */
export async function startNats(): Promise<ServiceProcess> {
  const program = programPath("nats-server");
  if (!program) throw new Error("nats-server is not installed");
  const port = freePort();
  const child = new Deno.Command(program, {
    args: ["-a", "127.0.0.1", "-p", String(port)],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const log = drain(child.stderr);
  await waitForPort(port, "nats-server").catch((error) => {
    throw new Error(`${error.message}; its log:\n${log()}`);
  });
  return service(child, `nats://127.0.0.1:${port}`, port, undefined, "SIGTERM");
}

/**
 * haproxy in TCP mode in front of the relay nodes: round robin, health
 * checks every 300 ms, and a retry on another node when one refuses.
 */
export async function startHaproxy(backendPorts: number[]): Promise<ServiceProcess> {
  const program = programPath("haproxy");
  if (!program) throw new Error("haproxy is not installed");
  const dir = await Deno.makeTempDir({ prefix: "cmdop-haproxy-" });
  const port = freePort();
  const servers = backendPorts.map((p, i) =>
    `  server node${i} 127.0.0.1:${p} check inter 300ms fall 2 rise 1`
  );
  const config = [
    "global",
    "  maxconn 4096",
    "defaults",
    "  mode tcp",
    "  timeout connect 1s",
    "  timeout client 1h",
    "  timeout server 1h",
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
  await Deno.writeTextFile(join(dir, "haproxy.cfg"), config);
  const child = new Deno.Command(program, {
    args: ["-db", "-f", join(dir, "haproxy.cfg")],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const log = drain(child.stderr);
  await waitForPort(port, "haproxy").catch((error) => {
    throw new Error(`${error.message}; its log:\n${log()}`);
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

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
