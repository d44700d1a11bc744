/** `cmdop connect forward` against a real relay and agents: curl, raw half-closes, psql, shares, passwords. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  clientEnv,
  killAll,
  processAlive,
  type RelayProcess,
  residentBytes,
  runCmdop,
  samplePeakRss,
  startAgent,
  startRelay,
  streamCli,
  type StreamingCli,
  waitFor,
  type Workspace,
} from "../_harness.ts";
import { needTools } from "../_tools.ts";
import { halfOpenReadable } from "../../src/lib/tcp_stream.ts";
import { type ServiceProcess, startPostgres } from "../cluster/_services.ts";

const skip = await needTools("port forwarding through curl", ["curl"]);
const skipPsql = await needTools("psql through a forward", ["postgres", "initdb", "psql"]);

/** Bytes of the large download: a pattern no compression or caching can fake. */
const BIG_BYTES = 64 * 1024 * 1024;
const MIB = 1024 * 1024;
/**
 * What the relay, the agent or the forward may grow by while the local program reads nothing for
 * 2 s: each holds at most one 4 MiB window, plus copies the garbage collector has not taken back
 * (as in bulk_test; the forward grew 37 MiB once with both cores busy). Buffering without a bound
 * would take the 56 MiB still to come within the pause, and copies of them besides.
 */
const PAUSE_BOUND = 48 * MIB;

interface Forward {
  cli: StreamingCli;
  port: number;
}

/** Starts `cmdop connect forward … --json` and waits for the port it listens on. */
async function startForward(args: string[], env: Record<string, string>): Promise<Forward> {
  const cli = streamCli(["connect", "forward", ...args, "--json"], env);
  let exited: number | undefined;
  cli.status.then((code) => exited = code);
  await waitFor(
    `cmdop connect forward ${args.join(" ")} to print the port it listens on`,
    () => {
      if (exited !== undefined) {
        throw new Error(`forward exited ${exited} before listening: ${cli.stderr()}`);
      }
      return cli.stdout().includes("\n");
    },
  );
  const line = JSON.parse(cli.stdout().split("\n")[0]);
  return { cli, port: Number(line.listen.split(":").pop()) };
}

/** Stops a forward with Ctrl-C and returns its exit code. */
async function interrupt(forward: Forward): Promise<number> {
  forward.cli.child.kill("SIGINT");
  return await forward.cli.status;
}

async function curl(args: string[]): Promise<{ code: number; stdout: Uint8Array; stderr: string }> {
  const out = await new Deno.Command("curl", {
    args: ["--silent", "--show-error", "--max-time", "60", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stdout: out.stdout, stderr: new TextDecoder().decode(out.stderr) };
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** The large body, generated in 1 MiB blocks that differ from each other. */
function bigBody(): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= BIG_BYTES) return controller.close();
      const block = new Uint8Array(1024 * 1024);
      const seed = sent / block.length;
      for (let i = 0; i < block.length; i += 4) {
        block[i] = seed & 0xff;
        block[i + 1] = (i >> 2) & 0xff;
        block[i + 2] = (i >> 10) & 0xff;
        block[i + 3] = 0x5a;
      }
      sent += block.length;
      controller.enqueue(block);
    },
  });
}

async function bigDigest(): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of bigBody()) hash.update(chunk);
  return hash.digest("hex");
}

