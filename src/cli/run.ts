/** runCli: parses argv, runs the command, and is the only place errors become exit codes. */
import type { CliContext } from "./context.ts";
import { parseDirectExec } from "./direct_exec.ts";
import { toCliError } from "./error_mapping.ts";
import { CliError, ExitCode, ExitRequest, interruptedExitCode } from "./errors.ts";
import type { RunState } from "./globals.ts";

/** The verbs that read the client's files in CMDOP_HOME. */
const CLIENT_VERBS = new Set(["connect", "terminal", "login", "logout", "mcp"]);

/**
 * Runs the cmdop command line and returns the process exit code.
 *
 * @example
 * ```ts
 * Deno.exit(await runCli(Deno.args, systemContext()));
 * ```
 */
export async function runCli(argv: string[], ctx: CliContext): Promise<number> {
  // Bare `cmdop` asks what there is: the help, on stdout, and success (as gh does).
  if (argv.length === 0) argv = ["--help"];
  const json = argv.includes("--json");
  const state: RunState = {};
  let viaCommander = false;
  try {
    if (CLIENT_VERBS.has(argv[0])) {
      const { warnLooseFiles } = await import("./file_mode_warning.ts");
      await warnLooseFiles(ctx);
    }
    // The plain exec forms skip the command tree: commander is ~16 ms of every start.
    const direct = parseDirectExec(argv);
    if (direct) {
      const { runExec } = await import("./commands/connect/exec.ts");
      await runExec(ctx, direct.globals, state, direct.options);
      return ExitCode.ok;
    }
    viaCommander = true;
    const { buildProgram } = await import("./program.ts");
    await buildProgram(ctx, state).parseAsync(argv, { from: "user" });
    return ExitCode.ok;
  } catch (error) {
    if (error instanceof ExitRequest) return error.exitCode;
    if (viaCommander && error instanceof (await import("commander")).CommanderError) {
      // Help and version are successful exits that commander reports as errors.
      if (error.exitCode === 0) return ExitCode.ok;
      await hintUsage(ctx, argv, error.code);
      return ExitCode.generic;
    }
    if (ctx.signal.aborted) {
      // Killed by SIGINT or SIGTERM: exit as a shell reports it, quietly unless JSON is expected.
      const reason = ctx.signal.reason instanceof Error ? ctx.signal.reason.message : "interrupted";
      const interrupted = new CliError(reason, { exitCode: interruptedExitCode(ctx.signal) });
      if (json) await report(ctx, interrupted, json, state, { quiet: true });
      return interrupted.exitCode;
    }
    const cliError = toCliError(error, state);
    await report(ctx, cliError, json, state);
    return cliError.exitCode;
  } finally {
    // Help text piped into a slow reader must not be cut short by the exit that follows.
    await Promise.allSettled(state.pendingOutput ?? []);
  }
}

/** After commander's own usage error: how to pass an option to the remote command. */
async function hintUsage(ctx: CliContext, argv: string[], code: string): Promise<void> {
  if (code !== "commander.unknownOption") return;
  const { withDoubleDash } = await import("./direct_exec.ts");
  const fixed = withDoubleDash(argv);
  if (!fixed) return;
  await ctx.stderr.write(
    `hint: options after the host are cmdop's; for the remote command's own, put -- before it:\n` +
      `  ${fixed}\n`,
  );
}

async function report(
  ctx: CliContext,
  error: CliError,
  json: boolean,
  state: RunState,
  options: { quiet?: boolean } = {},
): Promise<void> {
  const lines = [`error: ${error.message}`, ...error.details];
  if (error.hint) lines.push(`hint: ${error.hint}`);
  if (!options.quiet) await ctx.stderr.write(lines.join("\n") + "\n");
  if (json) {
    const shape = state.jsonEnvelope
      ? { ...state.jsonEnvelope(), exit_code: error.exitCode, error: error.message }
      : { error: error.message, exit_code: error.exitCode };
    await ctx.stdout.write(JSON.stringify(shape) + "\n");
  }
}
