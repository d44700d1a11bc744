/** The relay's answer to the gRPC protocol: a trailers-only UNIMPLEMENTED response that gRPC clients read as a clear error. */

/** gRPC's status code UNIMPLEMENTED. */
const GRPC_UNIMPLEMENTED = 12;

/** What a gRPC client shows its user. */
export const GRPC_REFUSAL_MESSAGE =
  "this relay does not serve the gRPC protocol: its HTTP server " +
  "cannot send the trailers gRPC needs; call it with Connect or gRPC-Web (the same services, " +
  "paths and messages)";

/**
 * True for a request of the gRPC protocol proper (`application/grpc`, `application/grpc+proto`, …),
 * not gRPC-Web (`application/grpc-web…`), which the relay serves.
 *
 * @example
 * ```ts
 * if (isGrpcRequest(request)) return grpcRefusal();
 * ```
 */
export function isGrpcRequest(request: Request): boolean {
  const type = request.headers.get("content-type")?.toLowerCase() ?? "";
  return /^application\/grpc(\+[a-z]+)?\s*(;|$)/.test(type);
}

/**
 * A gRPC "trailers-only" response: HTTP 200 whose headers carry `grpc-status` and
 * `grpc-message` and which has no body, the form gRPC uses for an immediate error. Deno.serve
 * cannot send HTTP trailers (denoland/deno#23632), so no gRPC call could ever succeed on
 * it; this form needs none, and grpcio, grpc-go, grpcurl and `buf curl` report it as
 * UNIMPLEMENTED with the message, instead of "no Grpc-Status trailer".
 *
 * @example
 * ```ts
 * return grpcRefusal(); // grpc-status: 12
 * ```
 */
export function grpcRefusal(): Response {
  return new Response(null, {
    status: 200,
    headers: {
      "content-type": "application/grpc",
      "grpc-status": String(GRPC_UNIMPLEMENTED),
      // The gRPC spec percent-encodes the message.
      "grpc-message": encodeURIComponent(GRPC_REFUSAL_MESSAGE),
    },
  });
}