describe("cmdop connect forward", { skip }, () => {
  let relay: RelayProcess;
  let ws: Workspace;
  let env: Record<string, string>;
  let http: Deno.HttpServer<Deno.NetAddr>;
  let httpPort = 0;
  let forward: Forward;
  let web1Pid = 0;

  before(async () => {
    relay = await startRelay();
    ws = await relay.createWorkspace("acme");
    env = await clientEnv(relay.url, ws.api_key);
    const [web1] = await Promise.all([
      startAgent(relay.url, ws.enroll_token, { hostname: "web-1" }),
      startAgent(relay.url, ws.enroll_token, { hostname: "web-2" }),
    ]);
    web1Pid = web1.pid;
    // The service on the machine's side: the agents connect to it on their loopback.
    http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
      const url = new URL(request.url);
      if (url.pathname === "/big") return new Response(bigBody());
      if (url.pathname === "/echo") {
        return new Response(request.body, { headers: { "x-seen": "echo" } });
      }
      return new Response(`hello from ${url.pathname}\n`);
    });
    httpPort = http.addr.port;
    forward = await startForward(["web-1", `0:127.0.0.1:${httpPort}`], env);
  });

  after(async () => {
    await http?.shutdown();
    await killAll();
  });

  it("carries an HTTP request to a server the machine reaches, listening on 127.0.0.1", async () => {
    const line = JSON.parse(forward.cli.stdout().split("\n")[0]);
    assert.equal(line.listen, `127.0.0.1:${forward.port}`);
    assert.equal(line.machine, "web-1");
    assert.equal(line.remote, `127.0.0.1:${httpPort}`);
    const r = await curl([`http://127.0.0.1:${forward.port}/hello`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(new TextDecoder().decode(r.stdout), "hello from /hello\n");
    // The session went to the machine named: the relay logs each session with its machine.
    await waitFor(
      "the relay to log the forward session on web-1",
      () => /forward to 127\.0\.0\.1:\d+ on \S+ \(web-1\)/.test(relay.stderr()),
    );
  });

  it("carries many requests at once, each its own connection", async () => {
    const runs = await Promise.all(
      Array.from({ length: 24 }, (_, i) => curl([`http://127.0.0.1:${forward.port}/r${i}`])),
    );
    runs.forEach((r, i) => {
      assert.equal(r.code, 0, r.stderr);
      assert.equal(new TextDecoder().decode(r.stdout), `hello from /r${i}\n`);
    });
  });

  it("downloads 64 MiB with the right sha256, and uploads 16 MiB echoed back intact", async () => {
    const big = await curl([`http://127.0.0.1:${forward.port}/big`]);
    assert.equal(big.code, 0, big.stderr);
    assert.equal(big.stdout.length, BIG_BYTES);
    assert.equal(sha256(big.stdout), await bigDigest());

    const upload = crypto.getRandomValues(new Uint8Array(64 * 1024)).slice();
    const body = new Uint8Array(16 * 1024 * 1024);
    for (let i = 0; i < body.length; i += upload.length) body.set(upload, i);
    const file = await Deno.makeTempFile();
    await Deno.writeFile(file, body);
    const echoed = await curl([
      "--data-binary",
      `@${file}`,
      "-H",
      "content-type: application/octet-stream",
      `http://127.0.0.1:${forward.port}/echo`,
    ]);
    await Deno.remove(file);
    assert.equal(echoed.code, 0, echoed.stderr);
    assert.equal(sha256(echoed.stdout), sha256(body));
  });

  it("holds the target back while the local program stops reading: nothing piles up", async () => {
    const client = await Deno.connect({ hostname: "127.0.0.1", port: forward.port });
    await client.write(new TextEncoder().encode("GET /big HTTP/1.0\r\nhost: x\r\n\r\n"));
    const hash = createHash("sha256");
    const buffer = new Uint8Array(256 * 1024);
    let received = 0;
    let growth: number[] = [];
    for (;;) {
      const n = await client.read(buffer);
      if (n === null) break;
      hash.update(buffer.subarray(0, n));
      received += n;
      if (growth.length === 0 && received > 8 * MIB) {
        // Read nothing for 2 s: the relay, the agent and the forward each hold one window at most.
        const pids = [relay.pid, web1Pid, forward.cli.child.pid];
        const start = await Promise.all(pids.map(residentBytes));
        const peaks = pids.map((pid) => samplePeakRss(pid));
        await new Promise((r) => setTimeout(r, 2_000));
        const peak = await Promise.all(peaks.map((p) => p.stop()));
        growth = peak.map((bytes, i) => bytes - start[i]);
      }
    }
    client.close();
    // The headers came first; the body is the whole 64 MiB.
    assert.ok(received > BIG_BYTES, `${received} bytes`);
    ["relay", "agent", "forward"].forEach((who, i) =>
      assert.ok(growth[i] < PAUSE_BOUND, `${who} grew by ${growth[i] / MIB} MiB while paused`)
    );
  });

  it("works over the half-duplex transport a buffering proxy leaves", async () => {
    const f = await startForward(["web-1", `0:127.0.0.1:${httpPort}`], {
      ...env,
      CMDOP_TRANSPORT: "half",
    });
    const hello = await curl([`http://127.0.0.1:${f.port}/half`]);
    assert.equal(new TextDecoder().decode(hello.stdout), "hello from /half\n");
    const body = crypto.getRandomValues(new Uint8Array(60_000));
    const file = await Deno.makeTempFile();
    await Deno.writeFile(file, body);
    const echoed = await curl(["--data-binary", `@${file}`, `http://127.0.0.1:${f.port}/echo`]);
    await Deno.remove(file);
    assert.equal(echoed.code, 0, echoed.stderr);
    assert.equal(sha256(echoed.stdout), sha256(body));
    assert.equal(await interrupt(f), 130);
  });

  it("passes half-closes both ways", async () => {
    // A server that greets, half-closes, then reads to the end and answers with what it got.
    const server = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const seen = (async () => {
      const conn = await server.accept();
      await conn.write(new TextEncoder().encode("greeting"));
      await conn.closeWrite();
      const got = await new Response(halfOpenReadable(conn)).text();
      conn.close();
      server.close();
      return got;
    })();
    const f = await startForward(["web-2", `0:127.0.0.1:${server.addr.port}`], env);
    const client = await Deno.connect({ hostname: "127.0.0.1", port: f.port });
    // The server's half-close arrives as the end of what the client reads…
    assert.equal(await new Response(halfOpenReadable(client)).text(), "greeting");
    // …and the client can still send, ending with its own half-close.
    await client.write(new TextEncoder().encode("after the server finished"));
    await client.closeWrite();
    assert.equal(await seen, "after the server finished");
    client.close();
    assert.equal(await interrupt(f), 130);
  });

  it("reports a target that refuses, and keeps forwarding", async () => {
    const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = closed.addr.port;
    closed.close();
    const f = await startForward(["web-1", `0:127.0.0.1:${port}`], env);
    const r = await curl([`http://127.0.0.1:${f.port}/`]);
    assert.notEqual(r.code, 0);
    await waitFor("the forward to report the refused connection", () =>
      f.cli.stderr().includes(
        `cannot connect to 127.0.0.1:${port} from this machine: connection refused`,
      ));
    // Still listening: the next connection is accepted (and refused on the machine again).
    const again = await curl([`http://127.0.0.1:${f.port}/`]);
    assert.notEqual(again.code, 0);
    assert.ok(await processAlive(f.cli.child.pid));
    assert.equal(await interrupt(f), 130);
  });

  it("on Ctrl-C closes the connections it carries and the port, and exits 130", async () => {
    const server = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const ended = (async () => {
      const conn = await server.accept();
      // Reads until the agent closes the connection: the session's end reached the machine.
      for await (const _ of conn.readable) { /* drain */ }
      server.close();
      return true;
    })();
    const f = await startForward(["web-1", `0:127.0.0.1:${server.addr.port}`], env);
    const client = await Deno.connect({ hostname: "127.0.0.1", port: f.port });
    await client.write(new TextEncoder().encode("hello"));
    await waitFor(
      "the relay to log the session",
      () => relay.stderr().includes(`forward to 127.0.0.1:${server.addr.port}`),
    );
    assert.equal(await interrupt(f), 130);
    assert.equal(await ended, true);
    await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: f.port }));
    client.close();
  });

  it("refuses a bad spec, a busy port and an unknown machine, naming each", async () => {
    const bad = await runCmdop(["connect", "forward", "web-1", "8080:web"], { env });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /"8080:web" is not a forward spec/);
    assert.match(bad.stderr, /ssh -L/);

    const busy = await runCmdop(["connect", "forward", "web-1", `${forward.port}:127.0.0.1:80`], {
      env,
    });
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${forward.port}`));

    const unknown = await runCmdop(["connect", "forward", "nope", "0:127.0.0.1:80"], { env });
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /nope/);
  });

  it("warns when it listens beyond this computer", async () => {
    const f = await startForward(["web-1", `0:127.0.0.1:${httpPort}`, "--bind", "0.0.0.0"], env);
    await waitFor(
      "the warning about listening on every address",
      () => /warning: listening on 0\.0\.0\.0:\d+: anyone who can reach/.test(f.cli.stderr()),
    );
    const r = await curl([`http://127.0.0.1:${f.port}/any`]);
    assert.equal(new TextDecoder().decode(r.stdout), "hello from /any\n");
    assert.equal(await interrupt(f), 130);
  });

  it("with a share link reaches the link's machine only, and never another workspace's", async () => {
    const share = await runCmdop(["connect", "share", "web-2", "--json"], { env });
    assert.equal(share.code, 0, share.stderr);
    const link = JSON.parse(share.stdout).link as string;
    const linkFile = await Deno.makeTempFile();
    await Deno.writeTextFile(linkFile, link + "\n");
    const guestEnv = await clientEnv(relay.url);
    delete guestEnv.CMDOP_SERVER;
    const f = await startForward(
      ["--link-file", linkFile, `0:127.0.0.1:${httpPort}`],
      guestEnv,
    );
    const r = await curl([`http://127.0.0.1:${f.port}/guest`]);
    assert.equal(new TextDecoder().decode(r.stdout), "hello from /guest\n");
    assert.equal(JSON.parse(f.cli.stdout().split("\n")[0]).machine, "web-2");
    assert.equal(await interrupt(f), 130);
    // The link with another machine's name is refused before anything listens.
    const other = await runCmdop(
      ["connect", "forward", "web-1", `0:127.0.0.1:${httpPort}`, "--link-file", linkFile],
      { env: guestEnv },
    );
    assert.equal(other.code, 1);
    assert.match(other.stderr, /give a machine or --link-file, not both/);

    // A key of another workspace does not see this workspace's machines.
    const rival = await relay.createWorkspace("rival");
    const rivalEnv = await clientEnv(relay.url, rival.api_key);
    const crossed = await runCmdop(["connect", "forward", "web-1", `0:127.0.0.1:${httpPort}`], {
      env: rivalEnv,
    });
    assert.notEqual(crossed.code, 0);
    assert.match(crossed.stderr, /web-1/);
    assert.doesNotMatch(crossed.stdout, /listen/);
  });

  it("ends with exit 2 when its API key is revoked, closing what it carried", async () => {
    const admin = (...args: string[]) =>
      runCmdop(["relay", ...args, "--workspace", "acme", "--data", relay.dataDir]);
    const created = JSON.parse((await admin("key", "create", "--json")).stdout);
    const keyEnv = { ...env, CMDOP_API_KEY: created.api_key as string };
    const server = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const closedByMachine = (async () => {
      const conn = await server.accept();
      for await (const _ of conn.readable) { /* until the agent closes it */ }
      server.close();
      return true;
    })();
    const f = await startForward(["web-1", `0:127.0.0.1:${server.addr.port}`], keyEnv);
    const client = await Deno.connect({ hostname: "127.0.0.1", port: f.port });
    await client.write(new TextEncoder().encode("held open"));
    await waitFor(
      "the relay to log the session",
      () => relay.stderr().includes(`forward to 127.0.0.1:${server.addr.port}`),
    );
    assert.equal((await admin("key", "revoke", created.fingerprint)).code, 0);
    assert.equal(await closedByMachine, true);
    // The next connection finds the key refused, and the forward ends.
    const late = await Deno.connect({ hostname: "127.0.0.1", port: f.port }).catch(() => undefined);
    assert.equal(await f.cli.status, 2, f.cli.stderr());
    assert.match(f.cli.stderr(), /error: its API key was revoked/);
    late?.close();
    client.close();
  });

  it("needs a protected machine's password before it listens", async () => {
    await startAgent(relay.url, ws.enroll_token, { hostname: "vault", password: "s3cret-pass" });
    const refused = await runCmdop(["connect", "forward", "vault", `0:127.0.0.1:${httpPort}`], {
      env,
    });
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /requires an attach password/);
    assert.doesNotMatch(refused.stdout, /listen/);

    const set = await runCmdop(["connect", "password", "set", "vault"], {
      env,
      stdin: "s3cret-pass\n",
    });
    assert.equal(set.code, 0, set.stderr);
    const f = await startForward(["vault", `0:127.0.0.1:${httpPort}`], env);
    const r = await curl([`http://127.0.0.1:${f.port}/vault`]);
    assert.equal(new TextDecoder().decode(r.stdout), "hello from /vault\n");
    assert.equal(await interrupt(f), 130);
  });
});

