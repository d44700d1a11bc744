/** RecordingService: a workspace's session recordings for its members, listed and streamed (never whole in memory). */
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { RecordingService } from "../../../gen/cmdop/v1/recording_pb.ts";
import { type AccessTokenResolver, authenticateMember } from "../auth.ts";
import type { RelayDeps } from "../deps.ts";
import { MAX_PAGE, type RecordingRow } from "../recording/recording_store.ts";

/** Registers the recording service. */
export function registerRecordingService(
  router: ConnectRouter,
  deps: RelayDeps,
  resolveAccessToken?: AccessTokenResolver,
): void {
  router.service(RecordingService, {
    async listRecordings(req, ctx) {
      const principal = await authenticateMember(
        deps,
        ctx.requestHeader,
        "list session recordings",
        resolveAccessToken,
      );
      const limit = Math.min(req.limit || MAX_PAGE, MAX_PAGE);
      // The workspace comes from the credential, never from the request.
      const rows = await deps.recordings.list({
        workspaceId: principal.workspaceId,
        sinceMs: Number(req.sinceMs),
        machine: req.machine.trim() || undefined,
        before: parsePageToken(req.pageToken),
        limit,
      });
      const last = rows.at(-1);
      return {
        recordings: rows.map(toRecordingMessage),
        nextPageToken: last && rows.length === limit ? `${last.startedMs}.${last.id}` : "",
      };
    },

    async *readRecording(req, ctx) {
      const principal = await authenticateMember(
        deps,
        ctx.requestHeader,
        "replay session recordings",
        resolveAccessToken,
      );
      const id = req.id.trim();
      // Another workspace's recording is answered as one that does not exist.
      const row = /^[0-9a-f-]{36}$/i.test(id)
        ? await deps.recordings.get(id.toLowerCase(), principal.workspaceId)
        : undefined;
      if (!row) throw new ConnectError(`recording "${req.id}" not found`, Code.NotFound);
      yield { recording: toRecordingMessage(row) };
      // Each chunk is sent before the next is read: a slow reader holds the read back.
      for await (const data of deps.recordings.read(row)) {
        if (ctx.signal.aborted) return;
        yield { data };
      }
    },
  });
}

/** The index row as the wire message. */
function toRecordingMessage(row: RecordingRow) {
  return {
    id: row.id,
    machineId: row.machineId,
    machineName: row.machineName,
    actorKind: row.actorKind,
    actorId: row.actorId,
    kind: row.kind,
    argv: row.argv,
    startedMs: BigInt(row.startedMs),
    endedMs: BigInt(row.endedMs ?? 0),
    bytes: BigInt(row.bytes),
    outputBytes: BigInt(row.outputBytes),
    truncated: row.truncated,
    gapBytes: BigInt(row.gapBytes),
    exited: row.exitCode !== null,
    exitCode: row.exitCode ?? 0,
    width: row.width,
    height: row.height,
  };
}

/** `STARTED_MS.ID` of the last recording of the previous page. */
function parsePageToken(token: string): { startedMs: number; id: string } | undefined {
  if (!token) return undefined;
  const match = /^(\d{1,16})\.([0-9a-f-]{36})$/i.exec(token);
  if (!match) throw new ConnectError(`page token "${token}" is not valid`, Code.InvalidArgument);
  return { startedMs: Number(match[1]), id: match[2] };
}
