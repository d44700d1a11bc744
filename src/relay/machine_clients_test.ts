import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  createClient,
  createRouterTransport,
} from "@connectrpc/connect";
import { MachineService } from "../../gen/cmdop/v1/machine_pb.ts";
import {
  OpenSessionSchema,
  SessionInputSchema,
  SessionKind,
  SessionService,
} from "../../gen/cmdop/v1/session_pb.ts";
import { hashSecret, newId } from "../lib/secrets.ts";
import { type AccessWatch, watchSession } from "./access_watch.ts";
import { authenticateClient, authenticateMember, machineForPrincipal } from "./auth.ts";
import { machineClientRefusal, machineClientRevoked, machineReachable } from "./machine_clients.ts";
import { registerMachineService } from "./services/machine_service.ts";
import { registerSessionService } from "./services/session_service.ts";
import { memoryRelay } from "./_memory_relay.ts";
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

/** A workspace "acme" in a fresh store, and a way to add machines and get their credential. */
async function setUp() {
  // Every dependency a service uses (audit log, recordings…), as the relay has them.
  const { store, deps } = await memoryRelay();
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

describe("authenticateClient() with a machine credential", () => {
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
    const setting = { allowFrom: [{ role: "ci" }], reach: [] };
    assert.equal(await store.setMachineClients(ws.workspace_id, setting), true);
    assert.deepEqual(await store.machineClients(ws.workspace_id), setting);
    assert.deepEqual(await authenticateClient(deps, ci.header), {
      kind: "machine",
      workspaceId: ws.workspace_id,
      machineId: ci.id,
      hostname: "ci-1",
      reach: [],
    });
    assert.equal(await machineClientRevoked(store, ci.id, ws.workspace_id), undefined);
    // Relabelled by its agent, or the setting cleared: refused on the next call.
    const machine = (await store.machineById(ci.id))!;
    await store.updateMachineInfo(ci.id, { ...machine, labels: { role: "web" } });
    await assert.rejects(authenticateClient(deps, ci.header), denied(/role=web/));
    assert.match((await machineClientRevoked(store, ci.id, ws.workspace_id))!, /no longer/);
    await store.updateMachineInfo(ci.id, { ...machine, labels: { role: "ci" } });
    await store.setMachineClients(ws.workspace_id, { allowFrom: [], reach: [] });
    await assert.rejects(authenticateClient(deps, ci.header), denied(/lets no machine/));
    await store.close();
  });

  it("refuses a forged secret as unauthenticated and never lets a machine manage the workspace", async () => {
    const { store, deps, ws, credentialOf } = await setUp();
    const ci = await credentialOf("ci-1", { role: "ci" });
    await store.setMachineClients(ws.workspace_id, { allowFrom: [{ role: "ci" }], reach: [] });
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

describe("machineReachable()", () => {
  it("reaches every machine when no --reach selector is given", () => {
    assert.equal(machineReachable({ env: "prod" }, []), true);
    assert.equal(machineReachable({}, []), true);
  });

  it("reaches a machine only when every label of one selector matches", () => {
    const reach: Labels[] = [{ env: "staging" }, { role: "cache", team: "infra" }];
    assert.equal(machineReachable({ env: "staging", role: "web" }, reach), true);
    assert.equal(machineReachable({ role: "cache", team: "infra" }, reach), true);
    assert.equal(machineReachable({ env: "prod", role: "cache" }, reach), false);
    assert.equal(machineReachable({}, reach), false);
  });
});

describe("a machine client limited by --reach", () => {
  /** acme: ci-1 (role=ci, env=prod) allowed, reaching env=staging; stage-1 staging, prod-1 prod. */
  async function reachSetUp() {
    const base = await setUp();
    const ci = await base.credentialOf("ci-1", { role: "ci", env: "prod" });
    const stage = await base.credentialOf("stage-1", { env: "staging" });
    const prod = await base.credentialOf("prod-1", { env: "prod" });
    await base.store.setMachineClients(base.ws.workspace_id, {
      allowFrom: [{ role: "ci" }],
      reach: [{ env: "staging" }],
    });
    const routes = (router: ConnectRouter) => {
      registerMachineService(router, base.deps);
      registerSessionService(router, base.deps);
    };
    const transport = createRouterTransport(routes);
    return {
      ...base,
      ci,
      stage,
      prod,
      machines: createClient(MachineService, transport),
      sessions: createClient(SessionService, transport),
    };
  }

  const notFound = (machineId: string) => (error: unknown) =>
    error instanceof ConnectError && error.code === Code.NotFound &&
    error.rawMessage === `machine "${machineId}" not found`;

  it("lists only the machines in its reach, itself left out when it does not match", async () => {
    const { store, ci, machines } = await reachSetUp();
    const listed = await machines.listMachines({}, { headers: ci.header });
    assert.deepEqual(listed.machines.map((m) => m.hostname), ["stage-1"]);
    await store.close();
  });

  it("finds an unreachable machine, itself included, as missing as an unknown one", async () => {
    const { store, deps, ci, stage, prod } = await reachSetUp();
    const principal = await authenticateClient(deps, ci.header);
    assert.deepEqual(principal.kind === "machine" && principal.reach, [{ env: "staging" }]);
    assert.equal((await machineForPrincipal(deps, principal, stage.id)).hostname, "stage-1");
    for (const id of [prod.id, ci.id, newId()]) {
      await assert.rejects(machineForPrincipal(deps, principal, id), notFound(id));
    }
    await store.close();
  });

  it("is refused a session, full or half duplex, on an unreachable machine as on an unknown one", async () => {
    const { store, ci, stage, prod, sessions } = await reachSetUp();
    const open = (machineId: string) =>
      create(OpenSessionSchema, { machineId, kind: SessionKind.EXEC, argv: ["true"] });
    const full = async (machineId: string) => {
      const frames = async function* () {
        yield create(SessionInputSchema, { msg: { case: "open", value: open(machineId) } });
      };
      for await (const _ of sessions.session(frames(), { headers: ci.header })) { /* drain */ }
    };
    const half = async (machineId: string) => {
      for await (const _ of sessions.halfSession(open(machineId), { headers: ci.header })) {
        /* drain */
      }
    };
    for (const run of [full, half]) {
      // The reachable machine is found (and offline here); the others are not there at all.
      await assert.rejects(
        run(stage.id),
        (e: ConnectError) => e.code === Code.FailedPrecondition && /offline/.test(e.rawMessage),
      );
      const unknown = newId();
      await assert.rejects(run(unknown), notFound(unknown));
      await assert.rejects(run(prod.id), notFound(prod.id));
    }
    await store.close();
  });

  it("ends a running session once its machine is relabelled or the setting changed out of reach", async () => {
    const { store, deps, ws, ci, stage } = await reachSetUp();
    const principal = await authenticateClient(deps, ci.header);
    const watch = () => watchSession(deps, principal, ci.header, stage.id, "session 1", 10);
    // The reason it ended, or a failure once far more than a few rechecks have gone by.
    const ended = async (w: AccessWatch): Promise<string> => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        return await new Promise<string>((resolve, reject) => {
          timer = setTimeout(() => reject(new Error("the session went on")), 5_000);
          w.signal.addEventListener("abort", () => resolve(w.signal.reason.rawMessage));
        });
      } finally {
        clearTimeout(timer);
        w.stop();
      }
    };
    const stageMachine = (await store.machineById(stage.id))!;

    const relabelled = await watch();
    await store.updateMachineInfo(stage.id, { ...stageMachine, labels: { env: "prod" } });
    assert.match(await ended(relabelled), /no longer within the reach of its calling machine/);
    await store.updateMachineInfo(stage.id, stageMachine);

    const narrowed = await watch();
    await store.setMachineClients(ws.workspace_id, {
      allowFrom: [{ role: "ci" }],
      reach: [{ env: "qa" }],
    });
    assert.match(await ended(narrowed), /no longer within the reach/);
    assert.match(
      (await machineClientRevoked(store, ci.id, ws.workspace_id, stageMachine))!,
      /no longer within the reach/,
    );
    // No --reach any more: every machine of the workspace is reachable again.
    await store.setMachineClients(ws.workspace_id, { allowFrom: [{ role: "ci" }], reach: [] });
    assert.equal(
      await machineClientRevoked(store, ci.id, ws.workspace_id, stageMachine),
      undefined,
    );
    await store.close();
  });
});
