/** The attach password challenge of a session, asked and answered in its stream. */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  type SessionInput,
  type SessionOutput,
  SessionOutputSchema,
} from "../../../gen/cmdop/v1/session_pb.ts";
import { actorOf } from "../audit/audit_log.ts";
import type { ClientPrincipal } from "../auth.ts";
import type { RelayDeps } from "../deps.ts";
import { unlockMachine } from "../machine_access.ts";
import type { MachineRecord } from "../store/store.ts";

/**
 * Asks the client for the machine's password, in the stream, until it is right or limited.
 *
 * @example
 * ```ts
 * machineToken = yield* challenge(deps, machine, inputs, ctx, principal);
 * ```
 */
export async function* challenge(
  deps: RelayDeps,
  machine: MachineRecord,
  inputs: AsyncIterator<SessionInput>,
  ctx: { requestHeader: Headers },
  principal: ClientPrincipal,
): AsyncGenerator<SessionOutput, string> {
  const source = ctx.requestHeader.get("cmdop-peer") ?? "unknown";
  yield create(SessionOutputSchema, {
    msg: {
      case: "challenge",
      value: { machineId: machine.id, reason: "this machine requires an attach password" },
    },
  });
  const next = await inputs.next();
  if (next.done || next.value.msg.case !== "auth") {
    throw new ConnectError("machine requires an attach password", Code.Unauthenticated);
  }
  const { token, expiresMs } = await unlockMachine(
    deps,
    deps.passwordLimiters,
    machine,
    next.value.msg.value.password,
    source,
    actorOf(principal),
  );
  yield create(SessionOutputSchema, {
    msg: { case: "granted", value: { machineToken: token, expiresMs: BigInt(expiresMs) } },
  });
  return token;
}
