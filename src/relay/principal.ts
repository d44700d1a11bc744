/** Who a relay request speaks for, and the prefixes that tell its secrets apart. */

import type { Labels } from "../lib/labels.ts";

/** Prefixes make each secret's kind visible, and routable without a lookup. */
export const SecretPrefix = {
  apiKey: "cmk",
  enrollToken: "cme",
  shareToken: "cms",
  machineToken: "cmt",
  machineSecret: "cmm",
  accessToken: "cma",
  refreshToken: "cmr",
  deviceCode: "cmc",
} as const;

/**
 * A client acting in a whole workspace, through a share link on one machine, or a
 * machine of the workspace acting as a client with its own credential (when the
 * workspace's machine-clients setting lets it), reaching the machines that match one of
 * `reach` (all of them when it is empty), as the setting said when the call came in.
 */
export type ClientPrincipal =
  | {
    kind: "workspace";
    workspaceId: string;
    via: "api_key" | "login_token";
    userId?: string;
    /** An API key's fingerprint (first 12 hex digits of its SHA-256), for the audit log. */
    keyId?: string;
  }
  | {
    kind: "share";
    workspaceId: string;
    machineId: string;
    shareId: string;
    /** Watches the terminal `owner` has open on the machine; sends nothing to it. */
    readOnly: boolean;
    /** Who minted the link (`ownerOf` in auth.ts). */
    owner: string;
  }
  | {
    kind: "machine";
    workspaceId: string;
    machineId: string;
    hostname: string;
    reach: Labels[];
  };
