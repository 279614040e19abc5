/**
 * The few HTTP calls the Hub client makes, on Node's built-in fetch, with per-request deadlines,
 * manual redirects (Authorization is dropped when a redirect leaves the endpoint's origin) and
 * translation of every failure into a HubError with a message a user can act on.
 */
import { HubError } from "./errors.js";

export interface HubContext {
  repoId: string;
  revision: string;
  endpoint: string;
  cacheDir: string;
  token?: string;
  signal?: AbortSignal;
  metadataTimeoutMs: number;
  downloadTimeoutMs: number;
}

/** An AbortController that fires on the caller's signal or when an armed timer runs out. */
export class Deadline {
  readonly controller = new AbortController();
  timedOut = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly onUserAbort = (): void => this.controller.abort(this.user?.reason);

  constructor(private readonly user?: AbortSignal) {
    if (user?.aborted) this.controller.abort(user.reason);
    else user?.addEventListener("abort", this.onUserAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  arm(ms: number): void {
    this.disarm();
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort(new DOMException(`no answer within ${ms} ms`, "TimeoutError"));
    }, ms);
  }

  disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  dispose(): void {
    this.disarm();
    this.user?.removeEventListener("abort", this.onUserAbort);
  }
}

/** The caller's abort, rethrown as its own reason (an "AbortError" DOMException by default). */
export function throwIfUserAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortReason(signal);
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("The operation was aborted", "AbortError");
}

function networkHint(ctx: HubContext): string {
  return (
    ` Check the network connection (Node's fetch ignores HTTP(S)_PROXY), set HF_ENDPOINT to a reachable mirror,` +
    ` set HF_HUB_OFFLINE=1 to use only the local cache (${ctx.cacheDir}),` +
    ` or pass a local model directory instead of a repo id.`
  );
}

