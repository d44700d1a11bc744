/** Exec load: C concurrent in-process clients, each opening exec sessions back to back over the session protocol. */

import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { parseArgs } from "node:util";
import {
  type SessionInput,
  SessionInputSchema,
  SessionKind,
  SessionService,
} from "../gen/cmdop/v1/session_pb.ts";
import { AsyncQueue } from "../src/lib/async_queue.ts";
import { DEFAULT_WINDOW_BYTES } from "../src/lib/credit.ts";
import { createRelayTransport } from "../src/lib/transport.ts";

/** What one run of the load reports on stdout, as JSON. */
export interface ExecLoadResult {
  clients: number;
  seconds: number;
  execs: number;
  failures: number;
  /** What the first failure said. */
  firstFailure?: string;
  execsPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number };
}

async function main() {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      server: { type: "string" },
      key: { type: "string" },
      "machines-file": { type: "string" },
      clients: { type: "string", default: "1" },
      seconds: { type: "string", default: "5" },
      argv: { type: "string", default: "true" },
    },
  });
  const file = values["machines-file"];
  const machines = file ? Deno.readTextFileSync(file).split("\n").filter(Boolean) : [];
  if (!values.server || !values.key || machines.length === 0) {
    throw new Error(
      "usage: _execload.ts --server URL --key K --machines-file FILE [--clients C] [--seconds S]",
    );
  }
  const sessions = createClient(
    SessionService,
    createRelayTransport({ baseUrl: values.server, bearer: values.key }),
  );
  const clients = Number(values.clients);
  const seconds = Number(values.seconds);
  const argv = values.argv.split(" ");
  const latencies: number[] = [];
  let failures = 0;
  let firstFailure: string | undefined;
  let turn = 0;
  const once = async () => {
    const machineId = machines[turn++ % machines.length];
    const inputs = new AsyncQueue<SessionInput>();
    inputs.push(create(SessionInputSchema, {
      msg: {
        case: "open",
        value: { machineId, kind: SessionKind.EXEC, argv, windowBytes: DEFAULT_WINDOW_BYTES },
      },
    }));
    inputs.push(create(SessionInputSchema, { msg: { case: "data", value: new Uint8Array(0) } }));
    const start = performance.now();
    let exited = false;
    for await (const frame of sessions.session(inputs)) {
      if (frame.msg.case === "exit") {
        exited = frame.msg.value.code === 0;
        break;
      }
    }
    inputs.close();
    if (!exited) throw new Error("session ended without a clean exit");
    latencies.push(performance.now() - start);
  };
  // A short warm-up so connection set-up and JIT do not count.
  await Promise.all(Array.from({ length: clients }, () => once().catch(() => {})));
  latencies.length = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(Array.from({ length: clients }, async () => {
    while (performance.now() < deadline) {
      await once().catch((error) => {
        failures++;
        firstFailure ??= error instanceof Error ? error.message : String(error);
      });
    }
  }));
  const elapsed = (performance.now() - started) / 1000;
  const sorted = latencies.sort((a, b) => a - b);
  const at = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
  const result: ExecLoadResult = {
    clients,
    seconds: elapsed,
    execs: latencies.length,
    failures,
    firstFailure,
    execsPerSecond: latencies.length / elapsed,
    latencyMs: { p50: at(0.5), p90: at(0.9), p99: at(0.99) },
  };
  console.log(JSON.stringify(result));
}

if (import.meta.main) await main();
