/** runForwardSession: one TCP connection from the machine, for `cmdop connect forward`. */
import { outputFrame, type SessionChannel } from "./channel.ts";

export interface ForwardEnvironment {
  log: (message: string) => void;
}

/** Connects to `open.forward` and carries bytes both ways under credit. */
export function runForwardSession(
  channel: SessionChannel,
  _environment: ForwardEnvironment,
): Promise<void> {
  channel.send(outputFrame({ case: "exit", value: { code: 1, error: "forward: not built yet" } }));
  return Promise.resolve();
}
