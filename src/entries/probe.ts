/** 'tls-resumption/probe': what a remote TLS server resumes, measured from the client side. */

export type { ProbeOptions, ProbeReport, ProtocolProbe, ResumptionResult, Tls12Probe, Tls13Probe } from '../ops/probe';
export { probe } from '../ops/probe';
