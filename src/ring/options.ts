/**
 * The ring's own options (`rotateEverySeconds`, `keepKeys`, `now`): defaults and validation, a
 * TypeError / RangeError naming the field before anything native is touched.
 */
import { checkKeys, expectKind, expectRange } from '../options';

export interface ResolvedRingOptions {
  rotateEverySeconds: number;
  keepKeys: number;
  now: () => number;
}

/** Longest delay setTimeout accepts; longer waits are re-armed. */
export const MAX_TIMER_MS = 0x7fffffff;
export const SECRET_MIN = 32;
export const SECRET_MAX = 64;

export function resolveRingOptions(options: unknown): ResolvedRingOptions {
  const o = (options ?? {}) as Record<string, unknown>;
  if (options !== undefined) {
    expectKind('options', options, 'object');
    checkKeys('options', o, ['rotateEverySeconds', 'keepKeys', 'now']);
  }
  let rotateEverySeconds = 3600;
  if (o.rotateEverySeconds !== undefined) {
    const v = o.rotateEverySeconds;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new TypeError(`Option "rotateEverySeconds" must be a finite number, got ${typeof v === 'number' ? v : typeof v}.`);
    }
    expectRange('rotateEverySeconds', v, 0.1, 0x7fffffff, 'seconds');
    rotateEverySeconds = v;
  }
  let keepKeys = 12;
  if (o.keepKeys !== undefined) {
    expectKind('keepKeys', o.keepKeys, 'integer');
    expectRange('keepKeys', o.keepKeys as number, 1, 1024, 'keys');
    keepKeys = o.keepKeys as number;
  }
  let now: () => number = Date.now;
  if (o.now !== undefined) {
    if (typeof o.now !== 'function') throw new TypeError(`Option "now" must be a function returning milliseconds, got ${typeof o.now}.`);
    now = o.now as () => number;
  }
  return { rotateEverySeconds, keepKeys, now };
}
