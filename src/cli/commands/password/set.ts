/** `cmdop connect password set <host>`: remember a machine's attach password, checked with the relay first. */
import { Code, ConnectError } from "@connectrpc/connect";
import { setMachinePassword } from "../../../config/passwords.ts";
import type { CliContext } from "../../context.ts";
import { CliError, ExitCode } from "../../errors.ts";
import type { GlobalOptions, RunState } from "../../globals.ts";
import { passwordWorkspace } from "../../machine_password.ts";
import { readSecret } from "../../read_secret.ts";
import { resolveTarget } from "../../target.ts";

/**
 * Resolves the machine, reads the password (hidden prompt, or stdin when it is not a
 * terminal), proves it to the relay when the machine has one (a wrong password is
 * not stored, and counts toward the relay's lock-out like any other), then stores it
 * in `machine_passwords.json` (0600). The machine may be offline.
 *
 * @example
 * ```ts
 * await runPasswordSet(ctx, globals, state, { host: "vps-audi" });
 * ```
 */
export async function runPasswordSet(
  ctx: CliContext,
  globals: GlobalOptions,
  state: RunState,
  options: { host: string },
): Promise<void> {
  const { conn, machine } = await resolveTarget(ctx, globals, state, options.host, {
    mustBeOnline: false,
  });
  const name = machine.displayName || machine.hostname;
  const password = await readSecret(ctx, {
    prompt: `Password for ${name}:`,
    interactive: globals.interactive,
    what: `the password of "${machine.hostname}"`,
    hint:
      `pipe it on stdin: printf '%s\\n' "$PASSWORD" | cmdop connect password set ${options.host}`,
  });
  let verified = false;
  if (machine.hasPassword) {
    try {
      await conn.machines.unlockMachine({ machineId: machine.id, password }, {
        signal: ctx.signal,
      });
      verified = true;
    } catch (error) {
      if (error instanceof ConnectError && error.code === Code.Unauthenticated) {
        throw new CliError(`wrong password for "${machine.hostname}"; nothing was stored`, {
          exitCode: ExitCode.auth,
          cause: error,
        });
      }
      throw error;
    }
  }
  await setMachinePassword(ctx.home(), {
    workspace: passwordWorkspace(conn),
    machineId: machine.id,
    hostname: machine.hostname,
    password,
    server: conn.server,
  }, ctx.now);
  if (globals.json) {
    await ctx.stdout.write(
      JSON.stringify({
        workspace: passwordWorkspace(conn),
        machine_id: machine.id,
        hostname: machine.hostname,
        verified,
      }) + "\n",
    );
    return;
  }
  await ctx.stdout.write(`password for "${machine.hostname}" stored\n`);
  if (!verified) {
    await ctx.stderr.write(
      `note: "${machine.hostname}" has no attach password now; it is kept for when it gets one\n`,
    );
  }
}
