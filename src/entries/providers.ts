/** 'tls-resumption/providers': the crypto back ends of the OpenSSL inside Node (providers, engines, CPU features) and where a server's key lives (memory, a PKCS#11 token). */

export type {
  CpuFeatures,
  EngineInfo,
  EngineKeyOptions,
  KeySource,
  LoadProviderOptions,
  OpenSslInfo,
  PinSource,
  ProviderInfo,
} from '../ops/providers';
export { engines, keySource, loadEngineKey, loadProvider, opensslInfo, providers, redactKeyIdentifier } from '../ops/providers';
