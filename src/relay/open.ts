/** openRelay: a relay assembled from its backend (embedded or cluster), clock and user login; `relay serve` only parses flags and calls it. */
import { type BackendOptions, openRelayBackends } from "./backend/backend.ts";
import type { Logger } from "../lib/log.ts";
import { relayClock } from "./clock.ts";
import { createRelayLogin } from "./login/relay_login.ts";
import { type RelayOptions, type RelayServer, startRelay } from "./server.ts";

/** Options of {@linkcode openRelay}: the listener's and the backend's. */
export interface OpenRelayOptions extends
  Omit<
    RelayOptions,
    "store" | "bus" | "audit" | "recordings" | "login" | "now" | "recordingCoalesceMs" | "log"
  > {
  /** Which database (and bus) the relay serves from. */
  backend: Omit<BackendOptions, "now" | "log">;
  /** The real clock. */
  now: () => number;
  log: Logger;
  /** A test clock's file (`CMDOP_RELAY_CLOCK_FILE`): the relay's time is shifted or held by it. */
  clockFile?: string;
  /** Seconds between a device's polls in `cmdop login` (`CMDOP_RELAY_DEVICE_INTERVAL`). */
  deviceIntervalS?: number;
}

/**
 * Opens the backend, then serves on it; when the listen is refused the backend is closed
 * again and a {@linkcode ListenRefused} thrown with the listener's error as its cause.
 * Closing the returned relay closes the backend.
 *
 * @example
 * ```ts
 * const relay = await openRelay({
 *   hostname: "127.0.0.1", port: 0, backend: { data: ".cmdop-relay" }, now: Date.now, log,
 * });
 * ```
 */
export async function openRelay(options: OpenRelayOptions): Promise<RelayServer> {
  const { backend, clockFile, deviceIntervalS, ...listener } = options;
  const { kind, store, bus, logins, audit, recordings } = await openRelayBackends({
    ...backend,
    now: options.now,
    log: options.log,
  });
  if (clockFile) {
    options.log(`test clock: this relay's time is shifted, or held still, by "${clockFile}"`);
  }
  try {
    return await startRelay({
      ...listener,
      store,
      bus,
      audit,
      recordings,
      // A cluster's recordings are chunk rows: written in pieces of up to 64 KiB, once a second.
      recordingCoalesceMs: kind === "cluster" ? 1000 : undefined,
      now: relayClock(options.now, clockFile),
      login: createRelayLogin(logins, { deviceIntervalS }),
    });
  } catch (error) {
    await bus?.close().catch(() => {});
    await store.close().catch(() => {});
    throw new ListenRefused(error);
  }
}

/** The relay's backend opened but its address could not be listened on; `cause` says why. */
export class ListenRefused extends Error {
  constructor(cause: unknown) {
    super((cause as Error)?.message ?? String(cause), { cause });
    this.name = "ListenRefused";
  }
}
