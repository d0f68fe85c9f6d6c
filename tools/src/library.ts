/**
 * The library as the tools use it: the compiled package of this repository (../../dist, built by
 * the root's `tsc -p tsconfig.json`), never a second compilation of its sources. The same
 * relative path holds from tools/src/ (type-checking, tests) and tools/dist/ (running). Pieces
 * that are not on the public entry (the test certificate, store paths, the option checks) come
 * from their own modules; nothing here is re-exported to users.
 */

export { sharedStorePath } from '../../dist/common/shared-store';
export {
  checkKeys,
  expectKind,
  expectOneOf,
  expectRange,
  optionalNumber,
  optionalString,
  rangeError,
  typeError,
} from '../../dist/common/validate';
export type { ClientSessionCache, RedisClientLike } from '../../dist/index';
export { attach, CacheMode, clientSessions, SessionCache, TicketKeyRing } from '../../dist/index';
export type { SelfSignedCertificate } from '../../dist/ops/certificate';
export { selfSignedCertificate } from '../../dist/ops/certificate';
