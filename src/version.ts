/** cmdop's version, reported by `cmdop --version` and by agents to the relay. */
export const VERSION = "0.1.0";

/** The wire protocol: the protobuf package of `proto/`, which changes name on a breaking change. */
export const PROTOCOL_VERSION = "cmdop.v1";

/**
 * What `cmdop --version` prints: cmdop's version, the Deno runtime and platform it runs
 * on, and the wire protocol it speaks (relays and agents of one protocol interoperate).
 *
 * @example
 * ```ts
 * versionText(); // "cmdop 0.1.0\ndeno 2.9.6 (linux x86_64)\nprotocol cmdop.v1"
 * ```
 */
export function versionText(): string {
  return [
    `cmdop ${VERSION}`,
    `deno ${Deno.version.deno} (${Deno.build.os} ${Deno.build.arch})`,
    `protocol ${PROTOCOL_VERSION}`,
  ].join("\n");
}
