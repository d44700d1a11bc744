/** What the login endpoints work with: the relay, the login store and token lifetimes. */

import type { RelayDeps } from "../deps.ts";
import type { LoginStore } from "./login_store.ts";

/** What the login endpoints and the token resolver share. */
export interface LoginContext {
  deps: RelayDeps;
  store: LoginStore;
  /** Lifetime of an access token; about an hour. */
  accessTtlMs: number;
  /** Lifetime of a refresh token; about a month, renewed by each refresh. */
  refreshTtlMs: number;
}
