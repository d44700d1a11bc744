/**
 * memoryRelay: every relay service on an in-memory Connect transport, over a real SQLite store in a
 * temporary folder and a clock the test moves. For tests of what a service answers (who may do
 * what, isolation, expiry, audit rows) without a listening relay, an agent or a CLI process.
 *
 * @example
 * ```ts
 * await using relay = await memoryRelay();
 * const acme = await relay.workspace("acme");
 * await acme.machine("web-1");
 * const { machines } = await acme.clients.machines.listMachines({});
 * ```
 */
import {
  type Client,
  createClient,
  createRouterTransport,
  type Interceptor,
} from "@connectrpc/connect";
import type { DescService } from "@bufbuild/protobuf";
import { AuditService } from "../../gen/cmdop/v1/audit_pb.ts";
import { MachineService } from "../../gen/cmdop/v1/machine_pb.ts";
import { RecordingService } from "../../gen/cmdop/v1/recording_pb.ts";
import { SessionService } from "../../gen/cmdop/v1/session_pb.ts";
import { ShareService } from "../../gen/cmdop/v1/share_pb.ts";
import { WorkspaceService } from "../../gen/cmdop/v1/workspace_pb.ts";
import type { Labels } from "../lib/labels.ts";
import { hashSecret, newId } from "../lib/secrets.ts";
import { AuditLog } from "./audit/audit_log.ts";
import { SqliteAuditStore } from "./audit/audit_sqlite.ts";
import { LocalBus } from "./bus/local.ts";
import type { RelayDeps } from "./deps.ts";
import { createPasswordLimiters } from "./machine_access.ts";
import { createRelayRoutes } from "./routes.ts";
import { openSqliteStore, type SqliteStore } from "./store/sqlite.ts";
import type { MachineRecord } from "./store/store.ts";
import { createWorkspace } from "./workspace_admin.ts";
import { SqliteRecordingStore } from "./recording/recording_sqlite.ts";
import { DEFAULT_RECORDING_LIMITS, Recordings } from "./recording/recordings.ts";

/** The address every in-memory call comes from (the real relay takes it from the socket). */
export const MEMORY_PEER = "192.0.2.7";

/** The relay's clients, each call made with one credential. */
export interface MemoryClients {
  machines: Client<typeof MachineService>;
  shares: Client<typeof ShareService>;
  workspaces: Client<typeof WorkspaceService>;
  audit: Client<typeof AuditService>;
  sessions: Client<typeof SessionService>;
  recordings: Client<typeof RecordingService>;
}

export interface MemoryWorkspace {
  id: string;
  name: string;
  apiKey: string;
  /** Clients that present the workspace's API key. */
  clients: MemoryClients;
  /** Registers a machine (as an enrolled agent would be) and returns its record. */
  machine(
    hostname: string,
    options?: { labels?: Labels; passwordHash?: string },
  ): Promise<MachineRecord>;
}

export interface MemoryRelay extends AsyncDisposable {
  deps: RelayDeps;
  store: SqliteStore;
  /** The relay's time, Unix ms: starts at 2026-01-01 and moves only by {@linkcode advance}. */
  now(): number;
  advance(ms: number): void;
  workspace(name: string): Promise<MemoryWorkspace>;
  /** Clients that present `bearer` (a share link's token, a machine credential…; none when ""). */
  clientsFor(bearer: string): MemoryClients;
}

/** Starts the services in memory; `await using` (or `[Symbol.asyncDispose]()`) closes the store. */
export async function memoryRelay(): Promise<MemoryRelay> {
  let nowMs = Date.UTC(2026, 0, 1);
  const now = () => nowMs;
  const dir = await Deno.makeTempDir({ prefix: "cmdop-memory-relay-" });
  const store = await openSqliteStore(dir);
  const log = () => {};
  const deps: RelayDeps = {
    store,
    bus: new LocalBus({ now }),
    now,
    publicUrl: "https://relay.example",
    passwordLimiters: createPasswordLimiters(),
    keepaliveMs: 15_000,
    log,
    audit: new AuditLog(new SqliteAuditStore(store.db), now, log),
    recordings: new Recordings({
      store: await SqliteRecordingStore.open(store.db, dir, log),
      limits: DEFAULT_RECORDING_LIMITS,
      now,
      log,
    }),
  };
  const routes = createRelayRoutes(deps);
  const clientsFor = (bearer: string): MemoryClients => {
    // What the real relay sets from the socket, and the credential every call presents.
    const credential: Interceptor = (next) => (request) => {
      request.header.set("cmdop-peer", MEMORY_PEER);
      if (bearer) request.header.set("authorization", `Bearer ${bearer}`);
      return next(request);
    };
    const transport = createRouterTransport(routes, { transport: { interceptors: [credential] } });
    const client = <S extends DescService>(service: S): Client<S> =>
      createClient(service, transport);
    return {
      machines: client(MachineService),
      shares: client(ShareService),
      workspaces: client(WorkspaceService),
      audit: client(AuditService),
      sessions: client(SessionService),
      recordings: client(RecordingService),
    };
  };
  return {
    deps,
    store,
    now,
    advance: (ms) => void (nowMs += ms),
    clientsFor,
    async workspace(name) {
      const created = await createWorkspace(store, name, nowMs);
      return {
        id: created.workspace_id,
        name,
        apiKey: created.api_key,
        clients: clientsFor(created.api_key),
        async machine(hostname, { labels = {}, passwordHash = null } = {}) {
          const record: MachineRecord = {
            id: newId(),
            workspaceId: created.workspace_id,
            hostname,
            displayName: hostname,
            os: "linux",
            arch: "x86_64",
            agentVersion: "0",
            secretHash: await hashSecret(`secret-of-${hostname}`),
            passwordHash,
            createdMs: nowMs,
            lastSeenMs: 0,
            labels,
          };
          await store.insertMachine(record);
          return record;
        },
      };
    },
    async [Symbol.asyncDispose]() {
      await deps.recordings.flush();
      await deps.audit.flush();
      await store.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}
