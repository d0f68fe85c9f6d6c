/**
 * TicketKeyRing and its public types. The ring is split by concern:
 * - types.ts: the option and stat types of the public API;
 * - options.ts: each public call's option checks, resolved before anything changes;
 * - key-formats.ts: Node, nginx and HAProxy key layouts and key files, to the native ring's order;
 * - ring.ts: the class (native handle, key bookkeeping, list/stats/add/remove, attached users,
 *   the rotation timer), which calls its mode through mode.ts's interface;
 * - generated-keys.ts, secret-epochs.ts, redis-fleet.ts: the modes of `generate()`,
 *   `fromSecret()` and `fromRedis()`.
 */

export type { KeyRemovedReason, RingModeName } from './mode';
export { TicketKeyRing } from './ring';
export type {
  AddKeyFileOptions,
  AddKeyOptions,
  AddSecretOptions,
  RedisTicketKeyRingOptions,
  TicketKeyCounters,
  TicketKeyFormat,
  TicketKeyInfo,
  TicketKeyRingOptions,
  TicketKeyRole,
  TicketRingStats,
} from './types';
