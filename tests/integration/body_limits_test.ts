/** Oversized request bodies are refused before they are read: the relay's memory stays flat under them. */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  killAll,
  processAlive,
  type RelayProcess,
  residentBytes,
  samplePeakRss,
  startRelay,
  type Workspace,
} from "../_harness.ts";

const MIB = 1024 * 1024;
/** What the relay may grow by while hostile bodies arrive (it buffers none of them). */
const RSS_GROWTH_BOUND = 96 * MIB;
const ANSWER_DEADLINE_MS = 60_000;

/**
 * POSTs a body of `total` bytes generated as it is sent (never held in
 * memory) and returns the answer, the bytes the relay let through before
 * answering, and how long that took.
 */
async function postHuge(
  url: string,
  total: number,
  headers: Record<string, string>,
  prefix: Uint8Array<ArrayBuffer> = new Uint8Array(),
): Promise<{ status: number; text: string; sent: number; ms: number }> {
  const chunk = new Uint8Array(256 * 1024);
  let sent = 0;
  let answered = false;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (answered || sent >= total) return controller.close();
      const piece = sent === 0 && prefix.length > 0 ? prefix : chunk;
      sent += piece.length;
      controller.enqueue(piece);
    },
  });
  const started = Date.now();
  const abort = new AbortController();
  // A relay that reads the whole body first answers late or never: that is the failure.
  const deadline = setTimeout(() => abort.abort(), ANSWER_DEADLINE_MS);
  const response = await fetch(url, {
    method: "POST",
    headers,
    body,
    signal: abort.signal,
    // @ts-ignore: Deno streams request bodies with duplex "half".
    duplex: "half",
  }).catch((error) => {
    throw new Error(`no answer after ${Date.now() - started} ms and ${sent} bytes: ${error}`);
  }).finally(() => clearTimeout(deadline));
  answered = true;
  const ms = Date.now() - started;
  const text = await response.text().catch(() => "");
  abort.abort();
  return { status: response.status, text, sent, ms };
}

/** A Connect envelope header whose length prefix says `length`. */
function envelopeHeader(length: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(5);
  new DataView(out.buffer).setUint32(1, length);
  return out;
}

describe("relay request bodies", () => {
  let relay: RelayProcess;
  let ws: Workspace;

  before(async () => {
    relay = await startRelay();
    ws = await relay.createWorkspace("bodies");
  });
  after(killAll);

  it("refuses an unauthenticated 512 MB control stream body fast, without reading it", async () => {
    const base = await residentBytes(relay.pid);
    const peak = samplePeakRss(relay.pid);
    const r = await postHuge(`${relay.url}/cmdop.v1.AgentService/Control`, 512 * MIB, {
      "content-type": "application/connect+proto",
    });
    const grown = (await peak.stop()) - base;
    assert.equal(r.status, 200);
    assert.match(r.text, /"code":"unauthenticated"/);
    assert.ok(r.sent < 64 * MIB, `the relay took ${r.sent} bytes before answering`);
    assert.ok(r.ms < 10_000, `answered after ${r.ms} ms`);
    assert.ok(grown < RSS_GROWTH_BOUND, `relay grew ${(grown / MIB).toFixed(0)} MiB`);
  });

  it("refuses ten parallel 300 MB bodies with a bad credential, memory flat", async () => {
    const base = await residentBytes(relay.pid);
    const peak = samplePeakRss(relay.pid);
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        postHuge(
          `${relay.url}/cmdop.v1.${i % 2 ? "SessionService/Session" : "AgentService/Control"}`,
          300 * MIB,
          {
            "content-type": "application/connect+proto",
            authorization: "Bearer cmk_not-a-real-key",
          },
        )),
    );
    const grown = (await peak.stop()) - base;
    for (const r of results) {
      assert.match(r.text, /"code":"unauthenticated"/);
      assert.ok(r.sent < 64 * MIB, `the relay took ${r.sent} bytes before answering`);
    }
    assert.ok(grown < RSS_GROWTH_BOUND, `relay grew ${(grown / MIB).toFixed(0)} MiB`);
  });

  it("refuses an authenticated stream message whose length prefix says 4 GiB - 1 from the prefix", async () => {
    const base = await residentBytes(relay.pid);
    const r = await postHuge(`${relay.url}/cmdop.v1.SessionService/Session`, 300 * MIB, {
      "content-type": "application/connect+proto",
      authorization: `Bearer ${ws.api_key}`,
    }, envelopeHeader(0xffff_ffff));
    assert.match(r.text, /"code":"resource_exhausted"/);
    assert.ok(r.sent < 64 * MIB, `the relay took ${r.sent} bytes before answering`);
    assert.ok((await residentBytes(relay.pid)) - base < RSS_GROWTH_BOUND);
  });

  it("refuses an authenticated unary body over 64 KiB", async () => {
    const r = await postHuge(`${relay.url}/cmdop.v1.MachineService/ListMachines`, 200 * MIB, {
      "content-type": "application/proto",
      authorization: `Bearer ${ws.api_key}`,
    });
    assert.equal(r.status, 429);
    assert.match(r.text, /"code":"resource_exhausted"/);
    assert.ok(r.sent < 64 * MIB, `the relay took ${r.sent} bytes before answering`);
  });

  it("answers a 1 GB /oauth/token body 413 before reading it, with and without Content-Length", async () => {
    const declared = await fetch(`${relay.url}/oauth/token`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        "content-length": String(1024 * MIB),
      },
      body: "client_id=cmdop-cli",
    }).catch((error) => error as Error);
    // Deno's fetch may refuse a Content-Length that is not the body's: the streamed case below is the proof.
    if (declared instanceof Response) await declared.body?.cancel();
    const base = await residentBytes(relay.pid);
    const r = await postHuge(`${relay.url}/oauth/token`, 1024 * MIB, {
      "content-type": "application/x-www-form-urlencoded",
    });
    assert.equal(r.status, 413);
    assert.match(r.text, /body too large: at most 16384 bytes/);
    assert.ok(r.sent < 64 * MIB, `the relay took ${r.sent} bytes before answering`);
    assert.ok((await residentBytes(relay.pid)) - base < RSS_GROWTH_BOUND);
    const page = await postHuge(`${relay.url}/device`, 1024 * MIB, {
      "content-type": "application/x-www-form-urlencoded",
    });
    assert.equal(page.status, 413);
  });

  it("is still alive and serving", async () => {
    assert.ok(await processAlive(relay.pid));
    const response = await fetch(`${relay.url}/healthz`);
    assert.equal(await response.text(), "ok\n");
  });
});
