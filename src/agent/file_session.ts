/** runFileSendSession, runFileFetchSession: `cmdop connect cp` on the machine's side. */
import { outputFrame, type SessionChannel } from "./channel.ts";

export interface FileSessionEnvironment {
  /** Where relative paths start (the agent's home folder). */
  home?: string;
  log: (message: string) => void;
}

/** Writes the archive stream the client sends under `open.file.path`. */
export function runFileSendSession(
  channel: SessionChannel,
  _environment: FileSessionEnvironment,
): Promise<void> {
  channel.send(
    outputFrame({ case: "exit", value: { code: 1, error: "file copy: not built yet" } }),
  );
  return Promise.resolve();
}

/** Sends `open.file.path` as an archive stream. */
export function runFileFetchSession(
  channel: SessionChannel,
  _environment: FileSessionEnvironment,
): Promise<void> {
  channel.send(
    outputFrame({ case: "exit", value: { code: 1, error: "file copy: not built yet" } }),
  );
  return Promise.resolve();
}
