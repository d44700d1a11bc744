/**
 * What kept terminals cost the agent: N terminals whose output nobody reads (a full window each,
 * the worst case) are dropped without a hang-up, and the agent's RSS is read while it keeps them;
 * then one is resumed and the time to its `Ready` and to its last kept byte is measured.
 *
 * `deno run -A bench/resume.ts [--counts 1,10,30]`: a table on stdout and
 * `bench/results/resume.json`. OpenSSH has no counterpart (a dropped ssh connection ends the
 * session), so there is no column for it.
 */
import { SessionKind } from "../gen/cmdop/v1/session_pb.ts";
import type { CliContext } from "../src/cli/context.ts";
import { openRelayConnection } from "../src/cli/relay_client.ts";
import { type OpenedSession, openSession } from "../src/cli/session_client.ts";
import { createWorkspace, ROOT, startAgentProc, startRelayProc } from "./_cmdop_stack.ts";
import { rssBytes } from "./_proc.ts";

const MIB = 1024 * 1024;
const countsAt = Deno.args.indexOf("--counts");
const counts = countsAt >= 0 ? Deno.args[countsAt + 1].split(",").map(Number) : [1, 10, 30];

const quiet = { write: () => Promise.resolve(), isTerminal: () => false, size: () => undefined };
const ctx: CliContext = {
  stdin: { readable: new ReadableStream(), isTerminal: () => false, setRaw: () => {} },
  stdout: quiet,
  stderr: quiet,
  env: () => undefined,
  home: () => {
    throw new Error("the bench keeps no client files");
  },
  now: Date.now,
  signal: new AbortController().signal,
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const dir = await Deno.makeTempDir({ prefix: "cmdop-bench-resume-" });
const relay = await startRelayProc(`${dir}/relay`);
const ws = await createWorkspace(`${dir}/relay`, "resume");
let agent = await startAgentProc(relay.url, ws.enroll_token, "resume-0", `${dir}/agent-0`);
const rows: {
  kept: number;
  agentRssBaseMiB: number;
  agentRssKeptMiB: number;
  perTerminalMiB: number;
  readyMs: number;
  replayMs: number;
  replayedMiB: number;
}[] = [];
try {
  const conn = await openRelayConnection(ctx, {}, {
    server: relay.url,
    serverSource: "bench",
    credential: ws.api_key,
    credentialSource: "bench",
    kind: "api_key",
  });
  for (const [round, count] of counts.entries()) {
    // A fresh agent for each count: memory a process once took is not handed back at once.
    if (round > 0) {
      await agent.stop();
      agent = await startAgentProc(
        relay.url,
        ws.enroll_token,
        `resume-${round}`,
        `${dir}/agent-${round}`,
      );
    }
    const { machines } = await conn.machines.listMachines({});
    const machineId = machines.find((m) => m.hostname === `resume-${round}`)!.id;
    await sleep(1_000);
    const base = rssBytes(agent.pid) ?? 0;
    const opened: OpenedSession[] = [];
    for (let i = 0; i < count; i++) {
      opened.push(
        await openSession(
          conn,
          {
            machineId,
            kind: SessionKind.PTY,
            argv: ["sh", "-c", "yes kept-terminal-output-line"],
            resumeGraceMs: 120_000,
          },
          () => Promise.resolve(undefined),
          ctx.signal,
        ),
      );
    }
    // Nothing is read: each terminal's window fills; then every connection drops.
    await sleep(4_000);
    for (const session of opened) session.abort();
    await sleep(3_000);
    const kept = rssBytes(agent.pid) ?? 0;

    // One comes back: time to its Ready, and to the last byte it was owed.
    const started = performance.now();
    const back = await openSession(
      conn,
      {
        machineId,
        kind: SessionKind.PTY,
        resume: { token: opened[0].ready.resumeToken, outputOffset: 0n },
      },
      () => Promise.resolve(undefined),
      ctx.signal,
    );
    const readyMs = performance.now() - started;
    let replayed = 0;
    for (;;) {
      const next = await back.frames.next();
      if (next.done || next.value.msg.case !== "output") break;
      replayed += next.value.msg.value.data.length;
      // Not credited: what arrives is what was kept, one window.
      if (replayed >= 4 * MIB) break;
    }
    const replayMs = performance.now() - started;
    back.close();
    rows.push({
      kept: count,
      agentRssBaseMiB: base / MIB,
      agentRssKeptMiB: kept / MIB,
      perTerminalMiB: (kept - base) / MIB / count,
      readyMs,
      replayMs,
      replayedMiB: replayed / MIB,
    });
    // The rest are hung up by a resume and a close each, so the next count starts clean.
    for (const session of opened.slice(1)) {
      const again = await openSession(
        conn,
        { machineId, kind: SessionKind.PTY, resume: { token: session.ready.resumeToken } },
        () => Promise.resolve(undefined),
        ctx.signal,
      );
      again.close();
    }
  }
} finally {
  await agent.stop();
  await relay.stop();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}

const fixed = (n: number, digits = 1) => n.toFixed(digits);
console.log(
  "| kept terminals | agent RSS before | agent RSS keeping them | per terminal | resume: ready | resume: 4 MiB replayed |",
);
console.log("| --- | --- | --- | --- | --- | --- |");
for (const r of rows) {
  console.log(
    `| ${r.kept} | ${fixed(r.agentRssBaseMiB)} MiB | ${fixed(r.agentRssKeptMiB)} MiB | ${
      fixed(r.perTerminalMiB, 2)
    } MiB | ${fixed(r.readyMs)} ms | ${fixed(r.replayMs)} ms |`,
  );
}
await Deno.mkdir(`${ROOT}bench/results`, { recursive: true });
await Deno.writeTextFile(
  `${ROOT}bench/results/resume.json`,
  JSON.stringify({ measuredAt: new Date().toISOString(), rows }, null, 2) + "\n",
);
