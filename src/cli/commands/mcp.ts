/** `cmdop mcp`: a Model Context Protocol server on stdin/stdout that lists machines and runs commands through the relay. */
import { VERSION } from "../../version.ts";
import type { CliContext } from "../context.ts";
import { CliError, ExitRequest, interruptedExitCode } from "../errors.ts";
import type { GlobalOptions, RunState } from "../globals.ts";
import { connectRelay } from "../relay_client.ts";
import { parallelOf } from "./connect/exec_many.ts";
import { parseByteSize } from "../mcp/output_cap.ts";
import { mcpPolicy } from "../mcp/policy.ts";
import { McpServer } from "../mcp/sdk.ts";
import { contextStdioTransport } from "../mcp/stdio_transport.ts";
import { registerMcpTools } from "../mcp/tools.ts";

/** Bytes kept of each output stream of a call unless `--max-output` says otherwise. */
export const DEFAULT_MAX_OUTPUT = "64k";

export interface McpOptions {
  /** No exec tools: list_machines and the machine list only. */
  readOnly: boolean;
  allowMachines?: string[];
  allowLabels?: string[];
  denyCommands?: string[];
  /** Bytes kept of each output stream per machine: "65536", "64k", "1m". */
  maxOutput?: string;
  /** Machines exec_many runs on at once. */
  parallel?: string;
}

/**
 * Serves MCP until the client closes stdin (or a signal ends the process). The credential
 * and relay are resolved as for every client command, before the first message is read, so a
 * missing key fails at start with the usual error and exit code; nothing but protocol goes to
 * stdout, and a failing call is a tool error, never the end of the server.
 */
export async function runMcp(
  ctx: CliContext,
  globals: GlobalOptions,
  state: RunState,
  options: McpOptions,
): Promise<void> {
  const policy = mcpPolicy(options);
  const maxOutput = maxOutputOf(options.maxOutput ?? DEFAULT_MAX_OUTPUT);
  const parallel = parallelOf(options.parallel);
  // Never a prompt: stdin carries the protocol.
  const quiet = { ...globals, json: false, interactive: false };
  const conn = await connectRelay(ctx, quiet, state);
  const server = new McpServer(
    { name: "cmdop", version: VERSION },
    { instructions: instructions(options, policy.describe()) },
  );
  registerMcpTools(server, {
    ctx,
    globals: quiet,
    state,
    conn,
    policy,
    readOnly: options.readOnly,
    maxOutput,
    parallel,
  });
  server.server.onerror = (error) =>
    void ctx.stderr.write(`cmdop mcp: ${error.message}\n`).catch(() => {});
  const transport = contextStdioTransport(ctx);
  await server.connect(transport);
  const interrupted = new Promise<void>((resolve) =>
    ctx.signal.addEventListener("abort", () => resolve(), { once: true })
  );
  await Promise.race([transport.closed, interrupted]);
  await server.close().catch(() => {});
  if (ctx.signal.aborted) throw new ExitRequest(interruptedExitCode(ctx.signal));
}

function maxOutputOf(text: string): number {
  const bytes = parseByteSize(text);
  if (bytes === undefined || bytes < 1) {
    throw new CliError(`--max-output "${text}" is not a size in bytes`, {
      hint: "e.g. --max-output 65536, 64k or 1m",
    });
  }
  return bytes;
}

/** What the client's model is told about this server when it connects. */
function instructions(options: McpOptions, limits: string): string {
  const lines = [
    "cmdop reaches the machines of one workspace through a relay. list_machines shows them; " +
    "exec runs a command on one, exec_many on every machine with some labels.",
  ];
  if (options.readOnly) lines.push("This server is read-only: it cannot run commands.");
  if (limits) lines.push(`It reaches only these machines: ${limits}.`);
  if (options.denyCommands?.length) {
    lines.push(
      "Commands matching these patterns are refused: " +
        options.denyCommands.map((p) => `/${p}/`).join(", ") + ".",
    );
  }
  return lines.join(" ");
}
