/** `cmdop connect share <host> [--ttl 4h] [--read-only]`: mint a link that reaches one machine, for whole hours or forever. */
import type { Share } from "../../../../gen/cmdop/v1/share_pb.ts";
import type { CliContext } from "../../context.ts";
import { CliError } from "../../errors.ts";
import type { GlobalOptions, RunState } from "../../globals.ts";
import { parseDuration } from "../../duration.ts";
import { resolveTarget } from "../../target.ts";

const HOUR_MS = 3_600_000;
/** The relay refuses more; checked here too so the error comes before any network call. */
const MAX_TTL_HOURS = 24 * 365 * 10;

/**
 * `--ttl` in whole hours: a bare number is hours, other units are converted and any
 * part of an hour rounds up (`30m` → 1, `90m` → 2); `0` means the link never expires.
 *
 * @example
 * ```ts
 * parseTtlHours("30m"); // 1
 * ```
 */
export function parseTtlHours(text: string): number {
  const hours = Math.ceil(parseDuration(text, "--ttl", "h") / HOUR_MS);
  if (hours > MAX_TTL_HOURS) {
    throw new CliError(`--ttl "${text}" is longer than ${MAX_TTL_HOURS}h`, {
      hint: "use --ttl 0 for a link that never expires",
    });
  }
  return hours;
}

/**
 * Creates the share and prints its link (stdout) and expiry (stderr); `--json`
 * prints one object.
 *
 * @example
 * ```ts
 * await runShareCreate(ctx, globals, state, { host: "vps-audi", ttl: "4h" });
 * ```
 */
export async function runShareCreate(
  ctx: CliContext,
  globals: GlobalOptions,
  state: RunState,
  options: { host: string; ttl?: string; readOnly?: boolean },
): Promise<void> {
  const ttlText = options.ttl ?? "24h";
  const ttlHours = parseTtlHours(ttlText);
  const { conn, machine } = await resolveTarget(ctx, globals, state, options.host, {
    mustBeOnline: false,
  });
  const created = await conn.shares.createShare(
    { machineId: machine.id, ttlHours, readOnly: options.readOnly ?? false },
    { signal: ctx.signal },
  );
  const share = created.share!;
  if (globals.json) {
    await ctx.stdout.write(
      JSON.stringify({ ...shareJson(share), link: created.link, ttl_hours: ttlHours }) + "\n",
    );
    return;
  }
  await ctx.stdout.write(created.link + "\n");
  const rounded = ttlHours > 0 && parseDuration(ttlText, "--ttl", "h") !== ttlHours * HOUR_MS
    ? ` (--ttl ${ttlText} rounded up to whole hours)`
    : "";
  const expiry = ttlHours === 0
    ? "never expires"
    : `expires ${new Date(Number(share.expiresMs)).toISOString()}, in ${ttlHours}h${rounded}`;
  const access = share.readOnly
    ? `read-only: it watches the terminal you open with cmdop connect ${machine.hostname}; `
    : "";
  await ctx.stderr.write(
    `share ${share.id} for "${machine.hostname}": ${access}${expiry}\n` +
      `revoke it with: cmdop connect share revoke ${share.id}\n`,
  );
}

/** A share as scripts see it in `--json` output; `status` by this machine's clock. */
export function shareJson(share: Share, nowMs?: number): Record<string, unknown> {
  const expires = Number(share.expiresMs);
  const json: Record<string, unknown> = {
    id: share.id,
    machine_id: share.machineId,
    machine_hostname: share.machineHostname,
    created_at: new Date(Number(share.createdMs)).toISOString(),
    expires_at: expires === 0 ? null : new Date(expires).toISOString(),
    revoked: share.revoked,
    read_only: share.readOnly,
  };
  if (nowMs !== undefined) json.status = shareStatus(share, nowMs);
  return json;
}

/** `revoked`, `expired` or `active`. */
export function shareStatus(share: Share, nowMs: number): string {
  if (share.revoked) return "revoked";
  const expires = Number(share.expiresMs);
  return expires !== 0 && expires <= nowMs ? "expired" : "active";
}
