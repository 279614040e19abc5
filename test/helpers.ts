// Paths shared by the tests. Compiled tests live in dist/test, fixtures stay in test/fixtures.
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { existsSync } from "node:fs";

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = join(here, "..", "..");
export const fixture = (...parts: string[]): string => join(repoRoot, "test", "fixtures", ...parts);
/** The workplace's shared/ folder beside the checkout, when present (CI has a copy). */
export const shared = (...parts: string[]): string => join(repoRoot, "..", "shared", ...parts);
export const hasShared = (...parts: string[]): boolean => existsSync(shared(...parts));
export const tinyModelDir = fixture("hf-tiny", "model");
