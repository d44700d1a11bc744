/** Tests for listenerInodes: the listening sockets of one port read from /proc/net/tcp and tcp6. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { listenerInodes } from "./tls_nodelay.ts";

const HEAD =
  "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
const TCP = HEAD +
  "   0: 0100007F:B824 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 1 0 100 0 0 10 0\n" +
  "   1: 0100007F:B824 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 1002 1 0 20 4 30 10 -1\n" +
  "   2: 0100007F:01BB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1003 1 0 100 0 0 10 0\n";
const TCP6 = HEAD +
  "   0: 00000000000000000000000000000000:B824 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2001 1 0 100 0 0 10 0\n";

describe("listenerInodes", () => {
  it("finds the listeners of the port on IPv4 and IPv6, not its connections nor other ports", () => {
    assert.deepEqual([...listenerInodes(0xB824, [TCP, TCP6])], ["1001", "2001"]);
    assert.deepEqual([...listenerInodes(443, [TCP])], ["1003"]);
    assert.deepEqual([...listenerInodes(80, [TCP, TCP6])], []);
  });
});
