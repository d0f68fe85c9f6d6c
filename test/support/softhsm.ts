/**
 * SoftHSM2 tokens for the hardware-key tests: the benchmark's token helper, one implementation
 * for both. A machine without the Debian packages fails these tests with the apt-get line that
 * fixes it (scripts/ensure-test-deps.js installs them for `npm test`).
 */
export { PKCS11_ENGINE, PKCS11_SPY, SOFTHSM_MODULE, ENGINES_DIR, countPkcs11Calls, createSoftToken, softTokenUnavailable, spyEnv } from '../../src/bench/softhsm';
export type { SoftToken } from '../../src/bench/softhsm';
