/** 'tls-resumption/probe': what a remote TLS server resumes, measured from the client side. */

export type {
  CrossAttempt,
  FleetMechanism,
  FleetPair,
  FleetProbeReport,
  ProbeEndpoint,
  ProbeOptions,
  ProbeReport,
  ProtocolProbe,
  ResumptionResult,
  Tls12Probe,
  Tls13Probe,
} from '../ops/probe';
export { probe, probeFleet } from '../ops/probe';
