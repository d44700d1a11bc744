/** nginx, haproxy and Caddy in front of a relay with TLS, each started with its snippet from docs/deploy.md; squid and tinyproxy as forward proxies. */
import { join } from "node:path";
import { ROOT } from "../_harness.ts";
import { listenOnFreePort } from "../cluster/_services.ts";
import { findProgram } from "../_tools.ts";

/** A proxy process a test started. */
export interface ProxyProcess {
  /** `https://127.0.0.1:PORT` for a reverse proxy, `http://127.0.0.1:PORT` for a forward one. */
  url: string;
  port: number;
  /** The proxy's own log so far (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

/**
 * The configuration snippet named `name` in docs/deploy.md: the fenced block after the line
 * `<!-- snippet: NAME -->`.
 *
 * @example
 * ```ts
 * const server = await snippet("nginx"); // "server {\n    listen 443 ssl http2; …"
 * ```
 */
export async function snippet(name: string): Promise<string> {
  const doc = await Deno.readTextFile(join(ROOT, "docs", "deploy.md"));
  const match = new RegExp(`<!-- snippet: ${name} -->\\s*\`\`\`[a-z]*\\n([\\s\\S]*?)\`\`\``).exec(
    doc,
  );
  if (!match) throw new Error(`docs/deploy.md has no snippet "${name}"`);
  return match[1];
}

/** Replaces `from` in `text`, failing when it is not there (the doc changed under the test). */
function swap(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`snippet has no "${from}"`);
  return text.replaceAll(from, to);
}

/** The doc's placeholders: relay address, certificate folder, listening port. */
function localise(text: string, relayPort: number, certs: string): string {
  return swap(swap(text, "127.0.0.1:4780", `127.0.0.1:${relayPort}`), "/etc/ssl/cmdop", certs);
}

/**
 * nginx with the doc's `server` block inside a minimal `http` block of its own; `without`
 * drops lines of the snippet (to show what the relay does for a setting an operator forgot);
 * `bindFrom` is the address it connects to the relay from.
 *
 * @example
 * ```ts
 * const nginx = await startNginx(relayPort, certDir);
 * ```
 */
export async function startNginx(
  relayPort: number,
  certs: string,
  without: string[] = [],
  options: { bindFrom?: string } = {},
): Promise<ProxyProcess> {
  const dir = await Deno.makeTempDir({ prefix: "cmdop-nginx-" });
  let text = await snippet("nginx");
  for (const line of without) text = swap(text, line, "");
  // A source address of its own toward the relay (a loopback alias), so that the relay can
  // tell nginx from the clients behind it.
  if (options.bindFrom) {
    text = swap(text, "proxy_pass ", `proxy_bind ${options.bindFrom};\n        proxy_pass `);
  }
  const local = localise(text, relayPort, certs);
  const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
    .map((kind) => `  ${kind}_temp_path ${dir}/${kind};`).join("\n");
  return await spawnProxy("nginx", dir, (port) => {
    const conf = [
      // One process: it is the one listening, and the one a test stops.
      "daemon off;",
      "master_process off;",
      `pid ${dir}/nginx.pid;`,
      `error_log ${dir}/error.log info;`,
      "events { worker_connections 1024; }",
      "http {",
      "  access_log off;",
      temp,
      swap(local, "listen 443 ssl", `listen 127.0.0.1:${port} ssl`),
      "}",
      "",
    ].join("\n");
    Deno.writeTextFileSync(join(dir, "nginx.conf"), conf);
    return ["-e", join(dir, "error.log"), "-p", dir, "-c", join(dir, "nginx.conf")];
  }, { logFile: join(dir, "error.log") });
}

/**
 * nginx as it is most often left: the doc's snippet without `proxy_request_buffering off`,
 * so that it reads a request's whole body before it passes any of it on. No full-duplex
 * stream gets through it (a session's request body ends only with the session): cmdop's
 * sessions fall back to half duplex there.
 *
 * @example
 * ```ts
 * const nginx = await startBufferingNginx(relayPort, certDir);
 * ```
 */
export function startBufferingNginx(relayPort: number, certs: string): Promise<ProxyProcess> {
  return startNginx(relayPort, certs, ["proxy_request_buffering off;"]);
}

/**
 * haproxy with Debian's stock `defaults` (50 s client and server timeouts) and the doc's
 * frontend and backend, which must override them.
 *
 * @example
 * ```ts
 * const haproxy = await startHaproxyTls(relayPort, certDir);
 * ```
 */
export async function startHaproxyTls(relayPort: number, certs: string): Promise<ProxyProcess> {
  const dir = await Deno.makeTempDir({ prefix: "cmdop-haproxy-" });
  const combined = (await Deno.readTextFile(join(certs, "relay.pem"))) +
    (await Deno.readTextFile(join(certs, "relay.key")));
  await Deno.writeTextFile(join(certs, "relay-with-key.pem"), combined, { mode: 0o600 });
  const local = localise(await snippet("haproxy"), relayPort, certs);
  return await spawnProxy("haproxy", dir, (port) => {
    const conf = [
      "global",
      "  maxconn 4096",
      "defaults",
      "  mode http",
      "  timeout connect 5000",
      "  timeout client 50000",
      "  timeout server 50000",
      swap(local, "bind :443", `bind 127.0.0.1:${port}`),
    ].join("\n");
    Deno.writeTextFileSync(join(dir, "haproxy.cfg"), conf);
    return ["-db", "-f", join(dir, "haproxy.cfg")];
  });
}

