/** `cmdop connect key list|revoke`: the workspace's API keys on the relay, by fingerprint, and revoking one. */
import type { CliContext } from "../../context.ts";
import { CliError } from "../../errors.ts";
import type { GlobalOptions, RunState } from "../../globals.ts";
import { connectRelay } from "../../relay_client.ts";

/**
 * Lists the API keys of the resolved credential's workspace by fingerprint (the first 12
 * hex digits of the key's SHA-256, as `cmdop relay key list` names them), marking the one
 * this call used. The secrets themselves exist only where they were handed out.
 *
 * @example
 * ```ts
 * await runKeyList(ctx, globals, state);
 * ```
 */
export async function runKeyList(
  ctx: CliContext,
  globals: GlobalOptions,
  state: RunState,
): Promise<void> {
  const conn = await connectRelay(ctx, globals, state);
  const { apiKeys } = await conn.workspaces.listApiKeys({}, { signal: ctx.signal });
  const rows = apiKeys.map((k) => ({
    fingerprint: k.fingerprint,
    created_at: new Date(Number(k.createdMs)).toISOString(),
    current: k.current,
  }));
  if (globals.json) {
    await ctx.stdout.write(JSON.stringify(rows) + "\n");
    return;
  }
  const lines = rows.map((r) =>
    `${r.fingerprint}  created ${r.created_at}${r.current ? "  (this key)" : ""}`
  );
  await ctx.stdout.write(lines.length ? lines.join("\n") + "\n" : "no API keys\n");
}

/**
 * Revokes one API key of the workspace by fingerprint (8 or more hex digits, as `key list`
 * prints them): calls made with it fail from then on and sessions it opened end.
 *
 * @example
 * ```ts
 * await runKeyRevoke(ctx, globals, state, { fingerprint: "3f9a0c21b7de" });
 * ```
 */
export async function runKeyRevoke(
  ctx: CliContext,
  globals: GlobalOptions,
  state: RunState,
  options: { fingerprint: string },
): Promise<void> {
  const fingerprint = options.fingerprint.trim().toLowerCase();
  if (!/^[0-9a-f]{8,64}$/.test(fingerprint)) {
    throw new CliError(`"${options.fingerprint}" is not a fingerprint`, {
      hint: `give 8 or more hex digits as "cmdop connect key list" shows them`,
    });
  }
  const conn = await connectRelay(ctx, globals, state);
  const { revoked } = await conn.workspaces.revokeApiKey({ fingerprint }, { signal: ctx.signal });
  if (globals.json) {
    await ctx.stdout.write(JSON.stringify({ fingerprint, revoked }) + "\n");
    return;
  }
  await ctx.stdout.write(`API key ${fingerprint} revoked\n`);
}
