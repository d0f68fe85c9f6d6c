/**
 * What a benchmark run measures: scenarios (how the servers run) and the phases measured on
 * each server. Adding a variant to a scenario is adding its name to `variants`.
 */
import type { VariantName } from './variants';

/**
 * A measured phase. Each uses its own client population so its CPU figure is clean:
 * - `full`: `fresh` clients only: every handshake is full.
 * - `resumedTls12` / `resumedTls13`: `reuse` clients after a warm-up that gave each a session.
 * - `mix`: the configured population (`--kinds`, `--tls13`) after a warm-up: the resumption
 *   ratio and handshakes/s a realistic client mix gets.
 */
export type PhaseName = 'full' | 'resumedTls12' | 'resumedTls13' | 'mix';
export const PHASES: readonly PhaseName[] = ['full', 'resumedTls12', 'resumedTls13', 'mix'];

export interface Scenario {
  label: string;
  /** Cluster workers; 0 = single process. */
  workers: number;
  variants: VariantName[];
  phases: PhaseName[];
  /** Rotate ticket keys (variant's way) at this fraction of the `mix` phase (rounded to a whole second). */
  rotateAt?: number;
  /**
   * Population size as a multiple of `--clients`. Rotation needs many clients per connection
   * made, as in production, or every client is back on a new ticket a moment later. Default: 1.
   */
  clientsScale?: number;
  /** Also run the nginx/HAProxy anchors in this scenario when installed. */
  anchors?: boolean;
}

export const SCENARIOS = {
  single: {
    label: 'single process',
    workers: 0,
    variants: ['stock', 'jsCache', 'attach'],
    phases: ['full', 'resumedTls12', 'resumedTls13', 'mix'],
    anchors: true,
  },
  cluster: {
    label: 'cluster, 2 workers',
    workers: 2,
    // The shared store goes here as 'shared' once it exists.
    variants: ['stock', 'jsCache', 'attach'],
    phases: ['full', 'resumedTls12', 'resumedTls13', 'mix'],
  },
  rotation: {
    label: 'ticket key rotation mid-run',
    workers: 0,
    // The ticket ring goes here as 'ring' once it exists.
    variants: ['stock', 'jsCache', 'attach'],
    phases: ['mix'],
    rotateAt: 0.5,
    clientsScale: 10,
  },
} satisfies Record<string, Scenario>;

export type ScenarioName = keyof typeof SCENARIOS;
