/** join, dirname and basename with node:path's results, without loading Node compatibility (~4.5 ms of every CLI start). */

// Windows paths (drive letters, backslashes, UNC) keep node:path itself.
const windows = Deno.build.os === "windows" ? await import("node:path") : undefined;

/**
 * `path.join` of Node: the parts joined with "/" and normalised.
 *
 * @example
 * ```ts
 * join("/home/u/", "./.cmdop", "auth.json"); // "/home/u/.cmdop/auth.json"
 * ```
 */
export function join(...parts: string[]): string {
  if (windows) return windows.join(...parts);
  const joined = parts.filter((p) => p.length > 0).join("/");
  return joined ? normalize(joined) : ".";
}

/**
 * `path.dirname` of Node.
 *
 * @example
 * ```ts
 * dirname("/home/u/.cmdop/auth.json"); // "/home/u/.cmdop"
 * ```
 */
export function dirname(path: string): string {
  if (windows) return windows.dirname(path);
  if (path.length === 0) return ".";
  const rooted = path[0] === "/";
  let end = -1;
  let sawName = false;
  for (let i = path.length - 1; i >= 1; i--) {
    if (path[i] === "/") {
      if (sawName) {
        end = i;
        break;
      }
    } else sawName = true;
  }
  if (end === -1) return rooted ? "/" : ".";
  if (rooted && end === 1) return "//";
  return path.slice(0, end);
}

/**
 * `path.basename` of Node (without the extension argument).
 *
 * @example
 * ```ts
 * basename("/home/u/.cmdop/auth.json"); // "auth.json"
 * ```
 */
export function basename(path: string): string {
  if (windows) return windows.basename(path);
  let end = path.length;
  while (end > 0 && path[end - 1] === "/") end--;
  return path.slice(path.lastIndexOf("/", end - 1) + 1, end);
}

function normalize(path: string): string {
  const rooted = path[0] === "/";
  const trailing = path[path.length - 1] === "/";
  const out: string[] = [];
  for (const segment of path.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment !== "..") out.push(segment);
    else if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
    else if (!rooted) out.push("..");
  }
  let result = out.join("/");
  if (result === "") return rooted ? "/" : trailing ? "./" : ".";
  if (trailing) result += "/";
  return rooted ? `/${result}` : result;
}
