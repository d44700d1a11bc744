/** Malformed input at scale: a seeded corpus against every relay route, with idle, slow-loris and never-reading clients alongside. */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { AgentService } from "../../gen/cmdop/v1/agent_pb.ts";
import { MachineService } from "../../gen/cmdop/v1/machine_pb.ts";
import { SessionInputSchema, SessionKind, SessionService } from "../../gen/cmdop/v1/session_pb.ts";
import { ShareService } from "../../gen/cmdop/v1/share_pb.ts";
import { AuditService } from "../../gen/cmdop/v1/audit_pb.ts";
import { RecordingService } from "../../gen/cmdop/v1/recording_pb.ts";
import { WorkspaceService } from "../../gen/cmdop/v1/workspace_pb.ts";
import { createRelayTransport } from "../../src/lib/transport.ts";
import {
  killAll,
  processAlive,
  type RelayProcess,
  samplePeakRss,
  startAgent,
  startRelay,
  type Workspace,
} from "../_harness.ts";
import {
  envelope,
  type FuzzCredentials,
  fuzzRequest,
  type FuzzRoute,
  gzipBomb,
  Rng,
} from "./_fuzz_corpus.ts";
import { encodeRequest, NoAnswerError, RawConnection } from "./_fuzz_client.ts";

const SEED = Number(Deno.env.get("CMDOP_FUZZ_SEED") ?? Math.floor(Math.random() * 2 ** 31));
// 10,000 per route (260,000 requests) by default. Each costs the relay ~0.4 ms of CPU and this
// test ~0.15 ms here, so the relay's one JS thread bounds the run: ~110 s of relay CPU, 113 s on
// this 2-core machine (see README, Reliability).
const COUNT = Number(Deno.env.get("CMDOP_FUZZ_COUNT") ?? 6_000);
const WORKERS = 24;
const IDLE_CONNECTIONS = 2_000;
const SLOW_LORIS = 100;
const MIB = 1024 * 1024;
/** The relay's resident memory may not pass this during the run. */
const RSS_BOUND = 512 * MIB;
const CODES = new Set([
  "canceled",
  "unknown",
  "invalid_argument",
  "deadline_exceeded",
  "not_found",
  "already_exists",
  "permission_denied",
  "resource_exhausted",
  "failed_precondition",
  "aborted",
  "out_of_range",
  "unimplemented",
  "internal",
  "unavailable",
  "data_loss",
  "unauthenticated",
]);

function connectRoutes(): FuzzRoute[] {
  const services = [
    AgentService,
    AuditService,
    MachineService,
    RecordingService,
    SessionService,
    ShareService,
    WorkspaceService,
  ];
  return services.flatMap((service) =>
    service.methods.map((method) => ({
      path: `/${service.typeName}/${method.name}`,
      connect: method.methodKind === "unary" ? "unary" as const : "stream" as const,
      credential: method.name === "Enroll"
        ? "none" as const
        : service === AgentService
        ? "agent" as const
        : "client" as const,
    }))
  );
}

const PLAIN_ROUTES: FuzzRoute[] = [
  { path: "/healthz" },
  { path: "/readyz" },
  { path: "/metrics" },
  { path: "/s/cms_not-a-share" },
  // The share page's static files, and names that are none of them.
  { path: "/s/assets/page.js" },
  { path: "/s/assets/xterm.css" },
  { path: "/s/assets/..%2f..%2fetc%2fpasswd" },
  { path: "/s/assets/" },
  { path: "/device" },
  { path: "/oauth/device_authorization" },
  { path: "/oauth/token" },
  { path: "/oauth/revoke" },
  { path: "/no/such/route" },
];

