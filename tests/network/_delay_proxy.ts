/** A TCP relay that holds every chunk for a fixed time in each direction: latency between network namespaces, where this kernel has no netem. */
// Usage: deno run -A tests/network/_delay_proxy.ts LISTEN_HOST:PORT TARGET_HOST:PORT DELAY_MS

/** Bytes held per direction before reading stops: the delay must not become a bottomless buffer. */
const MAX_HELD_BYTES = 8 << 20;
const CHUNK_BYTES = 64 * 1024;

/** One direction of a connection: chunks read now are written `delayMs` later, in order. */
async function delayed(from: Deno.TcpConn, to: Deno.TcpConn, delayMs: number): Promise<void> {
  const held: { due: number; data: Uint8Array }[] = [];
  let heldBytes = 0;
  let ended = false;
  let wakeWriter: (() => void) | undefined;
  let wakeReader: (() => void) | undefined;
  const reader = (async () => {
    try {
      for (;;) {
        while (heldBytes >= MAX_HELD_BYTES) await new Promise<void>((r) => wakeReader = r);
        const buffer = new Uint8Array(CHUNK_BYTES);
        const n = await from.read(buffer);
        if (n === null) break;
        held.push({ due: performance.now() + delayMs, data: buffer.subarray(0, n) });
        heldBytes += n;
        wakeWriter?.();
      }
    } finally {
      ended = true;
      wakeWriter?.();
    }
  })();
  const writer = (async () => {
    for (;;) {
      const next = held[0];
      if (!next) {
        if (ended) break;
        await new Promise<void>((r) => wakeWriter = r);
        continue;
      }
      const wait = next.due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      let offset = 0;
      while (offset < next.data.length) offset += await to.write(next.data.subarray(offset));
      held.shift();
      heldBytes -= next.data.length;
      wakeReader?.();
    }
    await to.closeWrite().catch(() => {});
  })();
  await Promise.allSettled([reader, writer]);
}

async function serve(client: Deno.TcpConn, target: Deno.ConnectOptions, delayMs: number) {
  let upstream: Deno.TcpConn;
  try {
    upstream = await Deno.connect(target);
  } catch {
    client.close();
    return;
  }
  await Promise.allSettled([
    delayed(client, upstream, delayMs),
    delayed(upstream, client, delayMs),
  ]);
  for (const conn of [client, upstream]) {
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

function address(text: string): { hostname: string; port: number } {
  const at = text.lastIndexOf(":");
  return { hostname: text.slice(0, at), port: Number(text.slice(at + 1)) };
}

if (import.meta.main) {
  const [listen, target, delay] = Deno.args;
  const delayMs = Number(delay);
  if (!listen || !target || !(delayMs >= 0)) {
    console.error("usage: _delay_proxy.ts LISTEN_HOST:PORT TARGET_HOST:PORT DELAY_MS");
    Deno.exit(2);
  }
  const listener = Deno.listen({ ...address(listen), transport: "tcp" });
  console.error(`delaying ${listen} -> ${target} by ${delayMs} ms each way`);
  for await (const conn of listener) {
    serve(conn, address(target), delayMs).catch((error) => console.error(error));
  }
}
