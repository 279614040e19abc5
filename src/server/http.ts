// The HTTP routes of the OpenAI-compatible server, a thin layer over OpenAIApi: JSON in, JSON or
// server-sent events out, errors in OpenAI's shape. A client that disconnects aborts its request.
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { ApiError, badRequest, toApiError } from "../api/errors.js";
import type { OpenAIApi } from "../api/openai.js";
import type { ChatCompletionRequest, CompletionRequest } from "../api/types.js";

export interface HttpOptions {
  /** When set, every route but /health needs `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Largest request body in bytes (default 32 MiB: room for a few base64 images). */
  maxBodyBytes?: number;
  log?: (line: string) => void;
}

export function createApp(api: OpenAIApi, opts: HttpOptions = {}): Hono {
  const app = new Hono();
  const log = opts.log ?? (() => {});
  const fail = (c: Context, err: ApiError) => {
    if (err.retryAfter !== undefined) c.header("Retry-After", String(err.retryAfter));
    return c.json(err.body, err.status as 400);
  };

  app.use("*", async (c, next) => {
    if (opts.apiKey === undefined || c.req.path === "/health") return next();
    const given = /^Bearer (.+)$/i.exec(c.req.header("authorization") ?? "")?.[1];
    if (given === undefined || !sameSecret(given, opts.apiKey)) {
      return fail(c, new ApiError(401, "missing or wrong API key (send Authorization: Bearer <key>)", "invalid_request_error", "invalid_api_key"));
    }
    return next();
  });

  app.get("/health", (c) => c.json({ status: "ok", model: api.modelName, ...api.stats }));
  app.get("/v1/models", (c) => c.json(api.listModels()));
  // Repo ids hold a slash: the rest of the path is the id.
  app.get("/v1/models/*", (c) => c.json(api.retrieveModel(decodeURIComponent(c.req.path.slice("/v1/models/".length)))));

  const limit = opts.maxBodyBytes ?? 32 * 1024 * 1024;
  const limited = bodyLimit({
    maxSize: limit,
    onError: (c) => fail(c, new ApiError(413, `the request body is larger than ${limit} bytes`, "invalid_request_error", "request_too_large")),
  });
  app.post("/v1/chat/completions", limited, async (c) => reply(c, await api.createChatCompletion((await jsonBody(c)) as ChatCompletionRequest, { signal: c.req.raw.signal }), log));
  app.post("/v1/completions", limited, async (c) => reply(c, await api.createCompletion((await jsonBody(c)) as CompletionRequest, { signal: c.req.raw.signal }), log));

  app.notFound((c) => fail(c, new ApiError(404, `no route ${c.req.method} ${c.req.path}`, "invalid_request_error", "not_found")));
  app.onError((e, c) => {
    const err = toApiError(e);
    if (err) return fail(c, err);
    log(`internal error on ${c.req.method} ${c.req.path}: ${(e as Error).stack ?? String(e)}`);
    return fail(c, new ApiError(500, "internal server error", "server_error"));
  });
  return app;
}

/** The body as JSON of unknown shape (OpenAIApi checks it). */
async function jsonBody(c: Context): Promise<unknown> {
  const text = await c.req.text();
  try {
    return JSON.parse(text);
  } catch (e) {
    throw badRequest(`the request body is not valid JSON: ${(e as Error).message}`);
  }
}

/** A JSON response, or server-sent events (`data: <json>` each, then `data: [DONE]`) for a stream. */
function reply(c: Context, result: object, log: (line: string) => void): Response {
  if (!(Symbol.asyncIterator in result)) return c.json(result);
  const chunks = result as AsyncIterableIterator<object>;
  const encoder = new TextEncoder();
  const event = (data: string) => encoder.encode(`data: ${data}\n\n`);
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const r = await chunks.next();
        if (r.done) {
          controller.enqueue(event("[DONE]"));
          controller.close();
        } else controller.enqueue(event(JSON.stringify(r.value)));
      } catch (e) {
        // The status line has gone out: like OpenAI's streams, the error travels as an event.
        const err = toApiError(e);
        if (!err) log(`internal error while streaming: ${(e as Error).stack ?? String(e)}`);
        controller.enqueue(event(JSON.stringify((err ?? new ApiError(500, "internal server error", "server_error")).body)));
        controller.close();
      }
    },
    async cancel() {
      await chunks.return?.();
    },
  });
  return new Response(body, { headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "x-accel-buffering": "no" } });
}

/** Compares secrets in time that depends on their lengths only. */
function sameSecret(given: string, key: string): boolean {
  let diff = given.length ^ key.length;
  for (let i = 0; i < key.length; i++) diff |= (given.charCodeAt(i) || 0) ^ key.charCodeAt(i);
  return diff === 0;
}
