// Shared store micro-benchmark: P processes (1, 2, 4, 8, 16 by default) open one store file and
// each runs `ops` rounds of Insert + Lookup on keys no other process uses, all starting at once.
// Reports, per process count: total operations per second (an operation is one Insert or one
// Lookup), mean wall and CPU ns per operation, the hit ratio, and the store's lock waits and lock
// timeouts. On a shared machine wall time measures the load; CPU time and instructions do not.
// No TLS and no Node: the store code alone (native/shared_store*.cc), built by binding.gyp as
// build/Release/store_bench. Run under callgrind with --toggle-collect=RunOps to count
// instructions per operation (tools/store-bench.sh does both and prints the table).
//
//   store_bench [--path FILE] [--size BYTES] [--slot BYTES] [--procs 1,2,4,8,16] [--ops N]
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/shared_store.h"

namespace {

using tsc::SharedStore;

// splitmix64: cheap enough that the cost measured is the store's, not the key generator's.
void KeyOf(uint64_t process, uint64_t n, unsigned char* out) {
  uint64_t x = (process << 40) ^ (n * 4 + 1);
  for (int i = 0; i < 32; i += 8) {
    uint64_t v = (x += 0x9e3779b97f4a7c15ULL);
    v = (v ^ (v >> 30)) * 0xbf58476d1ce4e5b9ULL;
    v = (v ^ (v >> 27)) * 0x94d049bb133111ebULL;
    v ^= v >> 31;
    std::memcpy(out + i, &v, 8);
  }
}

struct Result {
  uint64_t ops = 0;
  uint64_t hits = 0;
  uint64_t ns = 0;      // wall time of the loop
  uint64_t cpu_ns = 0;  // CPU time of the loop (this process): what the machine's load does not inflate
};

// The measured loop; callgrind counts instructions inside it only (--toggle-collect=RunOps).
__attribute__((noinline)) Result RunOps(SharedStore& store, uint64_t process, uint64_t rounds, uint64_t keys) {
  Result r;
  std::vector<unsigned char> der(160, 0x42);
  tsc::KeyBytes out;
  unsigned char id[32];
  const int64_t expires = static_cast<int64_t>(time(nullptr)) + 3600;
  const int64_t now = expires - 3600;
  size_t len = 0;
  for (uint64_t n = 0; n < rounds; n++) {
    KeyOf(process, n % keys, id);
    store.Insert(id, sizeof(id), der.data(), der.size(), expires);
    // A key this process inserted before (every lookup should hit).
    KeyOf(process, n < keys ? (n * 7) % (n + 1) : (n * 7) % keys, id);
    r.hits += store.Lookup(id, sizeof(id), now, &out, &len);
    r.ops += 2;
  }
  return r;
}

uint64_t NowNs(clockid_t clock = CLOCK_MONOTONIC) {
  struct timespec t;
  clock_gettime(clock, &t);
  return static_cast<uint64_t>(t.tv_sec) * 1000000000ULL + static_cast<uint64_t>(t.tv_nsec);
}

std::shared_ptr<SharedStore> Open(const std::string& path, uint64_t size, uint32_t slot) {
  tsc::StoreLocation where;
  where.path = path;
  std::string error;
  auto store = SharedStore::Open(where, size, slot, &error);
  if (!store) {
    std::fprintf(stderr, "store_bench: %s\n", error.c_str());
    std::exit(2);
  }
  return store;
}

}  // namespace

