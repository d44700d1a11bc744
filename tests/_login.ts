/** Test helpers for user login and relay time: users, the device flow driven like a person would, a test clock. */
import { join } from "node:path";
import { type CmdopResult, runCmdop, spawnCli } from "./_harness.ts";

/**
 * `cmdop relay user add EMAIL --data DIR --workspace … --password-stdin`; a
 * `postgres://` URL in place of DIR is a cluster's store, passed as `--store`.
 */
export async function addUser(
  store: string,
  email: string,
  password: string,
  workspaces: string[],
): Promise<void> {
  const where = /^postgres(ql)?:\/\//i.test(store) ? "--store" : "--data";
  const args = ["relay", "user", "add", email, where, store, "--password-stdin"];
  for (const w of workspaces) args.push("--workspace", w);
  const r = await runCmdop(args, { stdin: password + "\n" });
  if (r.code !== 0) throw new Error(`user add failed: ${r.stderr}`);
}

/** A running `cmdop login`: the user code it printed, and its result once it ends. */
export interface PendingLogin {
  userCode: string;
  /** Everything on stderr up to the code. */
  shown: string;
  result: Promise<CmdopResult>;
}

/** Starts `cmdop login` and waits until it shows the user code. */
export async function startLogin(
  env: Record<string, string>,
  args: string[] = [],
): Promise<PendingLogin> {
  const child = spawnCli(["login", ...args], { CI: "1", ...env });
  const decoder = new TextDecoder();
  let stderr = "";
  let stdout = "";
  const reader = child.stderr.getReader();
  while (!/code: [A-Z]{4}-[A-Z]{4}/.test(stderr)) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`cmdop login ended without a code:\n${stderr}`);
    stderr += decoder.decode(value, { stream: true });
  }
  const shown = stderr;
  const userCode = /code: ([A-Z]{4}-[A-Z]{4})/.exec(stderr)![1];
  const result = (async () => {
    const rest = (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        stderr += decoder.decode(value, { stream: true });
      }
    })();
    const out = (async () => {
      for await (const chunk of child.stdout) stdout += decoder.decode(chunk, { stream: true });
    })();
    const status = await child.status;
    await Promise.all([rest, out]);
    return { code: status.code, stdout, stderr, stdoutBytes: new TextEncoder().encode(stdout) };
  })();
  return { userCode, shown, result };
}

/** Submits the relay's /device form, as a person's browser would. */
export async function submitDevicePage(
  relayUrl: string,
  fields: { user_code: string; email?: string; password?: string; action: "approve" | "deny" },
): Promise<{ status: number; text: string }> {
  const response = await fetch(`${relayUrl}/device`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(fields as Record<string, string>).toString(),
  });
  return { status: response.status, text: await response.text() };
}

/** The whole device flow: `cmdop login`, approval on /device, and the finished command. */
export async function loginAs(
  relayUrl: string,
  env: Record<string, string>,
  email: string,
  password: string,
): Promise<CmdopResult> {
  const pending = await startLogin(env);
  const page = await submitDevicePage(relayUrl, {
    user_code: pending.userCode,
    email,
    password,
    action: "approve",
  });
  if (page.status !== 200) throw new Error(`approval failed (${page.status}): ${page.text}`);
  return await pending.result;
}

/** Posts a form to one of the relay's OAuth endpoints and returns status and JSON body. */
export async function postOAuth(
  relayUrl: string,
  path: string,
  fields: Record<string, string>,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${relayUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(fields).toString(),
  });
  return { status: response.status, body: await response.json() };
}

/**
 * A relay's test clock: the file `CMDOP_RELAY_CLOCK_FILE` points at (see src/relay/clock.ts),
 * holding an offset in ms, or `@` and the time it stands still at.
 */
export interface TestClock {
  /** Environment to start the relay with. */
  env: Record<string, string>;
  /** Moves the relay's time forward (a held clock stays held, at the later time). */
  advance(ms: number): Promise<void>;
  /**
   * Holds the relay's time still until {@linkcode TestClock.resume}: what a test judges about
   * time (a 1 s lock-out, two polls within an interval) then holds however slow the machine.
   */
  freeze(): Promise<void>;
  /** Lets time flow again from where it stood. */
  resume(): Promise<void>;
}

/**
 * A fresh test clock at offset 0.
 *
 * @example
 * ```ts
 * const clock = await testClock();
 * const relay = await startRelay({ env: clock.env });
 * await clock.freeze();
 * await clock.advance(1_100);
 * ```
 */
export async function testClock(): Promise<TestClock> {
  const file = join(await Deno.makeTempDir({ prefix: "cmdop-clock-" }), "offset_ms");
  let offset = 0;
  let frozenAt: number | undefined;
  const write = async () => {
    await Deno.writeTextFile(
      `${file}.tmp`,
      frozenAt === undefined ? String(offset) : `@${frozenAt}`,
    );
    await Deno.rename(`${file}.tmp`, file);
  };
  await write();
  return {
    env: { CMDOP_RELAY_CLOCK_FILE: file },
    async advance(ms) {
      if (frozenAt === undefined) offset += ms;
      else frozenAt += ms;
      await write();
    },
    async freeze() {
      frozenAt ??= Date.now() + offset;
      await write();
    },
    async resume() {
      if (frozenAt === undefined) return;
      offset = frozenAt - Date.now();
      frozenAt = undefined;
      await write();
    },
  };
}

/** Reads CMDOP_HOME/auth.json. */
export async function readAuth(home: string): Promise<Record<string, unknown>> {
  return JSON.parse(await Deno.readTextFile(join(home, "auth.json")));
}

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;