/** What was wrong with an answer, or `undefined` when it is a well-formed one; `code` when it carried one. */
function judge(
  route: FuzzRoute,
  status: number,
  contentType: string,
  body: Uint8Array,
): { problem?: string; code?: string } {
  const text = () => new TextDecoder().decode(body);
  if (!route.connect) {
    if (status >= 500 && !(route.path === "/readyz" && status === 503)) {
      return { problem: `HTTP ${status} from a plain route` };
    }
    return {};
  }
  // Not a Connect request at all (its type or method): the protocol answers with the status alone.
  if (status === 415 || status === 405 || status === 404) return {};
  if (status === 200 && contentType.startsWith("application/connect+")) {
    let offset = 0;
    let end: { error?: { code?: string } } | undefined;
    while (offset + 5 <= body.length) {
      const flags = body[offset];
      const length = new DataView(body.buffer, body.byteOffset + offset + 1).getUint32(0);
      const data = body.subarray(offset + 5, offset + 5 + length);
      if (flags & 2) {
        try {
          end = JSON.parse(new TextDecoder().decode(data));
        } catch {
          return { problem: `end-of-stream message is not JSON: ${text().slice(0, 200)}` };
        }
      }
      offset += 5 + length;
    }
    if (!end) return { code: "open" }; // a stream that was accepted and is still sending
    const code = end.error?.code;
    if (code !== undefined && !CODES.has(code)) return { problem: `unknown code "${code}"` };
    if (code === "internal" || code === "unknown") {
      return { problem: `stream ended with ${code}: ${text().slice(0, 300)}`, code };
    }
    return { code: code ?? "ok" };
  }
  if (status === 200) return { code: "ok" };
  let error: { code?: string; message?: string };
  try {
    error = JSON.parse(text());
  } catch {
    return { problem: `HTTP ${status} without a JSON error: ${text().slice(0, 200)}` };
  }
  if (typeof error.code !== "string" || !CODES.has(error.code)) {
    return { problem: `HTTP ${status} with code ${JSON.stringify(error.code)}` };
  }
  if (error.code === "internal" || error.code === "unknown") {
    return { problem: `HTTP ${status} ${error.code}: ${error.message}`, code: error.code };
  }
  return { code: error.code };
}

