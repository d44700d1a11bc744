import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { halfOpenReadable } from "./tcp_stream.ts";

describe("halfOpenReadable", () => {
  it("ends at the peer's half-close and leaves the connection writable", async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const served = (async () => {
      const conn = await listener.accept();
      const got = await new Response(halfOpenReadable(conn)).text();
      await conn.write(new TextEncoder().encode(`got ${got}`));
      conn.close();
    })();
    const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    await client.write(new TextEncoder().encode("a question"));
    await client.closeWrite();
    assert.equal(await new Response(halfOpenReadable(client)).text(), "got a question");
    client.close();
    await served;
    listener.close();
  });
});
