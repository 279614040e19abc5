/**
 * Settings read from the environment, with the same names, precedence and parsing as Python's
 * huggingface_hub (constants.py), so that a machine set up for one is set up for the other.
 * Everything is read at call time, never at import time.
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export const DEFAULT_ENDPOINT = "https://huggingface.co";

type Env = Record<string, string | undefined>;

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === "" ? undefined : v;
}

function expandHome(p: string): string {
  if (p === "~") return homedir();
  if (p.startsWith("~/")) return join(homedir(), p.slice(2));
  return p;
}

/** HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface. */
export function hfHome(env: Env = process.env): string {
  const home = nonEmpty(env.HF_HOME);
  if (home) return expandHome(home);
  const xdg = nonEmpty(env.XDG_CACHE_HOME);
  return join(xdg ? expandHome(xdg) : join(homedir(), ".cache"), "huggingface");
}

/** HF_HUB_CACHE, else the legacy HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub. */
export function defaultCacheDir(env: Env = process.env): string {
  const dir = nonEmpty(env.HF_HUB_CACHE) ?? nonEmpty(env.HUGGINGFACE_HUB_CACHE);
  return dir ? expandHome(dir) : join(hfHome(env), "hub");
}

/** HF_ENDPOINT without trailing slashes, else https://huggingface.co. */
export function defaultEndpoint(env: Env = process.env): string {
  return (env.HF_ENDPOINT ?? "").trim().replace(/\/+$/, "") || DEFAULT_ENDPOINT;
}

/**
 * HF_TOKEN, else HUGGING_FACE_HUB_TOKEN, else the token file written by `hf auth login`
 * (HF_TOKEN_PATH, default $HF_HOME/token). Undefined when none is set.
 */
export function defaultToken(env: Env = process.env): string | undefined {
  const fromEnv = nonEmpty(env.HF_TOKEN) ?? nonEmpty(env.HUGGING_FACE_HUB_TOKEN);
  if (fromEnv) return fromEnv.trim();
  const path = nonEmpty(env.HF_TOKEN_PATH) ? expandHome(env.HF_TOKEN_PATH as string) : join(hfHome(env), "token");
  try {
    const t = readFileSync(path, "utf8").trim();
    return t === "" ? undefined : t;
  } catch {
    return undefined;
  }
}

function isTrue(v: string | undefined): boolean {
  return v !== undefined && ["1", "ON", "YES", "TRUE"].includes(v.trim().toUpperCase());
}

/** HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) set to 1/ON/YES/TRUE. */
export function defaultOffline(env: Env = process.env): boolean {
  return isTrue(nonEmpty(env.HF_HUB_OFFLINE) ?? env.TRANSFORMERS_OFFLINE);
}

function seconds(v: string | undefined, fallback: number): number {
  const n = v === undefined ? NaN : Number(v);
  return Number.isFinite(n) && n > 0 ? n * 1000 : fallback;
}

/** Timeout for metadata requests (API, HEAD), HF_HUB_ETAG_TIMEOUT seconds, default 10 s. */
export function defaultMetadataTimeoutMs(env: Env = process.env): number {
  return seconds(env.HF_HUB_ETAG_TIMEOUT, 10_000);
}

/** Stall timeout for downloads (no byte for this long), HF_HUB_DOWNLOAD_TIMEOUT seconds, default 10 s. */
export function defaultDownloadTimeoutMs(env: Env = process.env): number {
  return seconds(env.HF_HUB_DOWNLOAD_TIMEOUT, 10_000);
}
