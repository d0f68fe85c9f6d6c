/**
 * What a benchmark run measures: scenarios (how the servers run) and the phases measured on
 * each server. Adding a variant to a scenario is adding its name to `variants`.
 */
import type { VariantName } from './variants';

/**
 * A measured phase. Each uses its own client population so its CPU figure is clean:
 * - `full`: `fresh` clients only: every handshake is full.
 * - `resumedTls12` / `resumedTls13`: `reuse` clients after a warm-up that gave each a session.
 * - `onceTls13`: `once` clients on TLS 1.3 after a warm-up (each offers every ticket once, as
 *   browsers do): the resumption ratio single-use clients get (stock Node: about half).
 * - `mix`: the configured population (`--kinds`, `--tls13`) after a warm-up: the resumption
 *   ratio and handshakes/s a realistic client mix gets.
 */
export type PhaseName = 'full' | 'resumedTls12' | 'resumedTls13' | 'onceTls13' | 'mix';
export const PHASES: readonly PhaseName[] = ['full', 'resumedTls12', 'resumedTls13', 'onceTls13', 'mix'];

export interface Scenario {
  label: string;
  /** Cluster workers; 0 = single process. */
  workers: number;
  /**
   * Separate server processes of each variant, each on its own port (a fleet behind a load
   * balancer); the clients are placed at random on all ports. Default: 1.
   */
  processes?: number;
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
    variants: ['stock', 'jsCache', 'attach', 'ring'],
    phases: ['full', 'resumedTls12', 'resumedTls13', 'onceTls13', 'mix'],
    anchors: true,
  },
  cluster: {
    label: 'cluster, 2 workers',
    workers: 2,
    variants: ['stock', 'jsCache', 'attach', 'shared'],
    phases: ['full', 'resumedTls12', 'resumedTls13', 'mix'],
  },
  fleet: {
    label: 'fleet, 2 processes',
    workers: 0,
    processes: 2,
    variants: ['stock', 'jsCache', 'fleet', 'ringSecret'],
    phases: ['full', 'resumedTls12', 'resumedTls13', 'onceTls13', 'mix'],
  },
  rotation: {
    label: 'ticket key rotation mid-run',
    workers: 0,
    variants: ['stock', 'jsCache', 'attach', 'ring'],
    phases: ['mix'],
    rotateAt: 0.5,
    clientsScale: 10,
  },
} satisfies Record<string, Scenario>;

export type ScenarioName = keyof typeof SCENARIOS;
