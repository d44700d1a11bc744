/** The audit log on a cluster's PostgreSQL store: the store's listing rules, append-only, two nodes writing one log, and a node serving `cmdop connect audit`. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import {
  clientEnv,
  killAll,
  type RelayProcess,
  runCmdop,
  startAgent,
  startRelay,
  waitFor,
  type Workspace,
} from "../_harness.ts";
import { PostgresAuditStore } from "../../src/relay/audit/audit_postgres.ts";
import { checkAuditStore, sampleEvent } from "../../src/relay/audit/_store_cases.ts";
import { openPostgresStore } from "../../src/relay/store/postgres.ts";
import { clusterSkipReason, createDatabase, createWorkspaceWithCli } from "./_cluster.ts";
import { type ServiceProcess, startPostgres } from "./_services.ts";

const skip = await clusterSkipReason("the audit log on PostgreSQL");

describe("the audit log on PostgreSQL", { skip }, () => {
  let pg: ServiceProcess;

  before(async () => {
    pg = await startPostgres();
  });
  after(async () => {
    await killAll();
    await pg?.stop();
  });

  it("lists a workspace's events oldest first, by time and machine, in pages", async () => {
    const store = await openPostgresStore(await createDatabase(pg.url, "audit_cases"));
    try {
      await checkAuditStore(new PostgresAuditStore(store.sql));
    } finally {
      await store.close();
    }
  });

  it("keeps one log for every node, and no UPDATE or DELETE changes it", async () => {
    const url = await createDatabase(pg.url, "audit_nodes");
    const nodes = [await openPostgresStore(url), await openPostgresStore(url)];
    try {
      const [a, b] = nodes.map((n) => new PostgresAuditStore(n.sql));
      await a.append(sampleEvent("ws", 10, "session.start"));
      await b.append(sampleEvent("ws", 20, "session.end"));
      await nodes[0].sql`UPDATE audit_events SET kind = 'rewritten'`;
      await nodes[1].sql`DELETE FROM audit_events`;
      for (const store of [a, b]) {
        const listed = await store.list({ workspaceId: "ws", sinceMs: 0, limit: 10 });
        assert.deepEqual(listed.map((e) => e.kind), ["session.start", "session.end"]);
      }
    } finally {
      await Promise.all(nodes.map((n) => n.close()));
    }
  });

  it("a node records sessions and operator verbs, and serves them to the workspace's members", async () => {
    const storeUrl = await createDatabase(pg.url, "audit_node");
    const prod: Workspace = await createWorkspaceWithCli(storeUrl, "prod");
    const node: RelayProcess = await startRelay({ extraArgs: ["--store", storeUrl] });
    await startAgent(node.url, prod.enroll_token, { hostname: "pg-box" });
    const env = await clientEnv(node.url, prod.api_key);
    const r = await runCmdop(["connect", "exec", "pg-box", "--", "echo", "hello"], { env });
    assert.equal(r.code, 0, r.stderr);
    let events: {
      kind: string;
      machine: string;
      actor_kind: string;
      detail: Record<string, unknown>;
    }[] = [];
    await waitFor("the session's end in the log", async () => {
      const listed = await runCmdop(["connect", "audit", "--json"], { env });
      assert.equal(listed.code, 0, listed.stderr);
      events = listed.stdout.split("\n").filter((l) => l).map((l) => JSON.parse(l));
      return events.some((e) => e.kind === "session.end");
    });
    const end = events.find((e) => e.kind === "session.end")!;
    assert.equal(end.machine, "pg-box");
    assert.equal(end.detail.exit_code, 0);
    assert.equal(end.detail.bytes_out, "hello\n".length);
    const kinds = events.map((e) => e.kind);
    for (const kind of ["workspace.created", "key.created", "machine.enrolled", "session.start"]) {
      assert.ok(kinds.includes(kind), `${kind} in ${kinds}`);
    }
    assert.doesNotMatch(JSON.stringify(events), /cm[kesmtarc]_[A-Za-z0-9]/);
  });
});
