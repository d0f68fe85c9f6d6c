/**
 * Bad inputs the tests try, with the error each gets. Every call asserts; when BAD_INPUT_LOG
 * names a file, it also appends what it saw there, and `npm run docs:bad-inputs` turns that log
 * into the README's table, so the table is exactly what the tests observed.
 */
import * as fs from 'node:fs';

import { ErrorCodes } from '../../src/common/validate';

export type Area = 'option' | 'key file' | 'key ring' | 'fleet option' | 'store file' | 'store option' | 'Redis value' | 'target';

function record(area: Area, input: string, outcome: string): void {
  const log = process.env.BAD_INPUT_LOG;
  if (log) fs.appendFileSync(log, `${JSON.stringify({ area, input, outcome })}\n`);
}

/** Asserts that `fn` throws `type` with `message` and one of the documented codes, and records the exact error. */
export function expectBadInput(
  area: Area,
  input: string,
  fn: () => unknown,
  type: new (...args: never[]) => Error,
  message: RegExp | string,
): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  // Errors the addon throws come from Node's own realm, not jest's sandbox: compare by name.
  const name = (caught as Error | undefined)?.name;
  expect(type === Error ? typeof name : name).toBe(type === Error ? 'string' : type.name);
  expect((caught as Error).message).toMatch(message);
  // Every refusal carries a stable code to branch on (src/common/validate.ts ErrorCodes), Node style.
  expect(Object.values(ErrorCodes)).toContain((caught as { code?: unknown }).code);
  record(area, input, `${(caught as Error).constructor.name}: ${(caught as Error).message}`);
}

/** Records a bad input that is not an exception (a garbage Redis value, a corrupt store entry). */
export function recordBadInput(area: Area, input: string, outcome: string): void {
  record(area, input, outcome);
}
