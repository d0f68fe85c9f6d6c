// One load phase over a population: worker threads (the concurrency) pick clients and run
// connections, closed-loop (next connection as soon as one ends) or open-loop (connections
// started at a fixed rate), for a duration or a number of connections. Owns the counters and
// latency samples of the phase and cuts them into one-second snapshots.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "population.h"

namespace tsc::loadgen {

struct PhaseConfig {
  uint32_t durationMs = 5000;  // 0: until `connections` were made
  uint32_t concurrency = 8;    // threads, each with at most one connection in flight
  double rate = 0;             // open-loop connections per second; 0: closed loop
  uint64_t connections = 0;    // stop after this many connections; 0: no limit
  bool sweep = false;          // each client connects once, in order (warm-up)
  uint32_t timeoutMs = 5000;   // per socket operation
};

struct KindCounters {
  uint64_t handshakes = 0;  // completed handshakes
  uint64_t offered = 0;
  uint64_t resumed = 0;
};

struct Counters {
  uint64_t handshakes = 0;  // completed handshakes (the request may still have failed)
  uint64_t full = 0;
  uint64_t resumed = 0;
  uint64_t offered = 0;    // connections that offered a session
  uint64_t completed = 0;  // connections that finished the request and read to close
  uint64_t failures = 0;
  std::map<std::string, uint64_t> failureReasons;
  KindCounters kinds[kKindCount];
  KindCounters tls12, tls13;
  std::vector<float> latencyMicros;  // handshake latency of completed handshakes
};

struct Snapshot {
  double elapsedMs = 0;  // since the phase started, at the end of this interval
  double intervalMs = 0;
  Counters counters;
  double p50 = 0, p90 = 0, p99 = 0;  // handshake latency, microseconds
};

// Percentile (0..100) of `samples` (reordered in place); 0 when empty.
double Percentile(std::vector<float>& samples, double p);

// Runs the phase on the calling thread plus `concurrency` workers; `onSecond` gets a snapshot
// per second (called on the calling thread). Returns the totals.
Snapshot RunPhase(Population& population, const PhaseConfig& config, const std::function<void(Snapshot&&)>& onSecond);

}  // namespace tsc::loadgen
