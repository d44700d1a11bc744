/** registerMcpTools: cmdop's MCP tools (list_machines, exec, exec_many) and the machine list resource. */
import { z } from "zod";
import type { Machine } from "../../../gen/cmdop/v1/machine_pb.ts";
import type { CliContext } from "../context.ts";
import { CliError } from "../errors.ts";
import { toCliError } from "../error_mapping.ts";
import type { GlobalOptions, RunState } from "../globals.ts";
import { labelSelector, selectByLabels } from "../label_selector.ts";
import type { RelayConnection } from "../relay_client.ts";
import { requireOnline, resolveMachine } from "../resolve_machine.ts";
import {
  execOnMachine,
  execOnMachines,
  machineName,
  type MachineResult,
} from "../commands/connect/exec_many.ts";
import { machineJson, sortMachines } from "../commands/connect/list.ts";
import { CappedOutput } from "./output_cap.ts";
import { progressOf } from "./progress.ts";
import type { McpPolicy } from "./policy.ts";
import type { CallToolResult, Extra, McpServer } from "./sdk.ts";

/** What the tools work with: the relay connection, the limits, the bounds. */
export interface McpToolDeps {
  ctx: CliContext;
  globals: GlobalOptions;
  state: RunState;
  conn: RelayConnection;
  policy: McpPolicy;
  /** No exec tools at all. */
  readOnly: boolean;
  /** Bytes kept of each output stream of each machine. */
  maxOutput: number;
  /** Machines exec_many runs on at once. */
  parallel: number;
}

/** How often a running exec reports progress (when the client asked for it). */
const PROGRESS_INTERVAL_MS = 1_000;
/** A command's time limit when the call gives none, as `cmdop connect exec`'s. */
const DEFAULT_TIMEOUT_SECONDS = 30;
/** Where the machine list is read as a resource. */
export const MACHINES_URI = "cmdop://machines";

const machineSchema = z.object({
  id: z.string(),
  hostname: z.string(),
  display_name: z.string(),
  online: z.boolean(),
  last_heartbeat: z.string().nullable(),
  os: z.string(),
  arch: z.string(),
  has_password: z.boolean(),
  labels: z.record(z.string(), z.string()),
});

const envelopeSchema = z.object({
  machine: z.string(),
  machine_id: z.string(),
  stdout: z.string(),
  stderr: z.string(),
  exit_code: z.number().int().nullable(),
  duration_ms: z.number(),
  stdout_bytes: z.number().int().describe("the size of the whole stdout, kept or not"),
  stderr_bytes: z.number().int().describe("the size of the whole stderr, kept or not"),
  truncated: z.boolean().describe("true when the middle of stdout or stderr was cut"),
  timed_out: z.boolean().optional(),
  offline: z.boolean().optional(),
  error: z.string().optional(),
});

type Envelope = z.infer<typeof envelopeSchema>;

const labelsInput = z.array(z.string()).describe(
  'labels as "key=value"; a machine must carry every one',
);

/** The command fields of exec and exec_many: words, or one shell line. */
const commandInput = {
  argv: z.array(z.string()).min(1).optional().describe(
    'the command as words, run directly without a shell: ["df", "-h"]',
  ),
  command: z.string().min(1).optional().describe(
    'a shell command line, run with sh -c on the machine: "ps aux | grep nginx"',
  ),
  timeout_seconds: z.number().min(0).max(86_400).optional().describe(
    `kill the remote command after this long; 0 = no limit; ${DEFAULT_TIMEOUT_SECONDS} by default`,
  ),
};

/**
 * Registers the tools on `server`: list_machines always, exec and exec_many unless read-only.
 *
 * @example
 * ```ts
 * registerMcpTools(new McpServer({ name: "cmdop", version: VERSION }), deps);
 * ```
 */