/**
 * Caddy with the doc's site block, its admin endpoint and automatic HTTPS off (the
 * certificate is the test CA's), state kept in its own folder.
 *
 * @example
 * ```ts
 * const caddy = await startCaddy(relayPort, certDir);
 * ```
 */
export async function startCaddy(relayPort: number, certs: string): Promise<ProxyProcess> {
  const dir = await Deno.makeTempDir({ prefix: "cmdop-caddy-" });
  const local = localise(await snippet("caddy"), relayPort, certs);
  return await spawnProxy("caddy", dir, (port) => {
    const site = swap(local, "relay.example.com {", `https://127.0.0.1:${port} {`);
    const conf =
      `{\n  admin off\n  auto_https disable_redirects\n  skip_install_trust\n  default_bind 127.0.0.1\n}\n${site}`;
    Deno.writeTextFileSync(join(dir, "Caddyfile"), conf);
    return ["run", "--adapter", "caddyfile", "--config", join(dir, "Caddyfile")];
  }, { env: { HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir } });
}

/**
 * squid as a forward proxy with Debian's stock access rules (CONNECT only to SSL_ports, 443)
 * plus, unless `stock`, the doc's snippet naming the relay's port.
 *
 * @example
 * ```ts
 * const squid = await startSquid(relayPort); // HTTPS_PROXY=squid.url
 * ```
 */
export async function startSquid(relayPort: number, stock = false): Promise<ProxyProcess> {
  const dir = await Deno.makeTempDir({ prefix: "cmdop-squid-" });
  const ports = stock
    ? "acl SSL_ports port 443"
    : swap(await snippet("squid"), "4780", `${relayPort}`);
  return await spawnProxy("squid", dir, (port) => {
    const conf = [
      `http_port 127.0.0.1:${port}`,
      ports,
      "acl CONNECT method CONNECT",
      "http_access deny CONNECT !SSL_ports",
      "http_access allow localhost",
      "http_access deny all",
      `pid_filename ${dir}/squid.pid`,
      `cache_log ${dir}/cache.log`,
      "access_log none",
      "cache deny all",
      "cache_mem 8 MB",
      `coredump_dir ${dir}`,
      "shutdown_lifetime 1 second",
      "",
    ].join("\n");
    Deno.writeTextFileSync(join(dir, "squid.conf"), conf);
    // -N: no daemon, one process, the one listening.
    return ["-N", "-f", join(dir, "squid.conf")];
  }, { scheme: "http", logFile: join(dir, "cache.log") });
}

/**
 * tinyproxy as a forward proxy, CONNECT limited by the doc's `ConnectPort` lines.
 *
 * @example
 * ```ts
 * const tinyproxy = await startTinyproxy(relayPort); // HTTPS_PROXY=tinyproxy.url
 * ```
 */
export async function startTinyproxy(relayPort: number): Promise<ProxyProcess> {
  const dir = await Deno.makeTempDir({ prefix: "cmdop-tinyproxy-" });
  const ports = swap(await snippet("tinyproxy"), "4780", `${relayPort}`);
  return await spawnProxy("tinyproxy", dir, (port) => {
    const conf = [
      `Port ${port}`,
      "Listen 127.0.0.1",
      "Timeout 3600",
      "Allow 127.0.0.1",
      "MaxClients 100",
      "LogLevel Info",
      ports,
      "",
    ].join("\n");
    Deno.writeTextFileSync(join(dir, "tinyproxy.conf"), conf);
    // -d: in the foreground, logging to stderr.
    return ["-d", "-c", join(dir, "tinyproxy.conf")];
  }, { scheme: "http" });
}

/** Starts `program` with the arguments `configure` gives for a free port, until it listens there. */
async function spawnProxy(
  program: string,
  dir: string,
  configure: (port: number) => string[],
  options: { env?: Record<string, string>; logFile?: string; scheme?: "http" | "https" } = {},
): Promise<ProxyProcess> {
  const path = findProgram(program);
  if (!path) throw new Error(`${program} is not installed`);
  const { child, port, log: output } = await listenOnFreePort(
    program,
    (port) =>
      new Deno.Command(path, {
        args: configure(port),
        env: options.env,
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).spawn(),
  );
  const log = () => {
    let file = "";
    try {
      if (options.logFile) file = Deno.readTextFileSync(options.logFile).slice(-20_000);
    } catch { /* not written yet */ }
    return output() + file;
  };
  let stopping: Promise<void> | undefined;
  const stop = () =>
    stopping ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      const killer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
      }, 5_000);
      await child.status;
      clearTimeout(killer);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    })();
  return { url: `${options.scheme ?? "https"}://127.0.0.1:${port}`, port, log, stop };
}
