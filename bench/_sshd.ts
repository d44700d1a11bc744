/** Starts a real OpenSSH server on a loopback port for the benchmarks, with its own keys and user. */

import { ensurePrograms } from "./_apt.ts";
import { registerCleanup } from "./_cleanup.ts";
import { sshConfig } from "./_ssh_config.ts";

const SSHD = "/usr/sbin/sshd";
/** The jump host's name in the generated ssh_config: another name for 127.0.0.1. */
const JUMP_HOST = "cmdop-bench-hop";

/** A running benchmark sshd; {@linkcode SshServer.stop} must be called (it also runs on exit). */
export interface SshServer {
  /** Loopback port sshd listens on (127.0.0.1). */
  port: number;
  /** Local user the client logs in as; login shell `/bin/sh`. */
  user: string;
  /** Private ed25519 key the client authenticates with. */
  keyPath: string;
  /** Temp dir holding host key, user key, config and known_hosts; gone after stop. */
  dir: string;
  /** `ssh` options and destination; append the remote command. `extra` goes before the destination. */
  sshArgs(extra?: string[]): string[];
  /**
   * The same through this sshd as a jump host first (`ssh -F FILE -J user@cmdop-bench-hop:PORT
   * user@127.0.0.1`, the hop an alias of 127.0.0.1): client → hop → machine, two handshakes and
   * a tunnel in a tunnel. The options come from a generated ssh_config file, which ssh passes
   * on to the hop's `ssh -W`.
   */
  jumpArgs(extra?: string[]): string[];
  /** Stops sshd and its session processes and removes the temp dir and the authorized key. */
  stop(): void;
}

/** Options of {@linkcode startSshd}. */
export interface SshdOptions {
  /** Local user to log in as; created with `useradd` when missing. */
  user?: string;
}

/**
 * Starts `sshd` on 127.0.0.1 and a free port, for a dedicated user whose login
 * shell is `/bin/sh`, accepting only a fresh ed25519 key. Installs
 * `openssh-server` when missing. Needs root (sshd, useradd).
 *
 * @example
 * ```ts
 * const server = await startSshd();
 * try {
 *   await new Deno.Command("ssh", { args: [...server.sshArgs(), "true"] }).output();
 * } finally {
 *   server.stop();
 * }
 * ```
 */
export async function startSshd(options: SshdOptions = {}): Promise<SshServer> {
  await ensurePrograms([
    { program: SSHD, pkg: "openssh-server" },
    { program: "/usr/bin/ssh", pkg: "openssh-client" },
    { program: "/usr/bin/ssh-keygen", pkg: "openssh-client" },
  ]);
  const account = await ensureUser(options.user ?? "cmdopbench");
  // sshd reads authorized keys as the user, so their dir must be traversable;
  // StrictModes rejects anything under a world-writable /tmp, hence the key
  // goes to the user's home and only host key and config live here. One file
  // per run, so that two runs at once do not remove each other's key.
  const dir = Deno.makeTempDirSync({ prefix: "cmdop-bench-sshd-" });
  const keysFile = `.ssh/authorized_keys.${dir.split("/").pop()}`;
  const authorizedKeys = `${account.home}/${keysFile}`;
  let child: Deno.ChildProcess | undefined;
  const release = registerCleanup(() => {
    if (child) killTree(child.pid);
    try {
      Deno.removeSync(authorizedKeys);
    } catch { /* never written */ }
    Deno.removeSync(dir, { recursive: true });
  });
  try {
    const hostKey = `${dir}/host_ed25519`;
    const keyPath = `${dir}/user_ed25519`;
    await keygen(hostKey, "cmdop-bench-host");
    await keygen(keyPath, "cmdop-bench-user");
    const publicKey = Deno.readTextFileSync(`${keyPath}.pub`);
    installAuthorizedKey(account, authorizedKeys, publicKey);
    Deno.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });

    const port = await freePort();
    const config = `${dir}/sshd_config`;
    const user = account.name;
    Deno.writeTextFileSync(
      config,
      sshdConfig({ port, hostKey, user, dir, keysFile }),
    );
    await run(SSHD, ["-t", "-f", config]);
    const knownHosts = `${dir}/known_hosts`;
    const [type, key] = Deno.readTextFileSync(`${hostKey}.pub`).split(" ");
    Deno.writeTextFileSync(knownHosts, `[127.0.0.1]:${port} ${type} ${key}\n`);

    // -D keeps sshd in the foreground as our child, -e sends its log to our stderr.
    child = new Deno.Command(SSHD, {
      args: ["-D", "-e", "-f", config],
      stdin: "null",
      stdout: "null",
      stderr: "inherit",
    }).spawn();
    await waitForListening(port, child);

    const clientOptions = {
      IdentitiesOnly: "yes",
      BatchMode: "yes",
      StrictHostKeyChecking: "yes",
      UserKnownHostsFile: knownHosts,
      GlobalKnownHostsFile: "/dev/null",
      LogLevel: "ERROR",
    };
    const sshArgs = (extra: string[] = []) => [
      ...["-F", "/dev/null", "-p", String(port), "-i", keyPath],
      ...Object.entries(clientOptions).flatMap(([k, v]) => ["-o", `${k}=${v}`]),
      ...extra,
      `${user}@127.0.0.1`,
    ];
    // A ProxyJump hop gets -F but not -i or -o: both hops read their options from this file.
    // ssh refuses a hop spelled as its destination ("jumphost loop"), so the hop is an alias.
    const clientConfig = `${dir}/ssh_config`;
    Deno.writeTextFileSync(
      clientConfig,
      sshConfig(JUMP_HOST, { HostName: "127.0.0.1" }) +
        sshConfig("*", {
          Port: String(port),
          User: user,
          IdentityFile: keyPath,
          ...clientOptions,
          ControlMaster: "no",
          ControlPath: "none",
        }),
    );
    const jumpArgs = (extra: string[] = []) => [
      ...["-F", clientConfig, "-p", String(port)],
      ...extra,
      ...["-J", `${user}@${JUMP_HOST}:${port}`, `${user}@127.0.0.1`],
    ];
    return { port, user: account.name, keyPath, dir, sshArgs, jumpArgs, stop: release };
  } catch (err) {
    release();
    throw err;
  }
}

