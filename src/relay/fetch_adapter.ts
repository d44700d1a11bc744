/** Runs a Connect universal handler on a Deno.serve request, releasing the request body once the response is over. */
import type { UniversalHandlerFn } from "@connectrpc/connect/protocol";

/**
 * Connect's own fetch adapter (`createFetchHandler`), plus one thing it does
 * not do: when the response has ended (or the client went away) the request
 * body is cancelled. Deno.serve keeps a connection whose request body was
 * neither read to the end nor cancelled: a bidirectional session whose client
 * hung up after the exit frame left two sockets per exec in CLOSE-WAIT for
 * good, and a busy relay ran out of file descriptors. `header` replaces the
 * request's headers (the relay adds the peer address).
 *
 * @example
 * ```ts
 * return await serveUniversal(handler, request, headersWithPeer);
 * ```
 */
export async function serveUniversal(
  handler: UniversalHandlerFn,
  request: Request,
  header: Headers,
): Promise<Response> {
  const reader = request.body?.getReader();
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    reader?.cancel().catch(() => {});
  };
  const body: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]: () => ({
      next: async () => {
        if (!reader) return { done: true, value: undefined };
        const result = await reader.read();
        return result.done ? { done: true, value: undefined } : result;
      },
      throw: async (reason: unknown) => {
        await reader?.cancel(reason);
        return { done: true, value: undefined };
      },
    }),
  };
  let response;
  try {
    response = await handler({
      httpVersion: "",
      method: request.method,
      url: request.url,
      header,
      body,
      signal: request.signal,
    });
  } catch (error) {
    release();
    throw error;
  }
  if (response.body === undefined) {
    release();
    return new Response(null, { status: response.status, headers: response.header });
  }
  const it = response.body[Symbol.asyncIterator]();
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let next;
      try {
        next = await it.next();
      } catch (error) {
        release();
        throw error;
      }
      if (next.done) {
        controller.close();
        release();
      } else controller.enqueue(next.value);
    },
    async cancel(reason) {
      release();
      try {
        await it.throw?.(reason);
      } catch {
        // A generator rethrows what it is thrown unless it catches it.
      }
    },
  });
  return new Response(stream, { status: response.status, headers: response.header });
}
