/** One access-log line, one latency sample and (for a refused credential) one auth-failure count per RPC. */
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import type { Logger } from "../../lib/log.ts";
import type { RelayMetrics } from "./metrics.ts";

/** What an ended call reports; `error` is absent for success. */
export interface CallEnd {
  /** `Service/Method`, without the package. */
  method: string;
  header: Headers;
  startedMs: number;
  error?: unknown;
}

/**
 * Records a call that has ended: the latency histogram, an access-log line (method,
 * Connect code, duration, peer, credential kind — never the credential), and for
 * Unauthenticated an auth-failure count and a warning naming the source address.
 *
 * @example
 * ```ts
 * const record = createCallRecorder(metrics, log);
 * record({ method: "AgentService/Control", header, startedMs: performance.now(), error });
 * ```
 */
export function createCallRecorder(
  metrics: RelayMetrics,
  log: Logger,
): (end: CallEnd) => void {
  return ({ method, header, startedMs, error }) => {
    const ms = performance.now() - startedMs;
    const connectError = error === undefined ? undefined : ConnectError.from(error);
    const code = connectError ? codeToString(connectError.code) : "ok";
    metrics.rpcDuration.observe({ method, code }, ms / 1000);
    const peer = header.get("cmdop-peer") ?? "unknown";
    const credential = credentialKind(header, method);
    // Each agent answers a ping every 10 s: at 10,000 agents a line per heartbeat would be a
    // thousand lines a second. They are counted above; a failed one is logged.
    if (!(method === "AgentService/Heartbeat" && code === "ok")) {
      log("rpc", { method, code, ms: Math.round(ms * 10) / 10, peer, credential });
    }
    if (connectError?.code === Code.Unauthenticated) {
      metrics.authFailures.inc({ credential });
      log("auth failure", {
        level: "warn",
        method,
        peer,
        credential,
        reason: connectError.rawMessage,
      });
    }
  };
}

/**
 * A router interceptor feeding `record` once per call, when a unary call returns or a
 * stream's last response message has been sent (or it failed).
 *
 * @example
 * ```ts
 * const router = createConnectRouter({ interceptors: [createRpcObserver(record)] });
 * ```
 */
export function createRpcObserver(record: (end: CallEnd) => void): Interceptor {
  return (next) => async (req) => {
    const startedMs = performance.now();
    const method = `${req.service.name}/${req.method.name}`;
    const end = (error?: unknown) => record({ method, header: req.header, startedMs, error });
    let res;
    try {
      res = await next(req);
    } catch (error) {
      end(error);
      throw error;
    }
    if (!res.stream) {
      end();
      return res;
    }
    const messages = res.message;
    async function* observed() {
      let failure: unknown;
      try {
        yield* messages;
      } catch (error) {
        failure = error;
        throw error;
      } finally {
        end(failure);
      }
    }
    return { ...res, message: observed() };
  };
}

/** Which kind of secret the caller presented, by its prefix: never the secret itself. */
function credentialKind(header: Headers, method: string): string {
  if (method === "AgentService/Enroll") return "enroll_token";
  const match = /^Bearer\s+([a-z]+)_/i.exec(header.get("authorization") ?? "");
  if (!match) return header.has("authorization") ? "malformed" : "none";
  const kinds: Record<string, string> = {
    cmk: "api_key",
    cms: "share_token",
    cma: "login_token",
    cmm: "machine",
    cmt: "machine_token",
  };
  return kinds[match[1]] ?? "unknown";
}