/** Turn whatever fetch or a body read threw into the caller's abort, a timeout or a network HubError. */
export function translateError(e: unknown, deadline: Deadline, ctx: HubContext, what: string): unknown {
  if (e instanceof HubError) return e;
  if (ctx.signal?.aborted) return abortReason(ctx.signal);
  if (deadline.timedOut) {
    return new HubError(
      `Timed out talking to the Hugging Face Hub at ${ctx.endpoint} while ${what}.` + networkHint(ctx),
      { code: "network", cause: e },
    );
  }
  const cause = (e as { cause?: { code?: string; message?: string } } | undefined)?.cause;
  const detail = cause?.code ?? cause?.message ?? (e instanceof Error ? e.message : String(e));
  return new HubError(
    `Cannot reach the Hugging Face Hub at ${ctx.endpoint} (${detail}) while ${what}.` + networkHint(ctx),
    { code: "network", cause: e },
  );
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

function isRelativeLocation(location: string): boolean {
  return !/^[a-z][a-z0-9+.-]*:/i.test(location) && !location.startsWith("//");
}

export interface SendOptions {
  method: "GET" | "HEAD";
  headers: Record<string, string>;
  deadline: Deadline;
  /**
   * "relative": follow only redirects without a host (renamed repos), return any other 3xx as is,
   * like huggingface_hub's HEAD; "all": follow every redirect (the download GET).
   */
  follow: "relative" | "all";
}

/** fetch with manual redirects; Authorization never leaves the origin of the first URL. */
export async function send(url: string, opts: SendOptions): Promise<{ res: Response; url: string }> {
  const headers = { ...opts.headers };
  const origin = new URL(url).origin;
  let current = url;
  for (let hop = 0; hop <= 10; hop++) {
    const res = await fetch(current, {
      method: opts.method,
      headers,
      redirect: "manual",
      signal: opts.deadline.signal,
    });
    const location = res.headers.get("location");
    if (!REDIRECTS.has(res.status) || location === null) return { res, url: current };
    if (opts.follow === "relative" && !isRelativeLocation(location)) return { res, url: current };
    await res.body?.cancel().catch(() => undefined);
    const next = new URL(location, current);
    if (next.origin !== origin) delete headers.authorization;
    current = next.href;
  }
  throw new HubError(`Too many redirects from ${url}.`, { code: "http" });
}

export function authHeaders(ctx: HubContext): Record<string, string> {
  return {
    "user-agent": "gemma3n (Node.js; hub client)",
    "accept-encoding": "identity",
    ...(ctx.token ? { authorization: `Bearer ${ctx.token}` } : {}),
  };
}

/** A readable error for a non-2xx Hub answer; the body is read (a little) and discarded. */
export async function httpError(
  res: Response,
  ctx: HubContext,
  target: { kind: "api" } | { kind: "file"; path: string; commit: string },
): Promise<HubError> {
  const status = res.status;
  const errorCode = res.headers.get("x-error-code") ?? undefined;
  let serverMessage = res.headers.get("x-error-message") ?? undefined;
  try {
    const text = res.body ? (await res.text()).slice(0, 2000) : "";
    if (!serverMessage && text) {
      try {
        const j = JSON.parse(text) as { error?: unknown };
        if (typeof j.error === "string") serverMessage = j.error;
      } catch {
        if (!/^\s*</.test(text)) serverMessage = text.trim();
      }
    }
  } catch {
    // the body is only decoration
  }
  const said = serverMessage ? ` (server said: ${serverMessage.slice(0, 200)})` : "";
  const repo = ctx.repoId;
  const licenseUrl = `https://huggingface.co/${repo}`;
  const localHint = ` If "${repo}" was meant as a local model directory: no such directory exists.`;

  if (status === 401 || status === 403) {
    const gated = errorCode === "GatedRepo" || target.kind === "file" || status === 403;
    if (gated) {
      const how = ctx.token
        ? `A token was sent but does not grant access: accept the license at ${licenseUrl} with the account the token belongs to, and check that HF_TOKEN holds a valid read token.`
        : `It is probably a gated model: accept the license at ${licenseUrl} and set HF_TOKEN to a read token of that account (https://huggingface.co/settings/tokens).`;
      const what = target.kind === "file" ? `${target.path} from ${repo}` : repo;
      return new HubError(`Access to ${what} is restricted (HTTP ${status}).${said} ${how}`, {
        code: "unauthorized",
        status,
      });
    }
    const how = ctx.token
      ? `Check the name, and that the token in HF_TOKEN is valid and has access (for a gated model, accept the license at ${licenseUrl}).`
      : `Check the name; if the repo is private or gated, accept the license at ${licenseUrl} and set HF_TOKEN to a read token.`;
    return new HubError(
      `Repository ${repo} was not found at ${ctx.endpoint}, or it is private or gated (HTTP ${status}).${said} ${how}${localHint}`,
      { code: "unauthorized", status },
    );
  }
  if (status === 404) {
    if (errorCode === "RevisionNotFound") {
      return new HubError(`Revision "${ctx.revision}" not found in ${repo} at ${ctx.endpoint} (HTTP 404).${said}`, {
        code: "not_found",
        status,
      });
    }
    if (target.kind === "file" && errorCode !== "RepoNotFound") {
      return new HubError(
        `File "${target.path}" not found in ${repo} at commit ${target.commit} (HTTP 404).${said}`,
        { code: "not_found", status },
      );
    }
    return new HubError(
      `Repository ${repo} (revision "${ctx.revision}") not found at ${ctx.endpoint} (HTTP 404).${said}${localHint}`,
      { code: "not_found", status },
    );
  }
  const what = target.kind === "file" ? `downloading ${target.path} from ${repo}` : `looking up ${repo}`;
  if (status === 429) {
    return new HubError(`The Hub at ${ctx.endpoint} is rate limiting requests (HTTP 429) while ${what}.${said} Wait a while, or set HF_TOKEN (authenticated requests get higher limits).`, {
      code: "http",
      status,
    });
  }
  return new HubError(`Unexpected HTTP ${status} from ${ctx.endpoint} while ${what}.${said}`, {
    code: "http",
    status,
  });
}
