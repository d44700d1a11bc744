/** Load generator: many simulated agents in one process, speaking the real agent protocol (enroll, control stream, dial-back). */

import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { parseArgs } from "node:util";
import { AgentService, type DialFrame, DialFrameSchema } from "../gen/cmdop/v1/agent_pb.ts";
import { SessionOutputSchema } from "../gen/cmdop/v1/session_pb.ts";
import { Backoff, sleep } from "../src/agent/backoff.ts";
import { AsyncQueue } from "../src/lib/async_queue.ts";
import { createRelayTransport } from "../src/lib/transport.ts";

/** One simulated machine's credential, kept in the state file so reruns skip enrollment. */
interface Enrolled {
  machineId: string;
  credential: string;
}

type AgentClient = ReturnType<typeof createClient<typeof AgentService>>;

const USAGE =
  "usage: _loadgen.ts --server URL --enroll-token T --count N --state FILE --prefix P [--no-answers]";

/** Counts the parent reads from stdout, one JSON line every `REPORT_MS`. */
const status = { enrolled: 0, online: 0, dials: 0, pings: 0, reconnects: 0, failures: 0 };
const REPORT_MS = 100;

async function enrollAll(
  server: string,
  token: string,
  count: number,
  prefix: string,
): Promise<Enrolled[]> {
  const client = createClient(AgentService, createRelayTransport({ baseUrl: server }));
  const enrolled: Enrolled[] = new Array(count);
  let next = 0;
  // A few enrollments in flight: each is a SQLite insert and a hash on the relay.
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const r = await client.enroll({
        enrollToken: token,
        hostname: `${prefix}-${i}`,
        os: "linux",
        arch: "x86_64",
        agentVersion: "loadgen",
      });
      enrolled[i] = { machineId: r.machineId, credential: r.machineSecret };
      status.enrolled++;
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return enrolled;
}

/** Holds one agent's control stream forever, reconnecting like `cmdop agent run` does. */
async function runAgent(
  server: string,
  agent: Enrolled,
  index: number,
  prefix: string,
  answersPings: boolean,
) {
  const client = createClient(
    AgentService,
    createRelayTransport({ baseUrl: server, bearer: agent.credential }),
  );
  const backoff = new Backoff({ baseMs: 200, capMs: 10_000 });
  const hello = {
    hostname: `${prefix}-${index}`,
    os: "linux",
    arch: "x86_64",
    agentVersion: "loadgen",
    // As `cmdop agent run` does: the relay then counts the agent online only while it answers.
    answersPings,
  };
  for (;;) {
    let online = false;
    try {
      for await (const command of client.control(hello)) {
        if (command.msg.case === "welcome" && !online) {
          online = true;
          status.online++;
          backoff.reset();
        } else if (command.msg.case === "ping" && answersPings) {
          status.pings++;
          client.heartbeat({ pingTimeMs: command.msg.value.timeMs }).catch(() => status.failures++);
        } else if (command.msg.case === "dial") {
          answerDial(client, command.msg.value.sessionId).catch(() => status.failures++);
        }
      }
    } catch {
      // The relay went away: reconnect below.
    }
    if (online) status.online--;
    status.reconnects++;
    await sleep(backoff.next());
  }
}

/**
 * Dials back and answers like an exec of `true` without starting a process,
 * so exec throughput measures the relay, not process creation.
 */
async function answerDial(client: AgentClient, sessionId: string): Promise<void> {
  status.dials++;
  const outbound = new AsyncQueue<DialFrame>();
  outbound.push(create(DialFrameSchema, { sessionId }));
  const send = (msg: Parameters<typeof create<typeof SessionOutputSchema>>[1]) =>
    outbound.push(create(DialFrameSchema, { sessionId, output: create(SessionOutputSchema, msg) }));
  let answered = false;
  for await (const input of client.dial(outbound)) {
    if (input.msg.case === "open" && !answered) {
      answered = true;
      send({ msg: { case: "ready", value: { windowBytes: 1 << 20 } } });
      send({ msg: { case: "exit", value: { code: 0 } } });
      outbound.close();
    }
  }
}

async function main() {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      server: { type: "string" },
      "enroll-token": { type: "string" },
      count: { type: "string" },
      state: { type: "string" },
      prefix: { type: "string", default: "sim" },
      // Agents before the relay counted answers did not answer: `--no-answers` measures that relay load.
      "no-answers": { type: "boolean", default: false },
    },
  });
  const { server, state, prefix } = values;
  const count = Number(values.count);
  if (!server || !state || !values["enroll-token"] || !(count > 0)) throw new Error(USAGE);
  // The interval also keeps the process alive after the agents are started.
  setInterval(() => console.log(JSON.stringify(status)), REPORT_MS);
  let agents: Enrolled[];
  try {
    agents = JSON.parse(await Deno.readTextFile(state));
    status.enrolled = agents.length;
  } catch {
    agents = await enrollAll(server, values["enroll-token"], count, prefix);
    await Deno.writeTextFile(state, JSON.stringify(agents));
  }
  // Connecting all at once would be a storm of its own; a few ms apart per batch is enough.
  for (let i = 0; i < agents.length; i++) {
    runAgent(server, agents[i], i, prefix, !values["no-answers"]);
    if (i % 100 === 99) await sleep(5);
  }
}

if (import.meta.main) await main();
