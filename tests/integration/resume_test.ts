/** Who may resume a kept terminal through the relay: the principal that opened it, with its token, as the kind it was opened as. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import { SessionKind } from "../../gen/cmdop/v1/session_pb.ts";
import { silentContext } from "../_context.ts";
import { openRelayConnection, type RelayConnection } from "../../src/cli/relay_client.ts";
import { type OpenedSession, openSession } from "../../src/cli/session_client.ts";
import type { ResolvedAccess } from "../../src/cli/access.ts";
import { parseShareLink } from "../../src/cli/target.ts";
import { hashSecret } from "../../src/lib/secrets.ts";
import {
  clientEnv,
  killAll,
  processAlive,
  type RelayProcess,
  runCmdop,
  startAgent,
  startRelay,
  type Workspace,
} from "../_harness.ts";

const noPasswords = () => Promise.resolve(undefined);

/** Output of `session` until `pattern` shows (crediting it), within `timeoutMs`. */
async function readUntil(
  session: OpenedSession,
  pattern: RegExp,
  timeoutMs = 15_000,
): Promise<RegExpMatchArray> {
  let text = "";
  const decoder = new TextDecoder();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = deadline - Date.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const next = await Promise.race([
      session.frames.next(),
      new Promise<never>((_, reject) =>
        timer = setTimeout(
          () => reject(new Error(`no ${pattern} within ${timeoutMs} ms: ${JSON.stringify(text)}`)),
          Math.max(0, left),
        )
      ),
    ]).finally(() => clearTimeout(timer));
    if (next.done) throw new Error(`the session ended before ${pattern}: ${JSON.stringify(text)}`);
    const msg = next.value.msg;
    if (msg.case === "output") {
      text += decoder.decode(msg.value.data, { stream: true });
      session.consumed(msg.value.data.length);
      const match = text.match(pattern);
      if (match) return match;
    } else if (msg.case === "exit") {
      throw new Error(`the terminal exited (${msg.value.code}) before ${pattern}: ${text}`);
    }
  }
}

describe("resuming a terminal through the relay", () => {
  let relay: RelayProcess;
  let ws: Workspace;
  let otherKey: string;
  let env: Record<string, string>;
  let machineId: string;

  async function connect(
    credential: string,
    kind: ResolvedAccess["kind"] = "api_key",
    server = relay.url,
  ): Promise<RelayConnection> {
    return await openRelayConnection(silentContext(), {}, {
      server,
      serverSource: "test",
      credential,
      credentialSource: "test",
      kind,
    });
  }

  /** A kept shell: its session, its resume token and its process id. */
  async function keptShell(conn: RelayConnection) {
    const session = await openSession(
      conn,
      { machineId, kind: SessionKind.PTY, argv: ["/bin/sh", "-i"], resumeGraceMs: 60_000 },
      noPasswords,
      new AbortController().signal,
    );
    assert.match(session.ready.resumeToken, /^cmu_/);
    await session.write(new TextEncoder().encode("echo PID=$$\r"));
    const pid = Number((await readUntil(session, /PID=(\d+)/))[1]);
    return { session, token: session.ready.resumeToken, pid };
  }

  function resume(conn: RelayConnection, token: string, owner?: string): Promise<OpenedSession> {
    return openSession(
      conn,
      { machineId, kind: SessionKind.PTY, owner, resume: { token, outputOffset: 0n } },
      noPasswords,
      new AbortController().signal,
    );
  }

  before(async () => {
    relay = await startRelay();
    ws = await relay.createWorkspace("resume");
    await startAgent(relay.url, ws.enroll_token, {
      hostname: "kept-box",
      extraArgs: ["--resume-grace", "1m"],
    });
    env = await clientEnv(relay.url, ws.api_key);
    const made = await runCmdop(
      ["relay", "key", "create", "--workspace", "resume", "--data", relay.dataDir, "--json"],
    );
    assert.equal(made.code, 0, made.stderr);
    otherKey = JSON.parse(made.stdout).api_key;
    const { machines } = await (await connect(ws.api_key)).machines.listMachines({});
    machineId = machines.find((m) => m.hostname === "kept-box")!.id;
  });

  after(killAll);

  it("resumes for the key that opened it, and for no other key of the workspace, whatever owner it claims", async () => {
    const mine = await connect(ws.api_key);
    const { session, token, pid } = await keptShell(mine);
    session.abort(); // the connection drops: no hang-up is sent
    const theirs = await connect(otherKey);
    await assert.rejects(resume(theirs, token), /cannot be resumed/);
    // The owner is the relay's to say: one a client sends is replaced.
    const keyId = (await hashSecret(ws.api_key)).slice(0, 12);
    await assert.rejects(resume(theirs, token, `api_key:${keyId}`), /cannot be resumed/);
    assert.ok(await processAlive(pid), "refused resumes leave the shell kept");

    const back = await resume(mine, token);
    assert.equal(back.ready.inputOffset, BigInt("echo PID=$$\r".length));
    await back.write(new TextEncoder().encode("echo back-$((3*3))\r"));
    await readUntil(back, /back-9/);
    back.close();
  });

  it("lets no revoked share link resume the terminal it opened", async () => {
    const made = await runCmdop(["connect", "share", "kept-box", "--json"], { env });
    assert.equal(made.code, 0, made.stderr);
    const share: { id: string; link: string } = JSON.parse(made.stdout);
    const link = parseShareLink(share.link)!;
    const viaLink = await connect(link.token, "share_link", link.server);
    const { session, token } = await keptShell(viaLink);
    session.abort();
    const revoked = await runCmdop(["connect", "share", "revoke", share.id], { env });
    assert.equal(revoked.code, 0, revoked.stderr);
    await assert.rejects(resume(viaLink, token), /revoked|not valid|unauthenticated/i);
  });

  it("resumes a session only as the kind it was opened as, and only terminals and commands", async () => {
    const conn = await connect(ws.api_key);
    const { session, token } = await keptShell(conn);
    session.abort();
    await assert.rejects(
      openSession(
        conn,
        { machineId, kind: SessionKind.EXEC, argv: ["true"], resume: { token } },
        noPasswords,
        new AbortController().signal,
      ),
      /this command cannot be resumed/,
    );
    await assert.rejects(
      openSession(
        conn,
        { machineId, kind: SessionKind.FORWARD, resume: { token } },
        noPasswords,
        new AbortController().signal,
      ),
      /only a terminal or exec session can be resumed/,
    );
    // The terminal is still kept for its own kind.
    const back = await resume(conn, token);
    back.close();
  });
});
