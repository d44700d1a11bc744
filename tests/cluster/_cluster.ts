/** Cluster test helpers: PostgreSQL and NATS for a suite, relay nodes on them, workspaces made in the shared store. */
import { createClient } from "@connectrpc/connect";
import postgres from "postgres";
import { type Machine, MachineService } from "../../gen/cmdop/v1/machine_pb.ts";
import { createRelayTransport } from "../../src/lib/transport.ts";
import { openPostgresStore } from "../../src/relay/store/postgres.ts";
import { createWorkspace } from "../../src/relay/workspace_admin.ts";
import { type RelayProcess, runCmdop, startRelay, type Workspace } from "../_harness.ts";
import { needTools } from "../_tools.ts";
import { type ServiceProcess, startNats, startPostgres } from "./_services.ts";

/** The programs every cluster test runs. */
export const CLUSTER_PROGRAMS = ["postgres", "initdb", "nats-server"];

/**
 * Why the cluster tests of `what` cannot run here, or undefined when they can (installing
 * PostgreSQL and nats-server first when missing): see `needTools`, which announces a skip
 * loudly, and fails instead under `CI=true`. `more` names further programs the file runs.
 *
 * @example
 * ```ts
 * const skip = await clusterSkipReason("relay cluster", ["haproxy"]);
 * describe("relay cluster", { skip }, () => {});
 * ```
 */
export function clusterSkipReason(
  what = "cluster tests",
  more: string[] = [],
): Promise<string | undefined> {
  return needTools(what, [...CLUSTER_PROGRAMS, ...more]);
}

/** PostgreSQL and NATS for one test file. */
export interface ClusterServices {
  pg: ServiceProcess;
  nats: ServiceProcess;
  stop(): Promise<void>;
}

/** Starts both services side by side. */
export async function startClusterServices(): Promise<ClusterServices> {
  const [pg, nats] = await Promise.all([startPostgres(), startNats()]);
  return {
    pg,
    nats,
    async stop() {
      await Promise.all([pg.stop(), nats.stop()]);
    },
  };
}

/** A fresh database on the server, so that tests sharing one PostgreSQL never see each other. */
export async function createDatabase(serverUrl: string, name: string): Promise<string> {
  const sql = postgres(serverUrl, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`CREATE DATABASE "${name}"`);
  } finally {
    await sql.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** The flags that make `relay serve` a cluster node. */
export function nodeArgs(storeUrl: string, busUrl: string, nodeId: string): string[] {
  return ["--store", storeUrl, "--bus", busUrl, "--node-id", nodeId];
}

/** `cmdop relay serve` as a cluster node, on `listen` when given (a restart on the same port). */
export function startNode(
  storeUrl: string,
  busUrl: string,
  nodeId: string,
  options: { listen?: string; extraArgs?: string[]; env?: Record<string, string> } = {},
): Promise<RelayProcess> {
  return startRelay({
    listen: options.listen,
    extraArgs: [...nodeArgs(storeUrl, busUrl, nodeId), ...(options.extraArgs ?? [])],
    env: options.env,
  });
}

/** Creates a workspace straight in the shared store, as an operator would on any node. */
export async function createClusterWorkspace(storeUrl: string, name: string): Promise<Workspace> {
  const store = await openPostgresStore(storeUrl);
  try {
    return await createWorkspace(store, name, Date.now());
  } finally {
    await store.close();
  }
}

/** `cmdop relay workspace create NAME --store URL --json`, as an operator of a cluster runs it. */
export async function createWorkspaceWithCli(storeUrl: string, name: string): Promise<Workspace> {
  const r = await runCmdop(["relay", "workspace", "create", name, "--store", storeUrl, "--json"]);
  if (r.code !== 0) throw new Error(`workspace create failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** The workspace's machines as one node sees them. */
export async function listMachines(relayUrl: string, apiKey: string): Promise<Machine[]> {
  const client = createClient(
    MachineService,
    createRelayTransport({ baseUrl: relayUrl, bearer: apiKey }),
  );
  return (await client.listMachines({})).machines;
}

/** The host:port a relay listens on, to restart it in the same place. */
export function listenOf(relay: RelayProcess): string {
  return new URL(relay.url).host;
}

/** The relay URL an agent last reported itself online at, from its log. */
export function onlineAt(agentLog: string): string | undefined {
  const matches = [...agentLog.matchAll(/online as machine \S+ at (\S+)/g)];
  return matches.at(-1)?.[1];
}
