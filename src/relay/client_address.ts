/**
 * The address a request came from, as password lock-outs, rate limits and the audit log want it:
 * the TCP peer, unless that peer is a reverse proxy the operator trusts (`relay serve
 * --trusted-proxy CIDR`), in which case the client address that proxy appended to
 * `X-Forwarded-For`.
 *
 * Only the right end of `X-Forwarded-For` can be believed: each proxy appends the address it
 * accepted the connection from, and anything to the left of that may be whatever the client
 * wrote. The header is read right to left, skipping trusted proxies, and the first address that
 * is not one is the client. A malformed entry stops the walk at the last address a trusted proxy
 * vouched for. CIDR matching is `node:net`'s `BlockList` (IPv4, IPv6, IPv4-mapped IPv6).
 */
import { BlockList, isIP } from "node:net";

/** At most this many `X-Forwarded-For` entries are read (from the right); a longer chain is cut. */
export const MAX_FORWARDED_HOPS = 16;

/** The reverse proxies whose `X-Forwarded-For` the relay believes. */
export interface TrustedProxies {
  /** As given (`127.0.0.1`, `10.0.0.0/8`, `::1`), for the start-up log line. */
  readonly specs: readonly string[];
  has(address: string): boolean;
}

/**
 * Parses `--trusted-proxy` values: addresses or CIDR ranges, one per value or comma-separated.
 * Throws an Error naming the first one that is neither.
 *
 * @example
 * ```ts
 * const trusted = parseTrustedProxies(["127.0.0.1", "10.0.0.0/8,fd00::/8"]);
 * trusted.has("10.1.2.3"); // true
 * ```
 */
export function parseTrustedProxies(values: readonly string[]): TrustedProxies {
  const list = new BlockList();
  const specs: string[] = [];
  for (const spec of values.flatMap((v) => v.split(",")).map((s) => s.trim())) {
    if (spec === "") continue;
    const [address, prefixText, ...rest] = spec.split("/");
    const family = isIP(address);
    const max = family === 4 ? 32 : 128;
    const prefix = prefixText === undefined ? max : Number(prefixText);
    if (
      family === 0 || rest.length > 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > max ||
      (prefixText !== undefined && !/^\d+$/.test(prefixText))
    ) {
      throw new Error(
        `trusted proxy "${spec}" is not an IP address or CIDR range (e.g. 127.0.0.1, 10.0.0.0/8, ::1)`,
      );
    }
    list.addSubnet(address, prefix, family === 4 ? "ipv4" : "ipv6");
    specs.push(spec);
  }
  return { specs, has: (address) => contains(list, address) };
}

function contains(list: BlockList, address: string): boolean {
  const family = isIP(address);
  return family !== 0 && list.check(address, family === 4 ? "ipv4" : "ipv6");
}

/**
 * The client's address: `peer` (the TCP peer) unless it is a trusted proxy, then the right-most
 * `X-Forwarded-For` entry that is not one.
 *
 * @example
 * ```ts
 * clientAddress("127.0.0.1", "6.6.6.6, 198.51.100.4", parseTrustedProxies(["127.0.0.1"]));
 * // "198.51.100.4": the client wrote 6.6.6.6 itself; the proxy appended 198.51.100.4
 * ```
 */
export function clientAddress(
  peer: string,
  forwardedFor: string | null,
  trusted: TrustedProxies | undefined,
): string {
  if (!trusted || !forwardedFor || !trusted.has(peer)) return peer;
  const hops = forwardedFor.split(",").slice(-MAX_FORWARDED_HOPS);
  let vouched = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = bareAddress(hops[i].trim());
    if (hop === undefined) return vouched;
    if (!trusted.has(hop)) return hop;
    vouched = hop;
  }
  return vouched;
}

/** `1.2.3.4`, `1.2.3.4:5678`, `::1`, `[::1]:5678` → the address alone; anything else undefined. */
function bareAddress(entry: string): string | undefined {
  if (isIP(entry)) return entry;
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(entry);
  if (bracketed && isIP(bracketed[1]) === 6) return bracketed[1];
  const withPort = /^([\d.]+):\d{1,5}$/.exec(entry);
  if (withPort && isIP(withPort[1]) === 4) return withPort[1];
  return undefined;
}