int main(int argc, char** argv) {
  std::string path = "/dev/shm/tls-resumption-store-bench-" + std::to_string(getpid());
  uint64_t size = 64ULL << 20, ops = 200000;
  uint32_t slot = 384;
  std::vector<int> procs = {1, 2, 4, 8, 16};
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--path")
      path = v;
    else if (k == "--size")
      size = std::strtoull(v.c_str(), nullptr, 10);
    else if (k == "--slot")
      slot = static_cast<uint32_t>(std::strtoul(v.c_str(), nullptr, 10));
    else if (k == "--ops")
      ops = std::strtoull(v.c_str(), nullptr, 10);
    else if (k == "--procs") {
      procs.clear();
      for (const char* p = v.c_str(); *p != '\0';) {
        char* end = nullptr;
        procs.push_back(static_cast<int>(std::strtol(p, &end, 10)));
        p = *end == ',' ? end + 1 : end;
      }
    } else {
      std::fprintf(stderr, "store_bench: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  std::printf("{\"sizeBytes\":%llu,\"slotBytes\":%u,\"roundsPerProcess\":%llu,\"runs\":[",
              static_cast<unsigned long long>(size), slot, static_cast<unsigned long long>(ops));
  for (size_t run = 0; run < procs.size(); run++) {
    const int p = procs[run];
    unlink(path.c_str());
    auto store = Open(path, size, slot);
    const tsc::SharedStoreStats before = store->Stats();
    // Each process's keys fill at most half its share of the store: every lookup can hit.
    const uint64_t keys = before.capacity / (2 * static_cast<uint64_t>(p));
    int go[2], back[2];
    if (pipe(go) != 0 || pipe(back) != 0) return 3;
    std::vector<pid_t> kids;
    for (int i = 0; i < p; i++) {
      const pid_t pid = fork();
      if (pid == 0) {
        close(go[1]);
        auto mine = Open(path, size, slot);
        char c;
        if (read(go[0], &c, 1) != 1) _exit(4);  // all start together
        const uint64_t t0 = NowNs(), c0 = NowNs(CLOCK_PROCESS_CPUTIME_ID);
        Result r = RunOps(*mine, static_cast<uint64_t>(i), ops, keys);
        r.ns = NowNs() - t0;
        r.cpu_ns = NowNs(CLOCK_PROCESS_CPUTIME_ID) - c0;
        if (write(back[1], &r, sizeof(r)) != sizeof(r)) _exit(5);
        _exit(0);
      }
      kids.push_back(pid);
    }
    close(go[0]);
    close(back[1]);
    usleep(200000);  // the children have opened the store
    const std::string start(static_cast<size_t>(p), 'g');
    if (write(go[1], start.data(), start.size()) != static_cast<ssize_t>(start.size())) return 6;
    Result total;
    uint64_t slowest = 0;
    for (int i = 0; i < p; i++) {
      Result r;
      if (read(back[0], &r, sizeof(r)) != sizeof(r)) return 7;
      total.ops += r.ops;
      total.hits += r.hits;
      total.ns += r.ns;
      total.cpu_ns += r.cpu_ns;
      if (r.ns > slowest) slowest = r.ns;
    }
    for (pid_t k : kids) waitpid(k, nullptr, 0);
    close(go[1]);
    close(back[0]);
    const tsc::SharedStoreStats after = store->Stats();
    const auto delta = [&](tsc::SharedCounter c) {
      return static_cast<unsigned long long>(after.counters[c] - before.counters[c]);
    };
    std::printf(
        "%s{\"processes\":%d,\"ops\":%llu,\"opsPerSecond\":%.0f,\"nsPerOp\":%.1f,\"cpuNsPerOp\":%.1f,\"hitRatio\":%.4f,"
        "\"lockWaits\":%llu,\"lockTimeouts\":%llu,\"stripes\":%llu}",
        run == 0 ? "" : ",", p, static_cast<unsigned long long>(total.ops),
        static_cast<double>(total.ops) * 1e9 / static_cast<double>(slowest),
        static_cast<double>(total.ns) / static_cast<double>(total.ops),
        static_cast<double>(total.cpu_ns) / static_cast<double>(total.ops),
        static_cast<double>(total.hits) / static_cast<double>(total.ops / 2), delta(tsc::layout::kLockWaits),
        delta(tsc::layout::kLockTimeouts), static_cast<unsigned long long>(after.stripes));
    std::fflush(stdout);
    store.reset();
    unlink(path.c_str());
  }
  std::printf("]}\n");
  return 0;
}
