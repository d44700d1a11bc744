/** The API key of earlier cmdop versions (`cfg.Chat.GrpcAPIKey` in `CMDOP_HOME/config.json`) and its one-shot move into a workspace. */

import { readJsonFile, updateJsonFile } from "./json_file.ts";
import { configFilePath } from "./paths.ts";
import { DEFAULT_WORKSPACE_NAME, updateWorkspaces, type Workspace } from "./workspaces.ts";
import { expectObject, optionalString } from "./_validate.ts";

/**
 * `config.json` is an object of any content; only `Chat.GrpcAPIKey` is checked. Every
 * other key is carried through untouched when the key is moved out.
 */
type LegacyConfig = Record<string, unknown>;

function parseLegacyConfig(value: unknown): LegacyConfig {
  const root = expectObject(value, "");
  if (root.Chat !== undefined && root.Chat !== null) {
    optionalString(
      expectObject(root.Chat, "Chat").GrpcAPIKey,
      "Chat.GrpcAPIKey",
    );
  }
  return root;
}

function legacyKeyOf(config: LegacyConfig | undefined): string | undefined {
  const chat = config?.Chat as Record<string, unknown> | null | undefined;
  const key = (chat?.GrpcAPIKey as string | undefined)?.trim();
  return key ? key : undefined;
}

/**
 * The legacy API key, or `undefined` when there is no `config.json`, no key, or an
 * empty one.
 *
 * @example
 * ```ts
 * const legacyKey = await readLegacyApiKey(home);
 * ```
 */
export async function readLegacyApiKey(
  home: string,
): Promise<string | undefined> {
  return legacyKeyOf(
    await readJsonFile(configFilePath(home, "legacyConfig"), parseLegacyConfig),
  );
}

/** What {@linkcode migrateLegacyApiKey} did. */
export type LegacyMigration =
  /** There was no legacy key (any more: another process may just have moved it). */
  | { status: "none" }
  /** The key now lives in `workspace` and is gone from `config.json`. */
  | { status: "migrated"; apiKey: string; workspace: Workspace }
  /** The target workspace already holds a different key; both files are left as they were. */
  | { status: "kept"; apiKey: string; workspace: string };

/**
 * Moves the legacy key into the active workspace, or, when none is active, into
 * `default` (created if missing) which then becomes active; then deletes
 * `Chat.GrpcAPIKey` from `config.json`, keeping every other key (an emptied `Chat`
 * stays as `{}`). Holds the `config.json` lock throughout, so concurrent processes
 * migrate once. The key is stored before it is removed, so a crash in between leaves
 * it in both files rather than in neither; a later migration of the same key then only
 * finishes the removal.
 *
 * @example
 * ```ts
 * const outcome = await migrateLegacyApiKey(home);
 * if (outcome.status === "migrated") console.log(`moved to "${outcome.workspace.name}"`);
 * ```
 */
export async function migrateLegacyApiKey(
  home: string,
): Promise<LegacyMigration> {
  let outcome = { status: "none" } as LegacyMigration;
  await updateJsonFile(
    configFilePath(home, "legacyConfig"),
    async (config) => {
      const apiKey = legacyKeyOf(config);
      if (!config || !apiKey) return undefined;
      await updateWorkspaces(home, (file) => {
        const name = file.active ?? DEFAULT_WORKSPACE_NAME;
        let target = file.workspaces.find((w) => w.name === name);
        if (target?.api_key && target.api_key !== apiKey) {
          outcome = { status: "kept", apiKey, workspace: name };
          return undefined;
        }
        if (!target) {
          target = { name };
          file.workspaces.push(target);
        }
        target.api_key = apiKey;
        file.active = name;
        outcome = { status: "migrated", apiKey, workspace: { ...target } };
        return file;
      });
      if (outcome.status !== "migrated") return undefined;
      const { GrpcAPIKey: _moved, ...chat } = config.Chat as Record<
        string,
        unknown
      >;
      return { ...config, Chat: chat };
    },
    parseLegacyConfig,
  );
  return outcome;
}
