/** Password lock-outs under attack: concurrent guesses, the /device page, a relay restart, user enumeration, device-code floods. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { MachineService } from "../../gen/cmdop/v1/machine_pb.ts";
import { createRelayTransport } from "../../src/lib/transport.ts";
import {
  killAll,
  type RelayProcess,
  startAgent,
  startRelay,
  waitFor,
  type Workspace,
} from "../_harness.ts";
import { addUser, postOAuth, submitDevicePage, type TestClock, testClock } from "../_login.ts";

const PASSWORD = "correct horse";
/** 3 free failures per source, and the attempt that earns the first lock-out. */
const MAX_EVALUATED_PER_SOURCE = 4;

/**
 * Guesses the rules allow in `elapsedMs` from a fresh start: the free ones, the one that
 * earns the first lock-out, and one more each time a lock-out (1 s, 2 s, 4 s, …) has passed.
 */
function allowedWithin(elapsedMs: number, first = MAX_EVALUATED_PER_SOURCE): number {
  let allowed = first;
  for (let lock = 1000, passed = lock; passed <= elapsedMs; lock *= 2, passed += lock) allowed++;
  return allowed;
}

/** Sends `count` wrong passwords at once; returns how many were checked (wrong) and refused (locked). */
async function concurrentGuesses(
  relay: RelayProcess,
  ws: Workspace,
  hostname: string,
  count: number,
) {
  const client = createClient(
    MachineService,
    createRelayTransport({ baseUrl: relay.url, bearer: ws.api_key }),
  );
  const { machines } = await client.listMachines({});
  const machineId = machines.find((m) => m.hostname === hostname)!.id;
  const results = await Promise.all(
    Array.from(
      { length: count },
      (_, i) =>
        client.unlockMachine({ machineId, password: `guess-${i}` }).then(
          () => "unlocked",
          (error) => ConnectError.from(error).code,
        ),
    ),
  );
  return {
    evaluated: results.filter((r) => r === Code.Unauthenticated).length,
    refused: results.filter((r) => r === Code.ResourceExhausted).length,
    other: results.filter((r) => r !== Code.Unauthenticated && r !== Code.ResourceExhausted),
    machineId,
    client,
  };
}

describe("password lock-outs", () => {
  let relay: RelayProcess;
  let clock: TestClock;
  let ws: Workspace;

  before(async () => {
    clock = await testClock();
    relay = await startRelay({ env: clock.env });
    ws = await relay.createWorkspace("acme");
    await Promise.all(
      ["guard-50", "guard-200"].map((hostname) =>
        startAgent(relay.url, ws.enroll_token, { hostname, password: PASSWORD })
      ),
    );
    await addUser(relay.dataDir, "ana@example.com", PASSWORD, ["acme"]);
  });
  after(killAll);

  for (const [hostname, count] of [["guard-50", 50], ["guard-200", 200]] as const) {
    it(`${count} concurrent wrong passwords get no more checked than the lock-outs allow`, async () => {
      const started = Date.now();
      const { evaluated, refused, other } = await concurrentGuesses(relay, ws, hostname, count);
      const allowed = allowedWithin(Date.now() - started);
      assert.deepEqual(other, []);
      assert.ok(evaluated <= allowed, `${evaluated} of ${count} were checked (allowed ${allowed})`);
      assert.equal(evaluated + refused, count);
    });
  }

  it("60 concurrent wrong passwords on /device get no more checked than the lock-outs allow", async () => {
    const started = Date.now();
    const { body } = await postOAuth(relay.url, "/oauth/device_authorization", {
      client_id: "cmdop-cli",
    });
    const statuses = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        submitDevicePage(relay.url, {
          user_code: String(body.user_code),
          email: "ana@example.com",
          password: `guess-${i}`,
          action: "approve",
        }).then((r) => r.status)),
    );
    const checked = statuses.filter((s) => s === 401).length;
    assert.equal(statuses.filter((s) => s === 429).length, 60 - checked, String(statuses));
    // 5 free failures per source, and the one that earns the first lock-out.
    const allowed = allowedWithin(Date.now() - started, 6);
    assert.ok(checked <= allowed, `${checked} of 60 were checked (allowed ${allowed})`);
  });

  it("a lock-out survives a relay restart", async () => {
    // Earn a long lock-out on guard-50: each lock-out passes on the test clock, then one more guess.
    const { machineId } = await concurrentGuesses(relay, ws, "guard-50", 1);
    for (let i = 0; i < 8; i++) {
      await clock.advance(20 * 60_000);
      const { evaluated } = await concurrentGuesses(relay, ws, "guard-50", 1);
      assert.equal(evaluated, 1);
    }
    await relay.stop();
    relay = await startRelay({ dataDir: relay.dataDir, env: clock.env });
    const client = createClient(
      MachineService,
      createRelayTransport({ baseUrl: relay.url, bearer: ws.api_key }),
    );
    await assert.rejects(
      client.unlockMachine({ machineId, password: PASSWORD }),
      (error: unknown) => {
        assert.equal(ConnectError.from(error).code, Code.ResourceExhausted, String(error));
        assert.match(String(error), /too many wrong passwords/);
        return true;
      },
    );
  });
});

describe("login endpoints", () => {
  let relay: RelayProcess;
  let clock: TestClock;

  before(async () => {
    clock = await testClock();
    relay = await startRelay({ env: clock.env });
    await relay.createWorkspace("acme");
    await addUser(relay.dataDir, "ana@example.com", PASSWORD, ["acme"]);
  });
  after(killAll);

  it("a wrong password takes as long for an unknown email as for a known one", async () => {
    const timeOf = async (email: string) => {
      // The lock-out would answer first: let it pass before each try (with a fresh code).
      await clock.advance(16 * 60_000);
      const { body } = await postOAuth(relay.url, "/oauth/device_authorization", {
        client_id: "cmdop-cli",
      });
      const started = performance.now();
      const r = await submitDevicePage(relay.url, {
        user_code: String(body.user_code),
        email,
        password: "wrong",
        action: "approve",
      });
      assert.equal(r.status, 401);
      return performance.now() - started;
    };
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 3; i++) {
      known.push(await timeOf("ana@example.com"));
      unknown.push(await timeOf(`nobody-${i}@example.com`));
    }
    // bcrypt (cost 10) takes tens of milliseconds; without a comparison, an unknown email took ~2 ms.
    assert.ok(
      Math.min(...unknown) > 0.25 * Math.min(...known),
      `known ${known.map(Math.round)} ms, unknown ${unknown.map(Math.round)} ms`,
    );
  });

  it("rate-limits device authorizations per source, and forgets expired ones", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) {
      statuses.push(
        (await postOAuth(relay.url, "/oauth/device_authorization", {
          client_id: "cmdop-cli",
        })).status,
      );
    }
    const created = statuses.filter((s) => s === 200).length;
    assert.ok(created <= 10, `${created} of 30 created`);
    assert.equal(statuses.filter((s) => s === 429).length, 30 - created);
    await clock.advance(2 * 60 * 60_000);
    await waitFor(
      "a new device authorization after the window",
      async () =>
        (await postOAuth(relay.url, "/oauth/device_authorization", { client_id: "cmdop-cli" }))
          .status === 200,
    );
    const db = new DatabaseSync(join(relay.dataDir, "relay.db"), { readOnly: true });
    try {
      const { n } = db.prepare("SELECT count(*) AS n FROM device_codes").get() as { n: number };
      assert.equal(Number(n), 1, "expired device codes were kept");
    } finally {
      db.close();
    }
  });
});