describe("cmdop connect forward to PostgreSQL", { skip: skip ?? skipPsql }, () => {
  let postgres: ServiceProcess;
  let env: Record<string, string>;

  before(async () => {
    const relay = await startRelay();
    const ws = await relay.createWorkspace("acme");
    env = await clientEnv(relay.url, ws.api_key);
    [postgres] = await Promise.all([
      startPostgres(),
      startAgent(relay.url, ws.enroll_token, { hostname: "db-1" }),
    ]);
  });

  after(async () => {
    await postgres?.stop();
    await killAll();
  });

  it("lets psql run queries through it, several sessions at once", async () => {
    const f = await startForward(["db-1", `0:127.0.0.1:${postgres.port}`], env);
    const psql = (sql: string) =>
      new Deno.Command("psql", {
        args: ["-h", "127.0.0.1", "-p", String(f.port), "-U", "postgres", "-At", "-c", sql],
        stdout: "piped",
        stderr: "piped",
        env: { PGCONNECT_TIMEOUT: "30" },
      }).output();
    const runs = await Promise.all([
      psql("select 40 + 2"),
      psql("select count(*) from generate_series(1, 100000)"),
      psql("select string_agg(md5(i::text), '') from generate_series(1, 20000) i"),
    ]);
    for (const run of runs) assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
    const [answer, count, digest] = runs.map((r) => new TextDecoder().decode(r.stdout).trim());
    assert.equal(answer, "42");
    assert.equal(count, "100000");
    // 20,000 md5s: 640,000 characters came back through the forward intact.
    assert.equal(digest.length, 640_000);
    assert.equal(await interrupt(f), 130);
  });
});
