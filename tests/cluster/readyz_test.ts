/** /readyz of a cluster node: ready while PostgreSQL and NATS answer, 503 naming the one that stopped, ready again once it is back. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import { killAll, type RelayProcess, waitFor } from "../_harness.ts";
import { clusterSkipReason, createDatabase, startNode } from "./_cluster.ts";
import { type ServiceProcess, startNats, startPostgres } from "./_services.ts";

const skip = await clusterSkipReason("relay readiness on PostgreSQL and NATS");

async function readyz(node: RelayProcess): Promise<{ status: number; body: string }> {
  const response = await fetch(`${node.url}/readyz`, { signal: AbortSignal.timeout(10_000) });
  return { status: response.status, body: await response.text() };
}

describe("relay readiness on PostgreSQL and NATS", { skip }, () => {
  let pg: ServiceProcess;
  let nats: ServiceProcess;
  let node: RelayProcess;

  before(async () => {
    [pg, nats] = await Promise.all([startPostgres(), startNats()]);
    // PostgreSQL may still say "starting up" for a moment after it listens.
    let storeUrl = "";
    await waitFor("PostgreSQL to take a new database", async () => {
      storeUrl = await createDatabase(pg.url, "ready").catch(() => "");
      return storeUrl !== "";
    }, 30_000);
    node = await startNode(storeUrl, nats.url, "r1");
  });
  after(async () => {
    await killAll();
    await Promise.all([pg?.stop(), nats?.stop()]);
  });

  it("is ready while both answer", async () => {
    assert.deepEqual(await readyz(node), { status: 200, body: "ready\n" });
  });

  it("fails naming the bus when nats-server stops, and is alive all the same", async () => {
    await nats.stop();
    let last = { status: 0, body: "" };
    await waitFor("/readyz to fail", async () => (last = await readyz(node)).status === 503);
    assert.match(last.body, /^not ready\nbus: /);
    assert.doesNotMatch(last.body, /store:/);
    const health = await fetch(`${node.url}/healthz`);
    assert.equal(health.status, 200);
    await health.body?.cancel();
  });

  it("fails naming the store when PostgreSQL stops too", async () => {
    await pg.stop();
    let last = { status: 0, body: "" };
    await waitFor("/readyz to name the store", async () => {
      last = await readyz(node);
      return /store: /.test(last.body);
    }, 30_000);
    assert.equal(last.status, 503);
  });
});
