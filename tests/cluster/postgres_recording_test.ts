/** Session recordings on a cluster's PostgreSQL store: the store's rules, and a session recorded through one node replayed through another. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import {
  clientEnv,
  killAll,
  runCmdop,
  startAgent,
  startRelay,
  waitFor,
  type Workspace,
} from "../_harness.ts";
import { PostgresRecordingStore } from "../../src/relay/recording/recording_postgres.ts";
import { checkRecordingStore } from "../../src/relay/recording/_store_cases.ts";
import { openPostgresStore } from "../../src/relay/store/postgres.ts";
import { clusterSkipReason, createDatabase, createWorkspaceWithCli } from "./_cluster.ts";
import { type ServiceProcess, startPostgres } from "./_services.ts";

const skip = await clusterSkipReason("session recordings on PostgreSQL");

describe("session recordings on PostgreSQL", { skip }, () => {
  let pg: ServiceProcess;

  before(async () => {
    pg = await startPostgres();
  });
  after(async () => {
    await killAll();
    await pg?.stop();
  });

  it("keeps the setting, the bytes in chunks and the index, lists, isolates and prunes", async () => {
    const store = await openPostgresStore(await createDatabase(pg.url, "recording_cases"));
    try {
      await checkRecordingStore(store, new PostgresRecordingStore(store.sql));
      const [{ count }] = await store.sql`SELECT count(*)::int AS count FROM recording_chunks`;
      assert.equal(count, 0, "the pruned recording's chunks went with it");
    } finally {
      await store.close();
    }
  });

  it("replays through one node a session recorded through another", async () => {
    const storeUrl = await createDatabase(pg.url, "recording_nodes");
    const prod: Workspace = await createWorkspaceWithCli(storeUrl, "prod");
    const on = await runCmdop(
      ["relay", "workspace", "recording", "on", "prod", "--store", storeUrl, "--json"],
    );
    assert.equal(on.code, 0, on.stderr);
    assert.deepEqual(JSON.parse(on.stdout), { workspace: "prod", recording: true });
    const a = await startRelay({ extraArgs: ["--store", storeUrl] });
    const b = await startRelay({ extraArgs: ["--store", storeUrl] });
    await startAgent(a.url, prod.enroll_token, { hostname: "pg-box" });
    const envA = await clientEnv(a.url, prod.api_key);
    const r = await runCmdop(
      ["connect", "exec", "pg-box", "--", "sh", "-c", "seq 1 20000; echo done >&2"],
      { env: envA },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /the relay records this session/);
    // Node a is gone: what it recorded is in the database, not on its disk.
    await a.stop();
    const envB = await clientEnv(b.url, prod.api_key);
    let id = "";
    await waitFor("the recording listed through node b", async () => {
      const listed = await runCmdop(["connect", "sessions", "--json"], { env: envB });
      assert.equal(listed.code, 0, listed.stderr);
      const rows = listed.stdout.split("\n").filter((l) => l).map((l) => JSON.parse(l));
      id = rows.find((row) => row.ended_ms && row.machine === "pg-box")?.id ?? "";
      return id !== "";
    });
    const replay = await runCmdop(["connect", "replay", id], { env: envB });
    assert.equal(replay.code, 0, replay.stderr);
    const [header, ...events] = replay.stdout.split("\n").filter((l) => l).map((l) =>
      JSON.parse(l)
    );
    assert.equal(header.version, 2);
    const out = events.filter((e: unknown[]) => e[1] === "o").map((e: unknown[]) => e[2]).join("");
    assert.equal(out, r.stdout);
    assert.ok(events.some((e: unknown[]) => e[1] === "e" && e[2] === "done\n"));
  });
});
