/** The relay's connection limits: idle and slow-header sockets, caps per source and in all, running out of descriptors. */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFdLimit } from "../../src/relay/limits.ts";
import {
  clientEnv,
  killAll,
  processAlive,
  type RelayProcess,
  runCmdop,
  startAgent,
  startRelay,
  waitFor,
  type Workspace,
} from "../_harness.ts";

const encoder = new TextEncoder();

/** Opens `count` raw TCP connections to the relay; each sends `prefix` (maybe nothing). */
async function openConnections(url: string, count: number, prefix = ""): Promise<Deno.Conn[]> {
  const { hostname, port } = new URL(url);
  const conns: Deno.Conn[] = [];
  for (let i = 0; i < count; i++) {
    const conn = await Deno.connect({ hostname, port: Number(port) });
    if (prefix) await conn.write(encoder.encode(prefix));
    conns.push(conn);
  }
  return conns;
}

/** Resolves with what the server sent before closing, or `undefined` if it stays open past `ms`. */
async function readUntilClosed(conn: Deno.Conn, ms: number): Promise<string | undefined> {
  const chunks: string[] = [];
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(4096);
  const reading = (async () => {
    try {
      for (;;) {
        const n = await conn.read(buffer);
        if (n === null) return chunks.join("");
        chunks.push(decoder.decode(buffer.subarray(0, n)));
      }
    } catch {
      return chunks.join(""); // reset by the relay: closed too
    }
  })();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((r) => timer = setTimeout(() => r(undefined), ms));
  const result = await Promise.race([reading, late]);
  clearTimeout(timer);
  return result;
}

/** What the server sent until it matches `pattern`, closes, or `ms` pass (then what came so far). */
async function readUntil(conn: Deno.Conn, pattern: RegExp, ms: number): Promise<string> {
  let text = "";
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(4096);
  const end = Date.now() + ms;
  while (!pattern.test(text) && Date.now() < end) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const n = await Promise.race([
      conn.read(buffer).catch(() => null),
      new Promise<"late">((r) => timer = setTimeout(() => r("late"), end - Date.now())),
    ]);
    clearTimeout(timer);
    if (n === null || n === "late") break;
    text += decoder.decode(buffer.subarray(0, n), { stream: true });
  }
  return text || `(nothing within ${ms / 1000} s)`;
}

function closeAll(conns: Deno.Conn[]): void {
  for (const conn of conns) {
    try {
      conn.close();
    } catch { /* closed by the relay */ }
  }
}

