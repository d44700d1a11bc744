/** Session recording: opt-in per workspace, exec sessions recorded with their cap, listed and replayed by members only, bounded, and pruned after the retention. */
import { after, afterEach, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import {
  clientEnv,
  killAll,
  type RelayProcess,
  residentBytes,
  runCmdop,
  samplePeakRss,
  startAgent,
  startRelay,
  waitFor,
  type Workspace,
} from "../_harness.ts";
import { DAY_MS, type TestClock, testClock } from "../_login.ts";
import { RecordingService } from "../../gen/cmdop/v1/recording_pb.ts";
import { SessionKind } from "../../gen/cmdop/v1/session_pb.ts";
import { createRelayTransport } from "../../src/lib/transport.ts";
import { silentContext } from "../_context.ts";
import { openRelayConnection } from "../../src/cli/relay_client.ts";
import { openSession } from "../../src/cli/session_client.ts";

const MIB = 1024 * 1024;
/**
 * What the relay may grow by, from before a recorded terminal's session through its client
 * pausing: one window, the recording's queue (4 MiB) and V8's slack from what passed through
 * (40-45 MiB measured here on a quiet machine, 103 MiB once with both cores busy: collection
 * lags behind). Half the flow: a recording that held what it had not written yet would grow
 * by more than the whole flow.
 */
const PAUSE_BOUND = 192 * MIB;
/** Terminal output the test reads before its client pauses: twice the bound. */
const FLOWED_BYTES = 384 * MIB;
/** The relay's --recording-exec-output in this file. */
const EXEC_CAP = 4096;

/** One line of `cmdop connect sessions --json`. */
interface Listed {
  id: string;
  machine: string;
  actor_kind: string;
  kind: string;
  argv: string[];
  ended_ms: number | null;
  bytes: number;
  output_bytes: number;
  truncated: boolean;
  exit_code: number | null;
}

describe("session recording", () => {
  let clock: TestClock;
  let relay: RelayProcess;
  let acme: Workspace;
  let env: Record<string, string>;
  let otherEnv: Record<string, string>;
  const relayArgs = ["--recording-exec-output", `${EXEC_CAP}`];

  const recordingsDir = () => join(relay.dataDir, "recordings");
  const files = async () => {
    const names: string[] = [];
    for await (const entry of Deno.readDir(recordingsDir())) names.push(entry.name);
    return names;
  };

  async function sessions(environment = env): Promise<Listed[]> {
    const r = await runCmdop(["connect", "sessions", "--json"], { env: environment });
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.split("\n").filter((l) => l).map((l) => JSON.parse(l));
  }

  /** The recording of the exec whose argv ends with `marker`, once its end is written. */
  async function recordingOf(marker: string): Promise<Listed> {
    let found: Listed | undefined;
    await waitFor(`the recording of "${marker}" to be complete`, async () => {
      found = (await sessions()).find((s) => s.argv.at(-1)?.includes(marker) && s.ended_ms);
      return found !== undefined;
    });
    return found!;
  }

  /** `cmdop connect replay ID` with stdout a pipe: the asciicast file, parsed. */
  async function replayRaw(
    id: string,
  ): Promise<{ header: Record<string, unknown>; events: [number, string, string][] }> {
    const r = await runCmdop(["connect", "replay", id], { env });
    assert.equal(r.code, 0, r.stderr);
    const [first, ...rest] = r.stdout.split("\n").filter((l) => l);
    return { header: JSON.parse(first), events: rest.map((l) => JSON.parse(l)) };
  }

  before(async () => {
    clock = await testClock();
    relay = await startRelay({ env: clock.env, extraArgs: relayArgs });
    acme = await relay.createWorkspace("acme");
    const other = await relay.createWorkspace("other");
    env = await clientEnv(relay.url, acme.api_key);
    otherEnv = await clientEnv(relay.url, other.api_key);
    await startAgent(relay.url, acme.enroll_token, { hostname: "rec-box" });
  });

  afterEach(() => clock.resume());
  after(killAll);

  it("records nothing while the workspace has not turned recording on (the default)", async () => {
    const r = await runCmdop(["connect", "exec", "rec-box", "--", "echo", "unrecorded"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "unrecorded\n");
    assert.doesNotMatch(r.stderr, /record/);
    const show = await runCmdop(
      ["relay", "workspace", "recording", "show", "acme", "--data", relay.dataDir, "--json"],
    );
    assert.deepEqual(JSON.parse(show.stdout), { workspace: "acme", recording: false });
    assert.deepEqual(await sessions(), []);
    assert.deepEqual(await files(), []);
  });

  it("records an exec's command line, stdout and stderr apart, and exit status once turned on", async () => {
    const on = await runCmdop(
      ["relay", "workspace", "recording", "on", "acme", "--data", relay.dataDir],
    );
    assert.equal(on.code, 0, on.stderr);
    assert.match(on.stdout, /records the terminal and exec sessions of workspace "acme"/);
    const r = await runCmdop(
      ["connect", "exec", "rec-box", "--", "sh", "-c", "echo out; echo err >&2; exit 3 # m1"],
      { env },
    );
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stdout, "out\n");
    // The user is told, once, on stderr.
    assert.equal(r.stderr.match(/the relay records this session/g)?.length, 1, r.stderr);
    const listed = await recordingOf("# m1");
    assert.equal(listed.machine, "rec-box");
    assert.equal(listed.kind, "exec");
    assert.equal(listed.actor_kind, "api_key");
    assert.equal(listed.exit_code, 3);
    assert.equal(listed.truncated, false);
    const { header, events } = await replayRaw(listed.id);
    assert.equal(header.version, 2);
    assert.equal(header.command, "sh -c 'echo out; echo err >&2; exit 3 # m1'");
    assert.deepEqual(events.filter((e) => e[1] === "o").map((e) => e[2]).join(""), "out\n");
    assert.deepEqual(events.filter((e) => e[1] === "e").map((e) => e[2]).join(""), "err\n");
    assert.deepEqual(events.filter((e) => e[1] === "x").map((e) => e[2]), ["3"]);
    // The file is private to the relay's user, in a private folder.
    assert.equal((await Deno.stat(recordingsDir())).mode! & 0o777, 0o700);
    const file = join(recordingsDir(), `${listed.id}.cast`);
    assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(file)).size, listed.bytes);
  });

  it("cuts an exec's output at --recording-exec-output and marks the cut", async () => {
    const r = await runCmdop(
      [
        "connect",
        "exec",
        "rec-box",
        "--",
        "sh",
        "-c",
        "head -c 100000 /dev/zero | tr '\\0' a # m2",
      ],
      { env },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.length, 100_000);
    const listed = await recordingOf("# m2");
    assert.equal(listed.truncated, true);
    assert.equal(listed.output_bytes, 100_000);
    const { events } = await replayRaw(listed.id);
    const recorded = events.filter((e) => e[1] === "o").map((e) => e[2]).join("");
    assert.equal(recorded, "a".repeat(EXEC_CAP));
    assert.ok(
      events.some((e) => e[1] === "m" && /cap of 4096 bytes/.test(e[2])),
      JSON.stringify(events.filter((e) => e[1] !== "o")),
    );
  });

  it("shows another workspace none of them, and answers its replay as an id that does not exist", async () => {
    const listed = await recordingOf("# m1");
    const r = await runCmdop(["connect", "sessions", "--json"], { env: otherEnv });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "");
    const theirs = await runCmdop(["connect", "replay", listed.id], { env: otherEnv });
    const missingId = crypto.randomUUID();
    const missing = await runCmdop(["connect", "replay", missingId], { env: otherEnv });
    assert.notEqual(theirs.code, 0);
    assert.equal(theirs.stdout, "");
    assert.equal(theirs.code, missing.code);
    assert.equal(
      theirs.stderr.replaceAll(listed.id, "ID"),
      missing.stderr.replaceAll(missingId, "ID"),
    );
    assert.match(theirs.stderr, /not found/);
  });

  it("refuses a share link, which is no member of the workspace", async () => {
    const created = await runCmdop(["connect", "share", "rec-box", "--json"], { env });
    assert.equal(created.code, 0, created.stderr);
    const link: string = JSON.parse(created.stdout).link;
    const client = createClient(
      RecordingService,
      createRelayTransport({ baseUrl: relay.url, bearer: link.slice(link.indexOf("/s/") + 3) }),
    );
    await assert.rejects(client.listRecordings({}), (error: unknown) => {
      assert.equal(ConnectError.from(error).code, Code.PermissionDenied);
      assert.match(
        ConnectError.from(error).rawMessage,
        /a share link cannot list session recordings/,
      );
      return true;
    });
    const listed = await recordingOf("# m1");
    const read = async () => {
      for await (const _ of client.readRecording({ id: listed.id })) { /* nothing may come */ }
    };
    await assert.rejects(read(), (error: unknown) => {
      assert.equal(ConnectError.from(error).code, Code.PermissionDenied);
      return true;
    });
  });

  it("keeps the relay's memory bounded while a recorded terminal's client stops reading", {
    timeoutMs: 240_000,
  }, async () => {
    const ctx = silentContext();
    const conn = await openRelayConnection(ctx, {}, {
      server: env.CMDOP_SERVER,
      serverSource: "test",
      credential: env.CMDOP_API_KEY,
      credentialSource: "test",
      kind: "api_key",
    });
    const { machines } = await conn.machines.listMachines({});
    // Judged from before the session: what the recording holds while output flows counts too.
    const start = await residentBytes(relay.pid);
    const peak = samplePeakRss(relay.pid);
    const session = await openSession(
      conn,
      {
        machineId: machines[0].id,
        kind: SessionKind.PTY,
        rows: 24,
        cols: 80,
        argv: ["sh", "-c", "yes recorded-terminal-output-line"],
      },
      () => Promise.reject(new Error("no password here")),
      ctx.signal,
    );
    assert.equal(session.ready.recorded, true);
    let received = 0;
    while (received < FLOWED_BYTES) {
      const next = await session.frames.next();
      assert.ok(!next.done, "the terminal ended early");
      if (next.value.msg.case === "output") {
        received += next.value.msg.value.data.length;
        session.consumed(next.value.msg.value.data.length);
      }
    }
    // Then read nothing for 2 s: the relay holds one window and what its writer has queued.
    await new Promise((r) => setTimeout(r, 2_000));
    const growth = (await peak.stop()) - start;
    session.close();
    assert.ok(growth < PAUSE_BOUND, `the relay grew by ${(growth / MIB).toFixed(1)} MiB`);
    const listed = await waitForTerminal();
    assert.ok(listed.output_bytes >= FLOWED_BYTES, JSON.stringify(listed));
  });

  /** The terminal session's recording, once complete. */
  async function waitForTerminal(): Promise<Listed> {
    let found: Listed | undefined;
    await waitFor("the terminal's recording to be complete", async () => {
      found = (await sessions()).find((s) => s.kind === "pty" && s.ended_ms);
      return found !== undefined;
    });
    return found!;
  }

  it("forgets recordings past --recording-retention: listed, replayed, and their files at the next start", async () => {
    const listed = await recordingOf("# m1");
    assert.ok((await files()).length >= 3);
    await clock.advance(31 * DAY_MS);
    assert.deepEqual(await sessions(), []);
    const replay = await runCmdop(["connect", "replay", listed.id], { env });
    assert.notEqual(replay.code, 0);
    assert.match(replay.stderr, /not found/);
    await relay.stop();
    relay = await startRelay({ dataDir: relay.dataDir, env: clock.env, extraArgs: relayArgs });
    await waitFor(
      "the files past the retention to be deleted",
      async () => (await files()).length === 0,
    );
  });
});
