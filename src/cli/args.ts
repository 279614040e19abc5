// Parsing and checking of CLI option values, with messages that name the option.
import { InputError } from "../errors.js";

export function parseIds(s: string, option = "--ids"): number[] {
  const parts = s.split(/[\s,]+/).filter(Boolean);
  if (parts.length === 0) throw new InputError(`${option} is empty; give comma-separated token ids like 2,105,2364`);
  return parts.map((p) => {
    if (!/^\d+$/.test(p)) throw new InputError(`${option}: "${p}" is not a token id (non-negative integer)`);
    const n = Number(p);
    if (!Number.isSafeInteger(n)) throw new InputError(`${option}: ${p} is too large`);
    return n;
  });
}

/** Accumulates a repeatable option's values. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function intOption(option: string, min = 0) {
  return (s: string): number => {
    if (!/^-?\d+$/.test(s.trim()) || Number(s) < min) throw new InputError(`${option} must be an integer ≥ ${min}, got "${s}"`);
    return Number(s);
  };
}

export function numOption(option: string) {
  return (s: string): number => {
    const n = Number(s);
    if (s.trim() === "" || !Number.isFinite(n)) throw new InputError(`${option} must be a number, got "${s}"`);
    return n;
  };
}
