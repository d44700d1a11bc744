import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import { hashSecret, newId } from "../lib/secrets.ts";
import { authenticateClient, authenticateMember } from "./auth.ts";
import type { RelayDeps } from "./deps.ts";
import { machineClientRefusal, machineClientRevoked } from "./machine_clients.ts";
import { openSqliteStore } from "./store/sqlite.ts";
import type { Labels } from "../lib/labels.ts";
import { createWorkspace } from "./workspace_admin.ts";

describe("machineClientRefusal()", () => {
  it("lets no machine in by default", () => {
    assert.match(machineClientRefusal({ role: "ci" }, [])!, /lets no machine act as a client/);
  });

  it("lets a machine in when every label of one selector matches", () => {
    const selectors: Labels[] = [{ env: "build", team: "infra" }, { role: "ci" }];
    assert.equal(machineClientRefusal({ role: "ci", env: "prod" }, selectors), undefined);
    assert.equal(machineClientRefusal({ env: "build", team: "infra" }, selectors), undefined);
    assert.match(
      machineClientRefusal({ env: "build", role: "web" }, selectors)!,
      /its labels \(env=build,role=web\) match none/,
    );
  });

  it("never lets an empty selector match every machine", () => {
    assert.match(machineClientRefusal({}, [{}])!, /lets no machine/);
    assert.match(machineClientRefusal({ a: "b" }, [{}, { role: "ci" }])!, /match none/);
  });
});

describe("authenticateClient() with a machine credential", () => {
  async function setUp() {
    const store = await openSqliteStore(await Deno.makeTempDir());
    const deps = { store, now: () => Date.now() } as unknown as RelayDeps;
    const ws = await createWorkspace(store, "acme", 1);
    const credentialOf = async (
      hostname: string,
      labels: Labels,
      workspaceId = ws.workspace_id,
    ) => {
      const id = newId();
      const secret = `s${hostname}`;
      await store.insertMachine({
        id,
        workspaceId,
        hostname,
        displayName: hostname,
        os: "linux",
        arch: "x86_64",
        agentVersion: "0",
        secretHash: await hashSecret(secret),
        passwordHash: null,
        createdMs: 1,
        lastSeenMs: 0,
        labels,
      });
      return { id, header: new Headers({ authorization: `Bearer cmm_${id}.${secret}` }) };
    };
    return { store, deps, ws, credentialOf };
  }

  const denied = (pattern: RegExp) => (error: unknown) =>
    error instanceof ConnectError && error.code === Code.PermissionDenied &&
    pattern.test(error.rawMessage) &&
    /machine-clients set acme --allow-from/.test(error.metadata.get("cmdop-hint") ?? "");

  it("refuses until the workspace allows the machine's labels, then admits it as itself", async () => {
    const { store, deps, ws, credentialOf } = await setUp();
    const ci = await credentialOf("ci-1", { role: "ci" });
    await assert.rejects(
      authenticateClient(deps, ci.header),
      denied(/machine "ci-1" may not act as a client of workspace "acme"/),
    );
    assert.equal(await store.setMachineClients(ws.workspace_id, [{ role: "ci" }]), true);
    assert.deepEqual(await store.machineClients(ws.workspace_id), [{ role: "ci" }]);
    assert.deepEqual(await authenticateClient(deps, ci.header), {
      kind: "machine",
      workspaceId: ws.workspace_id,
      machineId: ci.id,
      hostname: "ci-1",
    });
    assert.equal(await machineClientRevoked(store, ci.id, ws.workspace_id), undefined);
    // Relabelled by its agent, or the setting cleared: refused on the next call.
    const machine = (await store.machineById(ci.id))!;
    await store.updateMachineInfo(ci.id, { ...machine, labels: { role: "web" } });
    await assert.rejects(authenticateClient(deps, ci.header), denied(/role=web/));
    assert.match((await machineClientRevoked(store, ci.id, ws.workspace_id))!, /no longer/);
    await store.updateMachineInfo(ci.id, { ...machine, labels: { role: "ci" } });
    await store.setMachineClients(ws.workspace_id, []);
    await assert.rejects(authenticateClient(deps, ci.header), denied(/lets no machine/));
    await store.close();
  });

  it("refuses a forged secret as unauthenticated and never lets a machine manage the workspace", async () => {
    const { store, deps, ws, credentialOf } = await setUp();
    const ci = await credentialOf("ci-1", { role: "ci" });
    await store.setMachineClients(ws.workspace_id, [{ role: "ci" }]);
    const forged = new Headers({ authorization: `Bearer cmm_${ci.id}.not-the-secret` });
    await assert.rejects(
      authenticateClient(deps, forged),
      (e: ConnectError) => e.code === Code.Unauthenticated,
    );
    await assert.rejects(
      authenticateMember(deps, ci.header, "revoke API keys"),
      (e: ConnectError) =>
        e.code === Code.PermissionDenied &&
        e.rawMessage === "a machine credential cannot revoke API keys",
    );
    await store.close();
  });
});
