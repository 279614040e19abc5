/**
 * Repo id syntax, as huggingface_hub's validate_repo_id checks it, restricted to the two-part
 * "org/name" form (a bare "name" is too easily a local path).
 */

const PART = /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$/;
const COMMIT_SHA = /^[0-9a-f]{40}$/;

/**
 * Whether `s` has the shape of a Hub model id such as "google/gemma-3n-E2B-it".
 * Pure: it does not look at the file system; callers check `existsSync(s)` first so that an
 * existing local directory always wins.
 */
export function looksLikeRepoId(s: string): boolean {
  if (typeof s !== "string" || s.length === 0 || s.length > 96) return false;
  const parts = s.split("/");
  if (parts.length !== 2) return false;
  if (!parts.every((p) => PART.test(p))) return false;
  if (s.includes("--") || s.includes("..")) return false;
  if (s.endsWith(".git")) return false;
  return true;
}

export function isCommitSha(revision: string): boolean {
  return COMMIT_SHA.test(revision);
}

/** "models--org--name", the folder huggingface_hub uses for a model repo. */
export function repoFolderName(repoId: string): string {
  return `models--${repoId.split("/").join("--")}`;
}

/**
 * A revision becomes a file name under refs/ (e.g. "main", "v1.0", "refs/pr/1"): refuse anything
 * that could escape that folder.
 */
export function isSafeRevision(revision: string): boolean {
  if (revision.length === 0 || revision.length > 256) return false;
  if (revision.startsWith("/") || revision.includes("\\") || revision.includes("\0")) return false;
  return revision.split("/").every((seg) => seg !== "" && seg !== "." && seg !== "..");
}

/** A repo file name (rfilename) that is safe to place under snapshots/<commit>/. */
export function isSafeRepoPath(p: string): boolean {
  if (p.length === 0 || p.startsWith("/") || p.includes("\\") || p.includes("\0")) return false;
  return p.split("/").every((seg) => seg !== "" && seg !== "." && seg !== "..");
}
