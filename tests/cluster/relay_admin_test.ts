/** `cmdop relay workspace create` and `cmdop relay user add` on a cluster's PostgreSQL store (--store, CMDOP_RELAY_STORE). */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import {
  killAll,
  type RelayProcess,
  runCmdop,
  startAgent,
  startRelay,
  type Workspace,
} from "../_harness.ts";
import {
  clusterSkipReason,
  createDatabase,
  createWorkspaceWithCli,
  listMachines,
} from "./_cluster.ts";
import { type ServiceProcess, startPostgres } from "./_services.ts";

const skip = await clusterSkipReason("relay operator commands on PostgreSQL");

describe("relay operator commands on PostgreSQL", { skip }, () => {
  let pg: ServiceProcess;
  let storeUrl: string;
  let node: RelayProcess;
  let prod: Workspace;

  before(async () => {
    pg = await startPostgres();
    storeUrl = await createDatabase(pg.url, "admin");
    // Made before any node ran: the command migrates an empty database itself.
    prod = await createWorkspaceWithCli(storeUrl, "prod");
    node = await startRelay({ extraArgs: ["--store", storeUrl] });
  });
  after(async () => {
    await killAll();
    await pg?.stop();
  });

  it("creates a workspace with --store that a node serves: its API key and enroll token work", async () => {
    assert.equal(prod.name, "prod");
    assert.match(prod.api_key, /^cmk_/);
    await startAgent(node.url, prod.enroll_token, { hostname: "db-1" });
    const machines = await listMachines(node.url, prod.api_key);
    assert.deepEqual(machines.map((m) => m.hostname), ["db-1"]);
  });

  it("takes the store from CMDOP_RELAY_STORE, and refuses a name already taken", async () => {
    const env = { CMDOP_RELAY_STORE: storeUrl };
    const staging = await runCmdop(["relay", "workspace", "create", "staging", "--json"], { env });
    assert.equal(staging.code, 0, staging.stderr);
    const created = JSON.parse(staging.stdout) as Workspace;
    assert.deepEqual(await listMachines(node.url, created.api_key), []);
    const again = await runCmdop(["relay", "workspace", "create", "staging"], { env });
    assert.equal(again.code, 1);
    assert.match(again.stderr, /error: workspace "staging" already exists/);
  });

  it("refuses a store that is not PostgreSQL, two stores at once, and no store at all", async () => {
    const mysql = await runCmdop(["relay", "workspace", "create", "x", "--store", "mysql://db/x"]);
    assert.equal(mysql.code, 1);
    assert.match(mysql.stderr, /store "mysql:\/\/db\/x" is not a postgres:\/\/ URL/);
    const both = await runCmdop(["relay", "workspace", "create", "x", "--data", "/tmp/x"], {
      env: { CMDOP_RELAY_STORE: storeUrl },
    });
    assert.equal(both.code, 1);
    assert.match(both.stderr, /--data "\/tmp\/x" and CMDOP_RELAY_STORE name two different stores/);
    assert.match(both.stderr, /hint: unset CMDOP_RELAY_STORE/);
    const none = await runCmdop(["relay", "user", "add", "a@example.com", "--password-stdin"], {
      stdin: "pw\n",
    });
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no relay store given: use --data DIR or --store postgres:\/\//);
  });

  it("says which database it could not reach, without its password", async () => {
    const url = "postgres://cmdop:hunter2@127.0.0.1:9/cmdop";
    const r = await runCmdop(["relay", "workspace", "create", "x", "--store", url]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot open the PostgreSQL store/);
    assert.doesNotMatch(r.stderr, /hunter2/);
  });

  it("adds a user with --store, then updates it and grants more workspaces", async () => {
    const add = (args: string[], stdin?: string) =>
      runCmdop(["relay", "user", "add", "Eve@Example.com", "--store", storeUrl, ...args], {
        stdin,
      });
    const created = await add(["--workspace", "prod", "--password-stdin", "--json"], "s3cret\n");
    assert.equal(created.code, 0, created.stderr);
    const first = JSON.parse(created.stdout);
    assert.equal(first.email, "eve@example.com");
    assert.equal(first.created, true);
    assert.deepEqual(first.workspaces, ["prod"]);

    const updated = await add(["--workspace", "staging", "--json"]);
    assert.equal(updated.code, 0, updated.stderr);
    const second = JSON.parse(updated.stdout);
    assert.equal(second.user_id, first.user_id);
    assert.equal(second.created, false);
    assert.equal(second.password_set, false);
    assert.deepEqual(second.workspaces, ["prod", "staging"]);

    const unknown = await add(["--workspace", "nowhere"]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /workspace "nowhere" does not exist/);
  });
});
