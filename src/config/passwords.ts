/** Remembered machine attach passwords (`cmdop connect password`), in `CMDOP_HOME/machine_passwords.json`. */

import { readJsonFile, updateJsonFile } from "./json_file.ts";
import { configFilePath } from "./paths.ts";
import {
  expectArray,
  expectNumber,
  expectObject,
  expectString,
  expectVersion,
  fieldPath,
} from "./_validate.ts";

/**
 * One remembered password. `workspace` is the local workspace name and `machine_id`
 * the machine's UUID: together they are the key. `server` is the relay it was proved
 * to: it is only ever sent back to that relay, since any relay can claim a machine's
 * UUID (entries saved before it was recorded have none, and are never sent).
 * `hostname` is only for display. The password is stored as typed, protected by the
 * file's 0600 mode, because the relay needs the password itself to issue a session token.
 */
export interface StoredMachinePassword {
  workspace: string;
  machine_id: string;
  server?: string;
  hostname: string;
  password: string;
  saved_at_ms: number;
}

/** A stored password as `password list` shows it: everything but the password. */
export type MachinePasswordListing = Omit<StoredMachinePassword, "password">;

/** The content of `machine_passwords.json`: `{ "version": 1, "passwords": [StoredMachinePassword, …] }`. */
export interface MachinePasswordsFile {
  version: 1;
  passwords: StoredMachinePassword[];
}

/**
 * Validates a parsed `machine_passwords.json`.
 *
 * @example
 * ```ts
 * parseMachinePasswordsFile({ version: 1, passwords: [] });
 * ```
 */
export function parseMachinePasswordsFile(
  value: unknown,
): MachinePasswordsFile {
  const root = expectObject(value, "");
  expectVersion(root.version, 1);
  const passwords = expectArray(
    root.passwords ?? [],
    "passwords",
    (item, at) => {
      const entry = expectObject(item, at);
      return {
        workspace: expectString(entry.workspace, fieldPath(at, "workspace")),
        machine_id: expectString(entry.machine_id, fieldPath(at, "machine_id")),
        ...(entry.server === undefined
          ? {}
          : { server: expectString(entry.server, fieldPath(at, "server")) }),
        hostname: expectString(entry.hostname, fieldPath(at, "hostname")),
        password: expectString(entry.password, fieldPath(at, "password")),
        saved_at_ms: expectNumber(
          entry.saved_at_ms,
          fieldPath(at, "saved_at_ms"),
        ),
      };
    },
  );
  return { version: 1, passwords };
}

/** Which machine a password is for. */
export interface MachineRef {
  workspace: string;
  machineId: string;
}

/**
 * Remembers (or replaces) the password of one machine of one workspace.
 *
 * @example
 * ```ts
 * await setMachinePassword(home, { workspace: "prod", machineId: id, hostname: "vps-audi", password }, ctx.now);
 * ```
 */
export async function setMachinePassword(
  home: string,
  entry: MachineRef & { hostname: string; password: string; server: string },
  now: () => number,
): Promise<void> {
  await update(home, (file) => {
    file.passwords = file.passwords.filter((p) => !matches(p, entry));
    file.passwords.push({
      workspace: entry.workspace,
      machine_id: entry.machineId,
      server: entry.server,
      hostname: entry.hostname,
      password: entry.password,
      saved_at_ms: now(),
    });
    return file;
  });
}

/**
 * The remembered password of a machine, or `undefined`.
 *
 * @example
 * ```ts
 * const password = await getMachinePassword(home, { workspace: "prod", machineId: id });
 * ```
 */
export async function getMachinePassword(
  home: string,
  machine: MachineRef,
): Promise<string | undefined> {
  const file = await read(home);
  return file?.passwords.find((p) => matches(p, machine))?.password;
}

/**
 * The remembered password of a machine for the relay at `server` (as the password was
 * proved to), whatever workspace it was filed under, or `undefined`. A password is
 * never handed to another relay, even one that claims the same machine UUID.
 *
 * @example
 * ```ts
 * const password = await findMachinePassword(home, "https://relay.example.com", machine.id);
 * ```
 */
export async function findMachinePassword(
  home: string,
  server: string,
  machineId: string,
): Promise<string | undefined> {
  const file = await read(home);
  return file?.passwords.findLast((p) => p.machine_id === machineId && p.server === server)
    ?.password;
}

/**
 * Forgets a machine's password; `false` when none was stored.
 *
 * @example
 * ```ts
 * await clearMachinePassword(home, { workspace: "prod", machineId: id });
 * ```
 */
export async function clearMachinePassword(
  home: string,
  machine: MachineRef,
): Promise<boolean> {
  let found = false;
  await update(home, (file) => {
    found = file.passwords.some((p) => matches(p, machine));
    if (!found) return undefined;
    file.passwords = file.passwords.filter((p) => !matches(p, machine));
    return file;
  });
  return found;
}

/**
 * Which machines have a stored password, without the passwords: those of `workspace`,
 * or of every workspace when it is omitted; sorted by workspace, then hostname.
 *
 * @example
 * ```ts
 * for (const p of await listMachinePasswords(home, "prod")) console.log(p.hostname);
 * ```
 */
export async function listMachinePasswords(
  home: string,
  workspace?: string,
): Promise<MachinePasswordListing[]> {
  const file = await read(home);
  return (file?.passwords ?? [])
    .filter((p) => workspace === undefined || p.workspace === workspace)
    .map(({ password: _password, ...listing }) => listing)
    .sort((a, b) =>
      a.workspace.localeCompare(b.workspace) ||
      a.hostname.localeCompare(b.hostname)
    );
}

function matches(stored: StoredMachinePassword, machine: MachineRef): boolean {
  return stored.workspace === machine.workspace &&
    stored.machine_id === machine.machineId;
}

function passwordsPath(home: string): string {
  return configFilePath(home, "machinePasswords");
}

function read(home: string): Promise<MachinePasswordsFile | undefined> {
  return readJsonFile(passwordsPath(home), parseMachinePasswordsFile);
}

async function update(
  home: string,
  change: (file: MachinePasswordsFile) => MachinePasswordsFile | undefined,
): Promise<void> {
  await updateJsonFile(
    passwordsPath(home),
    (current) => change(current ?? { version: 1, passwords: [] }),
    parseMachinePasswordsFile,
  );
}
