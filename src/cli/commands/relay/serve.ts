/** `cmdop relay serve`: the embedded relay (SQLite under --data) until SIGINT/SIGTERM. */
import type { CliContext } from "../../context.ts";
import { CliError } from "../../errors.ts";

export interface ServeOptions {
  listen: string;
  data: string;
  publicUrl?: string;
}

/** Parses `HOST:PORT` (IPv6 as `[::1]:4780`). */
export function parseListen(text: string): { hostname: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) {
    throw new CliError(`--listen "${text}" is not HOST:PORT`, { hint: "e.g. 127.0.0.1:4780" });
  }
  return { hostname: match[1] ?? (match[2] || "0.0.0.0"), port };
}

/** Serves until the context's signal aborts. */
export async function runServe(ctx: CliContext, options: ServeOptions): Promise<void> {
  const { hostname, port } = parseListen(options.listen);
  const { openSqliteStore } = await import("../../../relay/store/sqlite.ts");
  const { startRelay } = await import("../../../relay/server.ts");
  const store = await openSqliteStore(options.data);
  const log = (message: string) => {
    ctx.stderr.write(`${new Date(ctx.now()).toISOString()} ${message}\n`);
  };
  const relay = await startRelay({
    hostname,
    port,
    store,
    publicUrl: options.publicUrl,
    now: ctx.now,
    log,
  });
  await ctx.stderr.write(`listening on ${relay.url}\n`);
  const stopped = new Promise<void>((resolve) =>
    ctx.signal.addEventListener("abort", () => resolve(), { once: true })
  );
  await Promise.race([stopped, relay.finished]);
  await relay.close();
  log("relay stopped");
}
