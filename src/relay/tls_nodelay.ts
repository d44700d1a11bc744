/** noDelayForTls: TCP_NODELAY on a TLS listener, so every connection it accepts sends small writes at once. */

/**
 * Why: Deno's `TlsConn` has no `setNoDelay` and `Deno.listenTls` no option for it (Deno 2.9;
 * `Deno.serve` with a certificate does not set it either), so a relay serving TLS ran every
 * connection with Nagle's algorithm on. A small write that follows another (a response's head,
 * then its first message) then waited for the client's delayed ACK: measured here, an
 * `exec -- true` against the TLS relay took 165 ms of which two stalls of ~45 ms each, and
 * 80 ms once the option was set. Linux copies TCP_NODELAY from a listening socket to each
 * socket it accepts, so it is set once, on the listener, found among the process's own
 * descriptors by its port (`/proc/net/tcp*` names the inode, `/proc/self/fd` the descriptor)
 * and set with libc's `setsockopt` through FFI.
 */

const IPPROTO_TCP = 6;
const TCP_NODELAY = 1;
/** A socket in the LISTEN state, as /proc/net/tcp writes it. */
const LISTEN = "0A";

/** The socket inodes of listeners on `port` (IPv4 and IPv6). */
export function listenerInodes(port: number, tables: string[]): Set<string> {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  const inodes = new Set<string>();
  for (const table of tables) {
    for (const line of table.split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      // sl local_address rem_address st tx:rx tr:tm retrnsmt uid timeout inode
      if (fields.length < 10 || fields[3] !== LISTEN) continue;
      if (fields[1].split(":").pop() === hexPort) inodes.add(fields[9]);
    }
  }
  return inodes;
}

/** The process's descriptors that are one of these sockets. */
function descriptorsOf(inodes: Set<string>): number[] {
  const found: number[] = [];
  for (const entry of Deno.readDirSync("/proc/self/fd")) {
    let target: string;
    try {
      target = Deno.readLinkSync(`/proc/self/fd/${entry.name}`);
    } catch {
      continue; // closed since the listing
    }
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (inode && inodes.has(inode)) found.push(Number(entry.name));
  }
  return found;
}

/**
 * Sets TCP_NODELAY on the listening socket of `port`; returns why it could not (not Linux, no
 * FFI permission, no libc, the socket not found), or undefined once it is set. Call it before
 * the first accept.
 *
 * @example
 * ```ts
 * const listener = Deno.listenTls({ port: 443, cert, key });
 * const failed = noDelayForTls((listener.addr as Deno.NetAddr).port);
 * if (failed) log(`TLS connections keep Nagle's algorithm: ${failed}`);
 * ```
 */
export function noDelayForTls(port: number): string | undefined {
  if (Deno.build.os !== "linux") return `not on ${Deno.build.os}`;
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    return "no FFI permission (run the relay with --allow-ffi)";
  }
  let descriptors: number[];
  try {
    const tables = ["/proc/net/tcp", "/proc/net/tcp6"].flatMap((path) => {
      try {
        return [Deno.readTextFileSync(path)];
      } catch {
        return []; // no IPv6
      }
    });
    descriptors = descriptorsOf(listenerInodes(port, tables));
  } catch (error) {
    return `cannot read /proc: ${(error as Error).message}`;
  }
  if (descriptors.length === 0) return `no listening socket of port ${port} among /proc/self/fd`;
  let libc;
  try {
    libc = Deno.dlopen("libc.so.6", {
      setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
    });
  } catch (error) {
    return `cannot load libc.so.6: ${(error as Error).message}`;
  }
  try {
    const one = new Int32Array([1]);
    for (const fd of descriptors) {
      if (libc.symbols.setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, one, 4) !== 0) {
        return `setsockopt(TCP_NODELAY) failed on descriptor ${fd}`;
      }
    }
    return undefined;
  } finally {
    libc.close();
  }
}
