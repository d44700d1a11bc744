/** The parts of the MCP SDK cmdop uses, imported in one place because their types need a pointer. */
// The SDK's "./*" export maps `server/mcp.js` to its code but `server/mcp.js.d.ts` for types, which
// does not exist; the same path without `.js` has types but no code. So: code from the `.js`
// path, types from the other.
// @ts-types="@modelcontextprotocol/sdk/server/mcp"
export { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
// @ts-types="@modelcontextprotocol/sdk/shared/stdio"
export { ReadBuffer, serializeMessage } from "@modelcontextprotocol/sdk/shared/stdio.js";
export type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol";
export type { Transport } from "@modelcontextprotocol/sdk/shared/transport";
export type {
  CallToolResult,
  JSONRPCMessage,
  ServerNotification,
  ServerRequest,
} from "@modelcontextprotocol/sdk/types";

import type { RequestHandlerExtra as HandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol";
import type {
  ServerNotification as Notification,
  ServerRequest as Request,
} from "@modelcontextprotocol/sdk/types";

/** What the SDK hands a server's tool handler beside its arguments. */
export type Extra = HandlerExtra<Request, Notification>;