interface Account {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

function sshdConfig(
  o: {
    port: number;
    hostKey: string;
    user: string;
    dir: string;
    keysFile: string;
  },
): string {
  return [
    `Port ${o.port}`,
    "ListenAddress 127.0.0.1",
    `HostKey ${o.hostKey}`,
    `PidFile ${o.dir}/sshd.pid`,
    `AllowUsers ${o.user}`,
    `AuthorizedKeysFile ${o.keysFile}`,
    "PubkeyAuthentication yes",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "PermitRootLogin no",
    "StrictModes yes",
    // PAM would add its session modules' cost and need a PAM service file.
    "UsePAM no",
    "UseDNS no",
    "PrintMotd no",
    "PrintLastLog no",
    "X11Forwarding no",
    // Local forwarding only: the -L and jump-host (-W) figures; no remote (-R) forwarding.
    "AllowTcpForwarding local",
    // Many handshakes back to back must not trip the unauthenticated-connection limit.
    "MaxStartups 100:30:200",
    "MaxSessions 50",
    "LogLevel ERROR",
    "",
  ].join("\n");
}

async function ensureUser(name: string): Promise<Account> {
  let account = await lookupUser(name);
  if (!account) {
    await run("useradd", ["--create-home", "--shell", "/bin/sh", name]);
    account = await lookupUser(name);
    if (!account) throw new Error(`User "${name}" still missing after useradd`);
  }
  const entry = (await run("getent", ["passwd", name])).trim().split(":");
  if (entry[6] !== "/bin/sh") {
    await run("usermod", ["--shell", "/bin/sh", name]);
  }
  // Without PAM, sshd refuses an account whose password field starts with "!"
  // (what useradd leaves); "*" allows key login and still no password.
  const shadow = (await run("getent", ["shadow", name])).trim().split(":");
  if (shadow[1]?.startsWith("!")) {
    await run("usermod", ["--password", "*", name]);
  }
  return account;
}

async function lookupUser(name: string): Promise<Account | undefined> {
  const out = await new Deno.Command("getent", {
    args: ["passwd", name],
    stdout: "piped",
    stderr: "null",
  })
    .output();
  if (!out.success) return undefined;
  const f = new TextDecoder().decode(out.stdout).trim().split(":");
  return { name, uid: Number(f[2]), gid: Number(f[3]), home: f[5] };
}

function installAuthorizedKey(
  account: Account,
  file: string,
  publicKey: string,
) {
  // StrictModes: home and ~/.ssh owned by the user and not writable by others.
  Deno.mkdirSync(account.home, { recursive: true });
  Deno.chownSync(account.home, account.uid, account.gid);
  Deno.chmodSync(account.home, Deno.statSync(account.home).mode! & 0o755);
  const sshDir = `${account.home}/.ssh`;
  Deno.mkdirSync(sshDir, { recursive: true });
  Deno.chownSync(sshDir, account.uid, account.gid);
  Deno.chmodSync(sshDir, 0o700);
  Deno.writeTextFileSync(file, publicKey, { mode: 0o600 });
  Deno.chownSync(file, account.uid, account.gid);
}

function keygen(path: string, comment: string): Promise<string> {
  return run("/usr/bin/ssh-keygen", [
    "-q",
    "-t",
    "ed25519",
    "-N",
    "",
    "-C",
    comment,
    "-f",
    path,
  ]);
}

async function freePort(): Promise<number> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await Promise.resolve();
  return port;
}

async function waitForListening(
  port: number,
  child: Deno.ChildProcess,
  timeoutMs = 10_000,
) {
  let exited = false;
  child.status.then(() => exited = true);
  // Looking at the socket table rather than connecting: a probe connection
  // makes sshd log a "kex_exchange_identification" error.
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  const LISTEN = "0A";
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (exited) {
      throw new Error(`Sshd exited before listening on port "${port}"`);
    }
    const listening = Deno.readTextFileSync("/proc/net/tcp").split("\n").some(
      (line) => {
        const f = line.trim().split(/\s+/);
        return f[1] === local && f[3] === LISTEN;
      },
    );
    if (listening) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(
    `Sshd did not listen on port "${port}" within ${timeoutMs} ms`,
  );
}

/** SIGTERMs a process and everything below it: sshd leaves session processes behind otherwise. */
function killTree(pid: number) {
  const children = new Map<number, number[]>();
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      // The command name in parentheses may hold spaces; fields resume after ")".
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry.name)]);
    } catch { /* exited meanwhile */ }
  }
  const all: number[] = [];
  const walk = (p: number) => {
    all.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(pid);
  for (const p of all) {
    try {
      Deno.kill(p, "SIGTERM");
    } catch { /* already gone */ }
  }
}

async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    const stderr = new TextDecoder().decode(out.stderr).trim();
    throw new Error(
      `Command "${cmd} ${args.join(" ")}" failed with exit code ${out.code}: ${stderr}`,
    );
  }
  return new TextDecoder().decode(out.stdout);
}
