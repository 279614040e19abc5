// Serving an OpenAIApi over HTTP on Node: listen, and shut down cleanly (stop accepting, let admitted
// requests finish within a grace period, cancel the rest, close the connections).
import { serve } from "@hono/node-server";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { OpenAIApi } from "../api/openai.js";
import { InputError } from "../errors.js";
import { createApp, type HttpOptions } from "./http.js";

export interface ServeOptions extends HttpOptions {
  /** Default 127.0.0.1: loopback only. */
  host?: string;
  /** Default 8080; 0 picks a free port. */
  port?: number;
}

export interface RunningServer {
  url: string;
  port: number;
  /** Stops accepting requests, waits up to `graceMs` for admitted ones, cancels the rest, and closes. */
  close(graceMs?: number): Promise<void>;
}

export async function startServer(api: OpenAIApi, opts: ServeOptions = {}): Promise<RunningServer> {
  const host = opts.host ?? "127.0.0.1";
  const server = serve({ fetch: createApp(api, opts).fetch, hostname: host, port: opts.port ?? 8080 }) as Server;
  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", (e: NodeJS.ErrnoException) => reject(new InputError(`cannot listen on ${host}:${opts.port ?? 8080}: ${e.code ?? e.message}`)));
  });
  const port = (server.address() as AddressInfo).port;
  const closed = new Promise<void>((resolve) => server.once("close", () => resolve()));
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    port,
    close(graceMs) {
      closing ??= (async () => {
        const drained = api.close(graceMs);
        server.close();
        await drained;
        // Responses may still be flushing their last bytes: close each connection once it is idle,
        // and whatever is left after a moment.
        const sweep = setInterval(() => server.closeIdleConnections(), 20);
        const late = setTimeout(() => server.closeAllConnections(), 2000);
        await closed;
        clearInterval(sweep);
        clearTimeout(late);
      })();
      return closing;
    },
  };
}
