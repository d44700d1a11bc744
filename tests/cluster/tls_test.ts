/** The relay over TLS with a private CA: HTTP/2 offered by ALPN, TCP_NODELAY on what it accepts, agent --ca-file, CLI CMDOP_CA_FILE, the error without it. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  clientEnv,
  killAll,
  type RelayProcess,
  runCmdop,
  spawnCli,
  startRelay,
  type Workspace,
} from "../_harness.ts";
import { readUntil } from "./_streams.ts";
import { needTools } from "../_tools.ts";
import { makeCertificates } from "../_tls.ts";

const skip = await needTools("relay over TLS", ["openssl"]);

describe("relay over TLS", { skip }, () => {
  let dir: string;
  let relay: RelayProcess;
  let ws: Workspace;

  before(async () => {
    dir = await Deno.makeTempDir({ prefix: "cmdop-tls-" });
    await makeCertificates(dir);
    relay = await startRelay({
      extraArgs: ["--tls-cert", join(dir, "relay.pem"), "--tls-key", join(dir, "relay.key")],
    });
    ws = await relay.createWorkspace("secure");
  });
  after(async () => {
    await killAll();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  });

  it("listens on https and offers HTTP/2 through ALPN", async () => {
    assert.match(relay.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const out = await new Deno.Command("openssl", {
      args: ["s_client", "-connect", new URL(relay.url).host, "-alpn", "h2,http/1.1"],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    assert.match(new TextDecoder().decode(out.stdout), /ALPN protocol: h2/);
  });

  it("turns Nagle's algorithm off on the connections it accepts", async () => {
    // Deno's TlsConn has no setNoDelay: without the option set on the listener, a small
    // write after another waited for the client's delayed ACK (~40 ms, twice per exec).
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: Number(new URL(relay.url).port),
    });
    try {
      const local = (conn.localAddr as Deno.NetAddr).port;
      const relayPort = Number(new URL(relay.url).port);
      let noDelay: number | undefined;
      for (let i = 0; i < 100 && noDelay === undefined; i++) {
        noDelay = peerSocketOption(relay.pid, relayPort, local, IPPROTO_TCP, TCP_NODELAY);
        if (noDelay === undefined) await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(noDelay, 1, "the relay's accepted TLS socket has TCP_NODELAY");
    } finally {
      conn.close();
    }
  });

  it("serves an agent with --ca-file and a client with CMDOP_CA_FILE", async () => {
    const stateDir = await Deno.makeTempDir({ prefix: "cmdop-agent-" });
    const agent = spawnCli([
      "agent",
      "run",
      "--server",
      relay.url,
      "--ca-file",
      join(dir, "ca.pem"),
      "--enroll-token",
      ws.enroll_token,
      "--state",
      stateDir,
      "--hostname",
      "vault",
    ]);
    await readUntil(agent.stderr, /online as machine/);
    const env = { ...(await clientEnv(relay.url, ws.api_key)), CMDOP_CA_FILE: join(dir, "ca.pem") };
    const hello = await runCmdop(["connect", "exec", "vault", "--", "echo", "sealed"], { env });
    assert.equal(hello.stdout, "sealed\n");
    assert.equal(hello.code, 0);
    const bulk = await runCmdop([
      "connect",
      "exec",
      "vault",
      "--",
      "head",
      "-c",
      "20000000",
      "/dev/zero",
    ], {
      env,
    });
    assert.equal(bulk.stdoutBytes.length, 20_000_000);
  });

  it("refuses a relay whose certificate no trusted CA signed, saying why", async () => {
    const env = await clientEnv(relay.url, ws.api_key);
    const r = await runCmdop(["connect", "--list"], { env });
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^error: cannot reach the relay at https:\S+ \(CMDOP_SERVER environment variable\): invalid peer certificate: UnknownIssuer\n/,
    );
    assert.match(r.stderr, /hint: .*CMDOP_CA_FILE/);
    const login = await runCmdop(["login", "--json"], { env });
    assert.equal(login.code, 1);
    assert.match(
      login.stderr,
      /cannot reach the relay at https:\S+ \(CMDOP_SERVER environment variable\): invalid peer certificate: UnknownIssuer/,
    );
    assert.match(login.stderr, /hint: .*CMDOP_CA_FILE/);
    const missing = await runCmdop(["connect", "--list"], {
      env: { ...env, CMDOP_CA_FILE: join(dir, "missing.pem") },
    });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot read the CA file ".*missing\.pem" \(CMDOP_CA_FILE\)/);
  });
});

const IPPROTO_TCP = 6;
const TCP_NODELAY = 1;

/**
 * An option of the socket process `pid` accepted on `port` from our `peerPort`, read through a
 * duplicate of its descriptor (pidfd_getfd, Linux 5.6); undefined while it is not accepted yet.
 */
function peerSocketOption(
  pid: number,
  port: number,
  peerPort: number,
  level: number,
  option: number,
): number | undefined {
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(4, "0");
  let inode: string | undefined;
  for (const table of ["tcp", "tcp6"]) {
    const text = Deno.readTextFileSync(`/proc/${pid}/net/${table}`);
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && f[1].endsWith(`:${hex(port)}`) && f[2].endsWith(`:${hex(peerPort)}`)) {
        inode = f[9];
      }
    }
  }
  if (!inode || inode === "0") return undefined;
  let fd: number | undefined;
  for (const entry of Deno.readDirSync(`/proc/${pid}/fd`)) {
    try {
      if (Deno.readLinkSync(`/proc/${pid}/fd/${entry.name}`) === `socket:[${inode}]`) {
        fd = Number(entry.name);
      }
    } catch { /* closed meanwhile */ }
  }
  if (fd === undefined) return undefined;
  const libc = Deno.dlopen("libc.so.6", {
    syscall: { parameters: ["i64", "i64", "i64", "i64"], result: "i64" },
    getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
    close: { parameters: ["i32"], result: "i32" },
  });
  try {
    const pidfd = Number(libc.symbols.syscall(434n, BigInt(pid), 0n, 0n)); // pidfd_open
    assert.ok(pidfd >= 0, "pidfd_open");
    const copy = Number(libc.symbols.syscall(438n, BigInt(pidfd), BigInt(fd), 0n)); // pidfd_getfd
    libc.symbols.close(pidfd);
    assert.ok(copy >= 0, "pidfd_getfd");
    const value = new Int32Array(1);
    const length = new Uint32Array([4]);
    const ok = libc.symbols.getsockopt(copy, level, option, value, length);
    libc.symbols.close(copy);
    assert.equal(ok, 0, "getsockopt");
    return value[0];
  } finally {
    libc.close();
  }
}
