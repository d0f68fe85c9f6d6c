/** 'tls-resumption/providers': the crypto back ends of the OpenSSL inside Node (providers, engines, CPU features). */

export type { CpuFeatures, EngineInfo, LoadProviderOptions, OpenSslInfo, ProviderInfo } from '../providers';
export { engines, loadProvider, opensslInfo, providers } from '../providers';
