/**
 * SoftHSM2 tokens for the hardware-key tests: the benchmark's token helper, one implementation
 * for both. A machine without the Debian packages fails these tests with the apt-get line that
 * fixes it (scripts/ensure-test-deps.js installs them for `npm test`).
 */

export type { SoftToken } from '../../tools/src/bench/softhsm';
export {
  countPkcs11Calls,
  createSoftToken,
  ENGINES_DIR,
  PKCS11_ENGINE,
  PKCS11_SPY,
  SOFTHSM_MODULE,
  softTokenUnavailable,
  spyEnv,
} from '../../tools/src/bench/softhsm';