describe("relay under a malformed-input corpus", { skip: Deno.build.os !== "linux" }, () => {
  let relay: RelayProcess;
  let ws: Workspace;
  let credentials: FuzzCredentials;
  let machineId: string;

  before(async () => {
    relay = await startRelay({ extraArgs: ["--header-timeout", "3s", "--idle-timeout", "5s"] });
    ws = await relay.createWorkspace("fuzz");
    await startAgent(relay.url, ws.enroll_token, { hostname: "fuzz-box" });
    // A second machine whose credential the corpus uses: its control streams are the fuzz's own.
    const agents = createClient(AgentService, createRelayTransport({ baseUrl: relay.url }));
    const enrolled = await agents.enroll({ enrollToken: ws.enroll_token, hostname: "fuzz-target" });
    credentials = { apiKey: ws.api_key, machine: enrolled.machineSecret };
    const machines = createClient(
      MachineService,
      createRelayTransport({ baseUrl: relay.url, bearer: ws.api_key }),
    );
    machineId = (await machines.listMachines({})).machines.find((m) => m.hostname === "fuzz-box")!
      .id;
  });
  after(killAll);

  it("answers every malformed request well-formed, stays alive and within its memory bound", async () => {
    console.log(`fuzz seed ${SEED} (CMDOP_FUZZ_SEED=${SEED} reproduces), ${COUNT} per route`);
    const { hostname, port } = new URL(relay.url);
    const peak = samplePeakRss(relay.pid, 100);
    const started = Date.now();

    // 2,000 idle connections and slow-loris headers, held while the corpus runs.
    const idle: Deno.Conn[] = [];
    for (let i = 0; i < IDLE_CONNECTIONS; i++) {
      idle.push(await Deno.connect({ hostname, port: Number(port) }));
    }
    const loris = await Promise.all(
      Array.from({ length: SLOW_LORIS }, () => Deno.connect({ hostname, port: Number(port) })),
    );
    let lorisClosed = 0;
    const dripping = loris.map(async (conn) => {
      const header = new TextEncoder().encode("POST /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ");
      try {
        for (const byte of header) {
          await conn.write(new Uint8Array([byte]));
          await new Promise((r) => setTimeout(r, 200));
        }
        for (;;) {
          await conn.write(new Uint8Array([0x61]));
          await new Promise((r) => setTimeout(r, 200));
        }
      } catch {
        lorisClosed++; // the relay closed it: the header timeout
      }
    });

    // Sessions that open a command and never read its output.
    const hold = new AbortController();
    const openFrame = envelope(toBinary(
      SessionInputSchema,
      create(SessionInputSchema, {
        msg: {
          case: "open",
          value: { machineId, kind: SessionKind.EXEC, argv: ["yes"], windowBytes: 0xffff_ffff },
        },
      }),
    ));
    const neverReading = await Promise.all(
      Array.from({ length: 5 }, () =>
        fetch(`${relay.url}/cmdop.v1.SessionService/Session`, {
          method: "POST",
          headers: {
            "content-type": "application/connect+proto",
            authorization: `Bearer ${ws.api_key}`,
          },
          body: new ReadableStream({ start: (c) => c.enqueue(openFrame) }),
          signal: hold.signal,
          // @ts-ignore: Deno streams request bodies with duplex "half".
          duplex: "half",
        }).catch(() => undefined)),
    );

    // The corpus: COUNT requests per route, made in order as the workers take them (the seed
    // alone decides it), each worker on its own keep-alive connection (_fuzz_client.ts).
    const bomb = await gzipBomb();
    const routes = [...connectRoutes(), ...PLAIN_ROUTES];
    const total = COUNT * routes.length;
    const rng = new Rng(SEED);
    const host = `${hostname}:${port}`;
    const codes = new Map<string, number>();
    const routeMs = new Map<string, number>();
    const problems: string[] = [];
    let next = 0;
    let failedToSend = 0;
    let resent = 0;
    const corpusStarted = performance.now();
    await Promise.all(Array.from({ length: WORKERS }, async () => {
      let conn: RawConnection | undefined;
      while (next < total) {
        const route = routes[next++ % routes.length];
        const request = fuzzRequest(rng, route, credentials, bomb);
        const bytes = encodeRequest(host, request);
        let answer;
        const sentAt = performance.now();
        for (let attempt = 0; answer === undefined; attempt++) {
          try {
            if (!conn?.alive) conn = await RawConnection.open(hostname, Number(port));
            answer = await conn.exchange(bytes, request.method, 5_000);
          } catch (error) {
            // A kept-alive socket the relay closed as this request went out: sent again, once,
            // on a new one. A request that a fresh socket gets no answer to is a failure.
            if (error instanceof NoAnswerError && error.reused && attempt === 0) {
              resent++;
              continue;
            }
            failedToSend++;
            if (problems.length < 20) {
              problems.push(
                `${request.method} ${request.path} (${request.kind}): no answer: ${error}`,
              );
            }
            break;
          }
        }
        if (answer === undefined) continue;
        routeMs.set(route.path, (routeMs.get(route.path) ?? 0) + performance.now() - sentAt);
        const verdict = judge(route, answer.status, answer.contentType, answer.body);
        const key = `${route.connect ? "connect" : "http"} ${verdict.code ?? answer.status}`;
        codes.set(key, (codes.get(key) ?? 0) + 1);
        if (verdict.problem && problems.length < 20) {
          problems.push(`${request.method} ${request.path} (${request.kind}): ${verdict.problem}`);
        }
      }
      conn?.close();
    }));
    const corpusSeconds = (performance.now() - corpusStarted) / 1000;
    const elapsed = Date.now() - started;

    hold.abort();
    await Promise.all(neverReading.map((r) => r?.body?.cancel().catch(() => {})));
    // Every idle and slow-loris socket was closed by the relay (header timeout 3 s).
    const idleClosed = await Promise.all(idle.map(async (conn) => {
      try {
        return (await conn.read(new Uint8Array(16))) === null;
      } catch {
        return true;
      }
    }));
    for (const conn of [...idle, ...loris]) {
      try {
        conn.close();
      } catch { /* closed */ }
    }
    await Promise.all(dripping);
    const peakRss = await peak.stop();
    const summary = [...codes].sort().map(([k, n]) => `${k}: ${n}`).join(", ");
    const slowest = [...routeMs].sort((a, b) => b[1] - a[1]).slice(0, 5)
      .map(([path, ms]) => `${path} ${(ms / COUNT).toFixed(1)} ms`).join(", ");
    console.log(
      `${total} requests to ${routes.length} routes in ${corpusSeconds.toFixed(1)} s ` +
        `(${(total / corpusSeconds).toFixed(0)}/s; ${resent} sent again on a new socket), ` +
        `${(elapsed / 1000).toFixed(0)} s in all; ` +
        `relay peak RSS ${(peakRss / MIB).toFixed(0)} MiB; answers: ${summary}; ` +
        `slowest routes (mean per request): ${slowest}`,
    );

    assert.deepEqual(problems, [], `seed ${SEED}: malformed answers`);
    assert.equal(failedToSend, 0);
    assert.ok(await processAlive(relay.pid), `seed ${SEED}: relay died`);
    assert.equal(idleClosed.filter((closed) => !closed).length, 0, "idle connections left open");
    assert.equal(lorisClosed, SLOW_LORIS, "slow-loris connections left open");
    assert.ok(peakRss < RSS_BOUND, `relay peak RSS ${(peakRss / MIB).toFixed(0)} MiB`);
    const health = await fetch(`${relay.url}/healthz`);
    assert.equal(await health.text(), "ok\n");
  });
});
