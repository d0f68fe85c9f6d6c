/**
 * The load generator in a process of its own: a forked runner (runner.ts) holds the client
 * populations; this side sends it phases over IPC and gets per-second figures and totals back.
 */
import { type ChildProcess, fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { LoadReport, PhaseOptions, PopulationOptions } from './population';

/** @internal IPC request to the runner. */
export type RunnerRequest =
  | { id: number; op: 'populate'; name: string; options: PopulationOptions }
  | { id: number; op: 'run'; name: string; phase: PhaseOptions }
  | { id: number; op: 'forget'; name: string }
  | { id: number; op: 'drop'; name: string }
  | { id: number; op: 'close' };

/** @internal IPC reply from the runner. */
export type RunnerReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: string }
  | { id: number; second: LoadReport };

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

/** Path of the compiled runner (also when this module runs from TypeScript sources in tests). */
export function runnerPath(): string {
  const here = path.join(__dirname, 'runner.js');
  if (fs.existsSync(here)) return here;
  return path.join(__dirname, '..', '..', 'dist', 'loadgen', 'runner.js');
}

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
  onSecond?: (s: LoadReport) => void;
}

/** A forked load-generator process. Call `close()` when done. */
export class LoadgenProcess {
  readonly child: ChildProcess;
  #next = 1;
  #pending = new Map<number, Pending>();
  #exited: Error | undefined;

  constructor() {
    this.child = fork(runnerPath(), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
    this.child.on('message', (m: RunnerReply) => {
      const p = this.#pending.get(m.id);
      if (!p) return;
      if ('second' in m) {
        p.onSecond?.(m.second);
        return;
      }
      this.#pending.delete(m.id);
      if (m.ok) p.resolve(m.value);
      else p.reject(new Error(`loadgen: ${m.error}`));
    });
    this.child.on('exit', (code, signal) => {
      this.#exited = new Error(`loadgen process exited (${signal ?? code})`);
      for (const p of this.#pending.values()) p.reject(this.#exited);
      this.#pending.clear();
    });
  }

  /** The runner's process id. */
  get pid(): number {
    return this.child.pid ?? -1;
  }

  #call(req: DistributiveOmit<RunnerRequest, 'id'>, onSecond?: (s: LoadReport) => void): Promise<unknown> {
    if (this.#exited) return Promise.reject(this.#exited);
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, onSecond });
      this.child.send({ ...req, id } as RunnerRequest);
    });
  }

  /** Creates (or replaces) the population `name` in the runner. */
  async populate(
    name: string,
    options: PopulationOptions,
  ): Promise<{ clients: number; kinds: Record<string, number>; tls13: number; withSession: number }> {
    return (await this.#call({ op: 'populate', name, options })) as {
      clients: number;
      kinds: Record<string, number>;
      tls13: number;
      withSession: number;
    };
  }

  /** Runs a phase on population `name`. */
  async run(name: string, phase: PhaseOptions, onSecond?: (s: LoadReport) => void): Promise<LoadReport> {
    return (await this.#call({ op: 'run', name, phase }, onSecond)) as LoadReport;
  }

  /** Drops the sessions of every client in `name`. */
  async forget(name: string): Promise<void> {
    await this.#call({ op: 'forget', name });
  }

  /** Frees population `name`. */
  async drop(name: string): Promise<void> {
    await this.#call({ op: 'drop', name });
  }

  /** Ends the runner and waits for it to exit. */
  async close(): Promise<void> {
    if (this.#exited || this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    try {
      this.child.disconnect();
    } catch {
      this.child.kill('SIGKILL');
    }
    await exited;
    clearTimeout(timer);
  }
}
