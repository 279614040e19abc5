/**
 * The Hugging Face cache layout, exactly as Python's huggingface_hub reads and writes it:
 *
 *   <cache>/models--<org>--<name>/
 *     blobs/<etag>                 file contents, named by sha256 (LFS) or git sha1 (regular files)
 *     blobs/<etag>.incomplete      a download in progress (resumable)
 *     refs/<revision>              the commit sha the revision pointed to, no newline
 *     snapshots/<commit>/<path>    relative symlink to ../../blobs/<etag> (a copy where symlinks fail)
 */
import { copyFile, link, lstat, mkdir, readFile, readdir, stat, symlink, unlink, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { isCommitSha, repoFolderName } from "./repo-id.js";

export function storageFolder(cacheDir: string, repoId: string): string {
  return join(cacheDir, repoFolderName(repoId));
}

export function snapshotDir(storage: string, commit: string): string {
  return join(storage, "snapshots", commit);
}

export function blobPath(storage: string, etag: string): string {
  return join(storage, "blobs", etag);
}

/** A file or a symlink whose target exists. */
export async function existsFollow(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

export async function fileSize(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch {
    return undefined;
  }
}

/** The commit sha stored in refs/<revision>, if any. */
export async function readRef(storage: string, revision: string): Promise<string | undefined> {
  try {
    const sha = (await readFile(join(storage, "refs", revision), "utf8")).trim();
    return isCommitSha(sha) ? sha : undefined;
  } catch {
    return undefined;
  }
}

/** Write refs/<revision> (only when it changes, as huggingface_hub does). */
export async function writeRef(storage: string, revision: string, commit: string): Promise<void> {
  if ((await readRef(storage, revision)) === commit) return;
  const path = join(storage, "refs", revision);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, commit);
}

/**
 * Make snapshots/<commit>/<path> point at the blob: a relative symlink like huggingface_hub's
 * _create_symlink; where the file system refuses symlinks, a hard link, then a plain copy.
 */
export async function linkBlob(blob: string, pointer: string): Promise<void> {
  await mkdir(dirname(pointer), { recursive: true });
  try {
    await lstat(pointer);
    await unlink(pointer); // a dangling link or a stale copy
  } catch {
    // nothing there
  }
  try {
    await symlink(relative(dirname(pointer), blob), pointer);
    return;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST" && (await existsFollow(pointer))) return; // raced
  }
  try {
    await link(blob, pointer);
  } catch {
    await copyFile(blob, pointer);
  }
}

/** Files under a snapshot folder (relative, "/"-separated), counting only links that resolve. */
export async function listSnapshotFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(sub: string): Promise<void> {
    let entries;
    try {
      entries = await readdir(join(dir, sub), { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const rel = sub ? `${sub}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(rel);
      else if (await existsFollow(join(dir, rel))) out.push(rel);
    }
  }
  await walk("");
  return out.sort();
}

export interface SnapshotStatus {
  complete: boolean;
  /** What the snapshot lacks, in words ("config.json", "model-00002-of-00003.safetensors", ...). */
  missing: string[];
  present: string[];
}

/**
 * Whether a cached snapshot holds everything `include` wants, without asking the Hub for the file
 * list. The repo listing is not in the cache, so this checks what a usable model needs:
 *  - at least one wanted file;
 *  - config.json, if wanted (a GGUF-only snapshot needs none);
 *  - every shard named by a wanted *.safetensors.index.json;
 *  - some weights (*.safetensors / *.gguf), if the filter wants weights.
 * resolveModelDir downloads config.json last, so an interrupted download of ours never looks complete.
 */
export async function snapshotStatus(dir: string, include: (f: string) => boolean): Promise<SnapshotStatus> {
  const present = (await listSnapshotFiles(dir)).filter((f) => include(f));
  const have = new Set(present);
  const missing: string[] = [];
  if (present.length === 0) return { complete: false, missing: ["every wanted file"], present };

  const hasSafetensors = present.some((f) => f.endsWith(".safetensors"));
  const hasGguf = present.some((f) => f.endsWith(".gguf"));
  if (include("config.json") && !have.has("config.json") && !(hasGguf && !hasSafetensors)) {
    missing.push("config.json");
  }
  for (const index of present.filter((f) => f.endsWith(".safetensors.index.json"))) {
    try {
      const json = JSON.parse(await readFile(join(dir, index), "utf8")) as { weight_map?: Record<string, string> };
      const base = index.includes("/") ? index.slice(0, index.lastIndexOf("/") + 1) : "";
      const shards = new Set(Object.values(json.weight_map ?? {}).map((s) => base + s));
      for (const shard of shards) if (include(shard) && !have.has(shard)) missing.push(shard);
    } catch {
      missing.push(`${index} (unreadable)`);
    }
  }
  if ((include("model.safetensors") || include("model.gguf")) && !hasSafetensors && !hasGguf) {
    missing.push("weights (*.safetensors)");
  }
  return { complete: missing.length === 0, missing, present };
}