describe("relay connection limits", { skip: Deno.build.os !== "linux" }, () => {
  after(killAll);

  describe("with a 3 s header timeout", () => {
    let relay: RelayProcess;
    let ws: Workspace;
    let env: Record<string, string>;

    before(async () => {
      relay = await startRelay({
        extraArgs: ["--header-timeout", "3s", "--idle-timeout", "2s", "--body-timeout", "3s"],
      });
      ws = await relay.createWorkspace("limits");
      env = await clientEnv(relay.url, ws.api_key);
      await startAgent(relay.url, ws.enroll_token, { hostname: "limits-box" });
    });

    it("keeps serving exec with 1,100 idle and slow-header connections open, then closes them", async () => {
      const needed = 1_300;
      const fds = readFdLimit() ?? 0;
      assert.ok(fds >= needed, `this test needs ${needed} open files; ulimit -n is ${fds}`);
      const silent = await openConnections(relay.url, 550);
      const slow = await openConnections(relay.url, 550, "GET /healthz HTTP/1.1\r\nHost: x\r\n");
      const opened = Date.now();
      const r = await runCmdop(["connect", "exec", "limits-box", "--", "echo", "served"], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "served\n");
      // Every one of them is closed by the relay, none before the header timeout.
      const closed = await Promise.all(
        [...silent, ...slow].map((conn) => readUntilClosed(conn, 30_000)),
      );
      const elapsed = Date.now() - opened;
      closeAll([...silent, ...slow]);
      assert.equal(closed.filter((text) => text === undefined).length, 0, "connections left open");
      assert.ok(elapsed >= 2_500, `closed after ${elapsed} ms, before the 3 s header timeout`);
      assert.ok(await processAlive(relay.pid), "relay died");
    });

    it("refuses a unary body trickled a byte a second once the body timeout passes", async () => {
      // 200 bytes announced, one sent a second: every byte resets an idle timer, none ends the body.
      const head = "POST /cmdop.v1.MachineService/ListMachines HTTP/1.1\r\nHost: x\r\n" +
        `Authorization: Bearer ${ws.api_key}\r\nContent-Type: application/proto\r\n` +
        "Content-Length: 200\r\n\r\n";
      const [conn] = await openConnections(relay.url, 1, head);
      const started = Date.now();
      let dripping = true;
      const drip = (async () => {
        while (dripping) {
          await new Promise((r) => setTimeout(r, 1_000));
          await conn.write(new Uint8Array([0x0a])).catch(() => dripping = false);
        }
      })();
      const text = await readUntil(conn, /"code":"deadline_exceeded".*\}/s, 30_000);
      const elapsed = Date.now() - started;
      dripping = false;
      closeAll([conn]);
      await drip;
      assert.match(text, /^HTTP\/1.1 504/);
      assert.match(text, /not received within 3 s/);
      assert.ok(elapsed >= 2_500, `answered after ${elapsed} ms, before the 3 s body timeout`);
      assert.ok(await processAlive(relay.pid), "relay died");
    });

    it("answers a unary body cut short of its Content-Length with invalid_argument, not internal", async () => {
      const head = "POST /cmdop.v1.MachineService/ListMachines HTTP/1.1\r\nHost: x\r\n" +
        `Authorization: Bearer ${ws.api_key}\r\nContent-Type: application/proto\r\n` +
        "Content-Length: 200\r\n\r\nabc";
      const [conn] = await openConnections(relay.url, 1, head);
      await (conn as Deno.TcpConn).closeWrite();
      const text = await readUntil(conn, /"code":"[a-z_]+".*\}/s, 20_000);
      closeAll([conn]);
      assert.match(text, /^HTTP\/1.1 400/);
      assert.match(text, /"code":"invalid_argument"/);
    });

    it("closes a kept-alive connection after the idle timeout", async () => {
      const [conn] = await openConnections(
        relay.url,
        1,
        "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
      );
      const text = await readUntilClosed(conn, 20_000);
      closeAll([conn]);
      assert.match(text ?? "(still open)", /^HTTP\/1.1 200/);
    });
  });

  it("refuses connections past the per-source and total caps with 503, and serves again after", async () => {
    const relay = await startRelay({
      extraArgs: ["--max-connections-per-source", "40", "--header-timeout", "60s"],
    });
    const held = await openConnections(relay.url, 40);
    const [extra] = await openConnections(relay.url, 1);
    const refused = await readUntilClosed(extra, 10_000);
    closeAll([extra]);
    assert.match(refused ?? "(not refused)", /^HTTP\/1.1 503 [^]*connection limit/);
    closeAll(held);
    await waitFor("the relay to serve again", async () => {
      const response = await fetch(`${relay.url}/healthz`).catch(() => undefined);
      await response?.body?.cancel();
      return response?.status === 200;
    });
    await waitFor(
      "the relay to log the per-source refusal",
      () => /127\.0\.0\.1 holds its maximum of 40 connections/.test(relay.stderr()),
    );
    await relay.stop();

    const capped = await startRelay({ extraArgs: ["--max-connections", "25"] });
    const all = await openConnections(capped.url, 25);
    const [over] = await openConnections(capped.url, 1);
    const text = await readUntilClosed(over, 10_000);
    closeAll([over, ...all]);
    assert.match(text ?? "(not refused)", /^HTTP\/1.1 503/);
    await waitFor(
      "the relay to log the total refusal",
      () => /maximum of 25 connections/.test(capped.stderr()),
    );
    await capped.stop();
  });

  it("lives through running out of file descriptors and serves exec afterwards", async () => {
    // The cap is set past the descriptors, so the kernel's EMFILE is what the relay meets.
    const relay = await startRelay({
      fdLimit: 200,
      extraArgs: ["--max-connections", "100000", "--header-timeout", "60s"],
    });
    const ws = await relay.createWorkspace("fds");
    const env = await clientEnv(relay.url, ws.api_key);
    await startAgent(relay.url, ws.enroll_token, { hostname: "fd-box" });
    const held = await openConnections(relay.url, 400);
    await waitFor(
      "the relay to say it is out of descriptors",
      () => /out of file descriptors/.test(relay.stderr()),
    );
    assert.ok(await processAlive(relay.pid), "relay died");
    closeAll(held);
    await waitFor("exec to work again", async () => {
      const r = await runCmdop(["connect", "exec", "fd-box", "--", "echo", "back"], { env });
      return r.code === 0 && r.stdout === "back\n";
    }, 60_000);
    assert.ok(await processAlive(relay.pid), "relay died");
  });
});
