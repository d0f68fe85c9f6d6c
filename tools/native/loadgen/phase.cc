// Scheduling of a load phase and the bookkeeping of its results.
#include "phase.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

#include "connection.h"

namespace tsc::loadgen {
namespace {

using Clock = std::chrono::steady_clock;

void Add(Counters& c, const Client& client, const ConnectionResult& r) {
  if (r.offered) c.offered++;
  const bool handshook = r.ok || r.failure.rfind("response", 0) == 0 || r.failure.rfind("write", 0) == 0;
  if (handshook) {
    c.handshakes++;
    (r.resumed ? c.resumed : c.full)++;
    c.latencyMicros.push_back(static_cast<float>(r.handshakeMicros));
    KindCounters& k = c.kinds[static_cast<int>(client.kind)];
    KindCounters& v = client.tls13 ? c.tls13 : c.tls12;
    for (KindCounters* kc : {&k, &v}) {
      kc->handshakes++;
      if (r.offered) kc->offered++;
      if (r.resumed) kc->resumed++;
    }
  }
  if (r.ok) {
    c.completed++;
  } else {
    c.failures++;
    c.failureReasons[r.failure]++;
  }
}

void Merge(Counters& into, Counters& from) {
  into.handshakes += from.handshakes;
  into.full += from.full;
  into.resumed += from.resumed;
  into.offered += from.offered;
  into.completed += from.completed;
  into.failures += from.failures;
  for (auto& [reason, n] : from.failureReasons) into.failureReasons[reason] += n;
  for (int i = 0; i < kKindCount; i++) {
    into.kinds[i].handshakes += from.kinds[i].handshakes;
    into.kinds[i].offered += from.kinds[i].offered;
    into.kinds[i].resumed += from.kinds[i].resumed;
  }
  for (auto [a, b] : {std::pair{&into.tls12, &from.tls12}, std::pair{&into.tls13, &from.tls13}}) {
    a->handshakes += b->handshakes;
    a->offered += b->offered;
    a->resumed += b->resumed;
  }
  into.latencyMicros.insert(into.latencyMicros.end(), from.latencyMicros.begin(), from.latencyMicros.end());
}

void FillPercentiles(Snapshot& s) {
  std::vector<float> copy = s.counters.latencyMicros;
  s.p50 = Percentile(copy, 50);
  s.p90 = Percentile(copy, 90);
  s.p99 = Percentile(copy, 99);
}

}  // namespace

double Percentile(std::vector<float>& samples, double p) {
  if (samples.empty()) return 0;
  const size_t rank =
      std::min(samples.size() - 1, static_cast<size_t>(p / 100.0 * static_cast<double>(samples.size())));
  std::nth_element(samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(rank), samples.end());
  return samples[rank];
}

Snapshot RunPhase(Population& population, const PhaseConfig& config, const std::function<void(Snapshot&&)>& onSecond) {
  const size_t n = population.size();
  const Clock::time_point start = Clock::now();
  const bool timed = config.durationMs > 0;
  const Clock::time_point deadline = start + std::chrono::milliseconds(config.durationMs);
  const uint64_t limit = config.sweep ? n : config.connections;

  std::atomic<uint64_t> nextIndex{0};
  std::mutex statsMutex;
  Counters bucket;  // the current second
  Counters total;
  std::atomic<uint32_t> running{config.concurrency};
  std::mutex doneMutex;
  std::condition_variable doneCv;

  auto worker = [&](uint32_t id) {
    std::mt19937_64 rng(population.config().seed * 7919 + id + 1);
    std::uniform_int_distribution<size_t> pick(0, n - 1);
    for (;;) {
      const uint64_t index = nextIndex.fetch_add(1);
      if (limit > 0 && index >= limit) break;
      if (config.rate > 0) {
        const auto due = start + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(static_cast<double>(index) / config.rate));
        if (timed && due >= deadline) break;
        std::this_thread::sleep_until(due);
      }
      if (timed && Clock::now() >= deadline) break;

      // A client holds one connection at a time: try a few random idle clients, then wait for one.
      Client* client = nullptr;
      std::unique_lock<std::mutex> lock;
      if (config.sweep) {
        client = &population.client(index);
        lock = std::unique_lock<std::mutex>(client->mutex);
      } else {
        for (int attempt = 0; attempt < 8 && !client; attempt++) {
          Client& c = population.client(pick(rng));
          std::unique_lock<std::mutex> l(c.mutex, std::try_to_lock);
          if (l.owns_lock()) {
            client = &c;
            lock = std::move(l);
          }
        }
        if (!client) {
          client = &population.client(pick(rng));
          lock = std::unique_lock<std::mutex>(client->mutex);
        }
      }
      ConnectionResult r = RunConnection(population, *client, static_cast<int>(config.timeoutMs));
      lock.unlock();
      std::lock_guard<std::mutex> g(statsMutex);
      Add(bucket, *client, r);
    }
    if (running.fetch_sub(1) == 1) {
      std::lock_guard<std::mutex> g(doneMutex);
      doneCv.notify_all();
    }
  };

  std::vector<std::thread> threads;
  threads.reserve(config.concurrency);
  for (uint32_t i = 0; i < config.concurrency; i++) threads.emplace_back(worker, i);

  Clock::time_point last = start;
  for (int second = 1;; second++) {
    bool finished;
    {
      std::unique_lock<std::mutex> l(doneMutex);
      finished = doneCv.wait_until(l, start + std::chrono::seconds(second), [&] { return running.load() == 0; });
    }
    Snapshot snap;
    const Clock::time_point now = Clock::now();
    {
      std::lock_guard<std::mutex> g(statsMutex);
      snap.counters = std::move(bucket);
      bucket = Counters();
    }
    snap.elapsedMs = std::chrono::duration<double, std::milli>(now - start).count();
    snap.intervalMs = std::chrono::duration<double, std::milli>(now - last).count();
    last = now;
    FillPercentiles(snap);
    Counters copy = snap.counters;
    Merge(total, copy);
    if (snap.counters.handshakes + snap.counters.failures > 0 || !finished) onSecond(std::move(snap));
    if (finished) break;
  }
  for (auto& t : threads) t.join();

  Snapshot result;
  result.elapsedMs = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  result.intervalMs = result.elapsedMs;
  result.counters = std::move(total);
  FillPercentiles(result);
  return result;
}

}  // namespace tsc::loadgen