export function registerMcpTools(server: McpServer, deps: McpToolDeps): void {
  server.registerResource("machines", MACHINES_URI, {
    title: "Machines",
    description: "The workspace's machines this server may reach, with status and labels",
    mimeType: "application/json",
  }, async (uri) => {
    const listed = await listMachines(deps, deps.ctx.signal);
    const text = JSON.stringify(
      { workspace: listed.workspace, machines: listed.allowed.map(machineJson) },
      null,
      2,
    );
    return { contents: [{ uri: uri.href, mimeType: "application/json", text }] };
  });

  server.registerTool(
    "list_machines",
    {
      title: "List machines",
      description: "The workspace's machines this server may reach: hostname, display name, id, " +
        "online status, last heartbeat, OS and labels.",
      inputSchema: {
        online: z.boolean().optional().describe("only machines that are online"),
        labels: labelsInput.optional(),
      },
      outputSchema: { workspace: z.string(), machines: z.array(machineSchema) },
      annotations: { readOnlyHint: true, openWorldHint: true },
    },
    guarded(deps, async (args, extra) => {
      const selector = labelSelector(args.labels);
      const listed = await listMachines(deps, extra.signal);
      const machines = selectByLabels(listed.allowed, selector)
        .filter((m) => !args.online || m.online);
      return structured({ workspace: listed.workspace, machines: machines.map(machineJson) });
    }),
  );

  if (deps.readOnly) return;

  server.registerTool(
    "exec",
    {
      title: "Run a command on a machine",
      description: "Runs one command on one machine and returns its stdout, stderr, exit code " +
        "and duration. Give argv (no shell) or command (sh -c). Each output stream keeps at most " +
        `${deps.maxOutput} bytes: past that its start and end are kept, a marker in the middle ` +
        "says how much was cut, and stdout_bytes/stderr_bytes give the full size.",
      inputSchema: {
        machine: z.string().min(1).describe("hostname, display name, unique prefix or id"),
        ...commandInput,
      },
      outputSchema: envelopeSchema,
      annotations: { destructiveHint: true, openWorldHint: true },
    },
    guarded(deps, async (args, extra) => {
      const command = commandOf(args);
      deps.policy.checkCommand(command.line);
      const listed = await listMachines(deps, extra.signal);
      const machine = resolveMachine(listed.all, args.machine);
      deps.policy.checkMachine(machine);
      requireOnline(machine);
      const out = new CappedOutput(deps.maxOutput);
      const err = new CappedOutput(deps.maxOutput);
      const progress = progressOf(extra);
      const started = deps.ctx.now();
      const ticker = setInterval(() => {
        const seconds = Math.round((deps.ctx.now() - started) / 1000);
        progress(
          seconds,
          command.timeoutMs / 1000 || undefined,
          `${machineName(machine)}: ` +
            `running for ${seconds} s, ${out.total + err.total} bytes of output`,
        );
      }, PROGRESS_INTERVAL_MS);
      try {
        const result = await execOnMachine(
          runContext(deps, extra),
          deps.globals,
          deps.conn,
          machine,
          {
            argv: command.argv,
            shell: command.shell,
            timeoutMs: command.timeoutMs,
            collect: false,
          },
          { output: (_m, stderr, data) => Promise.resolve((stderr ? err : out).push(data)) },
        );
        clearInterval(ticker);
        await progress.sent();
        const shape = envelope(result, out, err);
        return structured(shape, shape.exit_code === null ? shape.error : undefined);
      } finally {
        clearInterval(ticker);
      }
    }),
  );

  server.registerTool(
    "exec_many",
    {
      title: "Run a command on many machines",
      description: "Runs one command on every machine with the given labels (or all: true), " +
        `${deps.parallel} at a time, and returns one result per machine, offline ones included. ` +
        `Give argv (no shell) or command (sh -c). Output is kept as exec keeps it, per machine.`,
      inputSchema: {
        labels: labelsInput.optional(),
        all: z.boolean().optional().describe("every machine this server may reach"),
        ...commandInput,
      },
      outputSchema: {
        results: z.array(envelopeSchema),
        summary: z.object({
          machines: z.number().int(),
          ok: z.number().int(),
          failed: z.number().int(),
          offline: z.number().int(),
        }),
      },
      annotations: { destructiveHint: true, openWorldHint: true },
    },
    guarded(deps, async (args, extra) => {
      const command = commandOf(args);
      const labels = args.labels ?? [];
      if (args.all && labels.length) throw new CliError("give labels or all, not both");
      if (!args.all && !labels.length) {
        throw new CliError('give labels (e.g. ["role=web"]) or all: true to choose the machines');
      }
      const selector = labelSelector(labels);
      deps.policy.checkCommand(command.line);
      const listed = await listMachines(deps, extra.signal);
      const matched = selectByLabels(listed.allowed, selector);
      if (matched.length === 0) {
        const limits = deps.policy.describe();
        throw new CliError(
          `no machine${args.all ? "" : ` with labels ${labels.join(", ")}`}` +
            (limits ? ` within this server's limits (${limits})` : " in the workspace"),
          { hint: "see the machines and their labels with list_machines" },
        );
      }
      const outputs = new Map(matched.map((m) => [m.id, {
        out: new CappedOutput(deps.maxOutput),
        err: new CappedOutput(deps.maxOutput),
      }]));
      const progress = progressOf(extra);
      let ended = 0;
      const results = await execOnMachines(
        runContext(deps, extra),
        deps.globals,
        deps.conn,
        matched,
        { ...command, collect: false, parallel: deps.parallel },
        {
          output(machine, stderr, data) {
            const kept = outputs.get(machine.id)!;
            (stderr ? kept.err : kept.out).push(data);
            return Promise.resolve();
          },
          ended(result) {
            ended++;
            const how = result.status === "offline"
              ? "offline"
              : result.exitCode === null
              ? "failed"
              : `exit ${result.exitCode}`;
            progress(ended, matched.length, `${machineName(result.machine)}: ${how}`);
            return Promise.resolve();
          },
        },
      );
      await progress.sent();
      const order = new Map(matched.map((m, i) => [m.id, i]));
      const envelopes = results
        .sort((a, b) => order.get(a.machine.id)! - order.get(b.machine.id)!)
        .map((r) => envelope(r, outputs.get(r.machine.id)!.out, outputs.get(r.machine.id)!.err));
      const count = (status: MachineResult["status"]) =>
        results.filter((r) => r.status === status).length;
      return structured({
        results: envelopes,
        summary: {
          machines: results.length,
          ok: count("ok"),
          failed: count("failed"),
          offline: count("offline"),
        },
      });
    }),
  );
}

