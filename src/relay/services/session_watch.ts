/** A read-only share link's session: it watches the terminal the link's owner has open, and nothing it sends reaches the machine. */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  type OpenSession,
  type SessionInput,
  SessionKind,
  type SessionOutput,
  SessionOutputSchema,
} from "../../../gen/cmdop/v1/session_pb.ts";
import { pingSilenceMs } from "../../lib/keepalive.ts";
import { untilAborted, watchSession } from "../access_watch.ts";
import type { ClientPrincipal } from "../auth.ts";
import { auditSession } from "../audit/session_audit.ts";
import type { RelayDeps } from "../deps.ts";
import type { MachineRecord } from "../store/store.ts";
import { toMachineMessage } from "./machine_service.ts";
import type { TerminalWatch } from "./terminal_watch.ts";

type ReadOnlyShare = Extract<ClientPrincipal, { kind: "share" }>;

/**
 * Refuses what a read-only link may not open: anything but a terminal (a command, a copy,
 * a forward would act on the machine). PermissionDenied: the CLI's exit code 2.
 */
export function refuseReadOnly(machine: MachineRecord, kind: number): void {
  if (kind === SessionKind.PTY) return;
  const what = kind === SessionKind.EXEC
    ? "run commands"
    : kind === SessionKind.FORWARD
    ? "forward ports"
    : "copy files";
  throw new ConnectError(
    `this share link is read-only: it can watch a terminal on "${machine.hostname}", not ${what}`,
    Code.PermissionDenied,
    {
      "cmdop-hint": "ask its owner for a link made without --read-only",
      "cmdop-reason": "read-only",
    },
  );
}

/**
 * Runs a read-only session: the newest terminal the link's owner has open on the machine
 * (on this relay), from the last of its output on; every frame the viewer sends is
 * dropped (keepalive pings are answered). Ends with the terminal's exit, when the link is
 * revoked or expires, or when the viewer falls too far behind.
 */
export async function* watchTerminal(
  deps: RelayDeps,
  terminals: TerminalWatch,
  principal: ReadOnlyShare,
  machine: MachineRecord,
  open: OpenSession,
  inputs: AsyncIterator<SessionInput>,
  ctx: { requestHeader: Headers; signal: AbortSignal },
  sessionId: string,
): AsyncGenerator<SessionOutput> {
  const viewer = terminals.join({
    workspaceId: machine.workspaceId,
    machineId: machine.id,
    owner: principal.owner,
  });
  if (!viewer) {
    throw new ConnectError(
      `nothing to watch yet: this read-only link shows the terminal its owner opens on ` +
        `"${machine.hostname}" (cmdop connect ${machine.hostname}), and none is open` +
        " on this relay; try again once it is",
      Code.FailedPrecondition,
    );
  }
  const presence = (await deps.bus.presence([machine.id])).get(machine.id);
  deps.log(
    `session ${sessionId}: watching a terminal on ${machine.id} (${machine.hostname}) ` +
      `by share ${principal.shareId} (read-only)`,
  );
  const audit = auditSession(deps, principal, machine, open, sessionId, ctx.requestHeader);
  const access = await watchSession(
    deps,
    principal,
    ctx.requestHeader,
    machine.id,
    `session ${sessionId}`,
  );
  const leave = () => viewer.leave();
  ctx.signal.addEventListener("abort", leave);
  if (ctx.signal.aborted) leave();
  let dropped = 0;
  // A viewer that pings and then falls silent (its network gone without a word) is let go, as
  // any session's client is; one that does not ping ends with its stream.
  let heardMs = Date.now();
  const silenceMs = open.keepaliveMs > 0 ? pingSilenceMs(open.keepaliveMs) : 0;
  const silence = silenceMs > 0
    ? setInterval(() => {
      if (Date.now() - heardMs < silenceMs) return;
      viewer.fail(
        new ConnectError(`the viewer sent nothing for ${silenceMs / 1000} s`, Code.Unavailable),
      );
    }, Math.min(silenceMs, 5_000))
    : undefined;
  // Read to the end and dropped, pings answered: nothing of a viewer's reaches the machine.
  const reading = (async () => {
    for (;;) {
      const next = await inputs.next();
      if (next.done) return;
      heardMs = Date.now();
      const msg = next.value.msg;
      if (msg.case === "keepalive" && !msg.value.reply) {
        viewer.push(create(SessionOutputSchema, {
          msg: { case: "keepalive", value: { sentMs: msg.value.sentMs, reply: true } },
        }));
      } else if (msg.case === "data") dropped += msg.value.length;
      else if (msg.case === "close") return leave();
    }
  })();
  reading.catch(() => leave());
  let ending = "the viewer left";
  try {
    yield create(SessionOutputSchema, {
      msg: {
        case: "ready",
        value: {
          sessionId,
          machine: toMachineMessage(machine, presence),
          windowBytes: 0,
          readOnly: true,
        },
      },
    });
    for await (const frame of untilAborted(viewer.frames, access.signal)) {
      if (frame.msg.case === "output") audit.bytesOut += frame.msg.value.data.length;
      yield frame;
      if (frame.msg.case === "exit") {
        audit.exit = frame.msg.value;
        ending = "the watched terminal exited";
        break;
      }
    }
  } catch (error) {
    ending = access.signal.aborted
      ? (access.signal.reason as ConnectError).rawMessage
      : error instanceof ConnectError
      ? error.rawMessage
      : String(error);
    throw error;
  } finally {
    clearInterval(silence);
    leave();
    access.stop();
    ctx.signal.removeEventListener("abort", leave);
    const note = dropped > 0 ? `; ${dropped} input bytes dropped (read-only)` : "";
    deps.log(`session ${sessionId}: ended, ${ending}${note}`);
    audit.end(ending);
  }
}