/** The workspace's machines, all of them (to resolve names) and those within the limits. */
async function listMachines(
  deps: McpToolDeps,
  signal: AbortSignal,
): Promise<{ workspace: string; all: Machine[]; allowed: Machine[] }> {
  const listed = await deps.conn.machines.listMachines({}, { signal });
  // Remembered attach passwords are kept by workspace.
  deps.conn.relayWorkspace = { id: listed.workspaceId, name: listed.workspaceName };
  const all = sortMachines(listed.machines);
  return { workspace: listed.workspaceName, all, allowed: all.filter(deps.policy.allows) };
}

/** The command of an exec call: its words, whether they go through sh -c, the line the deny list reads. */
function commandOf(
  args: { argv?: string[]; command?: string; timeout_seconds?: number },
): { argv: string[]; shell: boolean; line: string; timeoutMs: number } {
  if (args.argv && args.command !== undefined) {
    throw new CliError("give argv or command, not both", {
      hint: "argv runs the words without a shell; command runs one line with sh -c",
    });
  }
  const timeoutMs = Math.round((args.timeout_seconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000);
  if (args.command !== undefined) {
    return { argv: [args.command], shell: true, line: args.command, timeoutMs };
  }
  if (!args.argv) {
    throw new CliError('no command given: give argv (["uname", "-a"]) or command ("uname -a")');
  }
  return { argv: args.argv, shell: false, line: args.argv.join(" "), timeoutMs };
}

/** The spec's exec envelope plus the machine, the full sizes and whether output was cut. */
function envelope(r: MachineResult, out: CappedOutput, err: CappedOutput): Envelope {
  const shape: Envelope = {
    machine: machineName(r.machine),
    machine_id: r.machine.id,
    stdout: out.text(),
    stderr: err.text(),
    exit_code: r.exitCode,
    duration_ms: r.durationMs,
    stdout_bytes: out.total,
    stderr_bytes: err.total,
    truncated: out.truncated || err.truncated,
  };
  if (r.status === "offline") shape.offline = true;
  if (r.timedOut) shape.timed_out = true;
  if (r.error) shape.error = r.error;
  return shape;
}

/** A result with structured content and the same as JSON text (for clients that read only text). */
function structured(content: Record<string, unknown>, error?: string): CallToolResult {
  const json = JSON.stringify(content, null, 2);
  return {
    structuredContent: content,
    content: [{ type: "text", text: error ? `error: ${error}\n${json}` : json }],
    ...(error ? { isError: true } : {}),
  };
}

/**
 * A tool's handler whose failures become tool errors (isError) naming what was wrong, as the
 * CLI would say it; the server keeps serving.
 */
function guarded<A>(
  deps: McpToolDeps,
  handler: (args: A, extra: Extra) => Promise<CallToolResult>,
): (args: A, extra: Extra) => Promise<CallToolResult> {
  return async (args, extra) => {
    try {
      return await handler(args, extra);
    } catch (error) {
      const cliError = extra.signal.aborted
        ? new CliError("cancelled by the client")
        : toCliError(error, deps.state);
      const lines = [`error: ${cliError.message}`, ...cliError.details];
      if (cliError.hint) lines.push(`hint: ${cliError.hint}`);
      return { isError: true, content: [{ type: "text", text: lines.join("\n") }] };
    }
  };
}

/** The context a call runs in: cancelled by the client's cancellation too. */
function runContext(deps: McpToolDeps, extra: Extra): CliContext {
  return { ...deps.ctx, signal: AbortSignal.any([deps.ctx.signal, extra.signal]) };
}
