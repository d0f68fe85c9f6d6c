// Micro-benchmark of the shared store (tools/scripts/bench-shared.ts): times Insert and Lookup on
// a store filled to a given number of entries, with synthetic session bytes, no TLS involved. A
// module of its own (tls_resumption_store_bench.node) that links native/common/shared_store.cc, so the
// library's addon carries no benchmark code.
#include <napi.h>

#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "../../native/common/shared_store.h"

namespace tsc {
namespace {

// _benchSharedStore(path, sizeBytes, slotBytes, entries, ops) ->
//   { capacity, fillNsPerInsert, lookupNs, insertNs, hitRatio }
Napi::Value BenchSharedStore(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  const uint64_t total = static_cast<uint64_t>(info[1].As<Napi::Number>().Int64Value());
  const uint32_t slot_bytes = info[2].As<Napi::Number>().Uint32Value();
  const uint64_t entries = static_cast<uint64_t>(info[3].As<Napi::Number>().Int64Value());
  const uint64_t ops = static_cast<uint64_t>(info[4].As<Napi::Number>().Int64Value());
  std::string error;
  if (entries == 0) throw Napi::RangeError::New(env, "_benchSharedStore: entries must be at least 1");
  StoreLocation where;
  where.path = path;
  auto store = SharedStore::Open(where, total, slot_bytes, &error);
  if (!store) throw Napi::Error::New(env, error);
  std::mt19937_64 rng(42);
  // splitmix64: cheap enough that the timing is the store's, not the ID generator's.
  auto id_of = [](uint64_t n, unsigned char* out) {
    uint64_t x = n * 4 + 1;
    for (int i = 0; i < 32; i += 8) {
      uint64_t v = (x += 0x9e3779b97f4a7c15ULL);
      v = (v ^ (v >> 30)) * 0xbf58476d1ce4e5b9ULL;
      v = (v ^ (v >> 27)) * 0x94d049bb133111ebULL;
      v ^= v >> 31;
      for (int j = 0; j < 8; j++) out[i + j] = static_cast<unsigned char>(v >> (8 * j));
    }
  };
  std::vector<unsigned char> der(150, 0x42);
  unsigned char id[32];
  const int64_t expires = static_cast<int64_t>(time(nullptr)) + 3600;
  using clock = std::chrono::steady_clock;
  auto t0 = clock::now();
  for (uint64_t n = 0; n < entries; n++) {
    id_of(n, id);
    store->Insert(id, 32, der.data(), der.size(), expires);
  }
  auto t1 = clock::now();
  tsc::KeyBytes out;
  uint64_t hits = 0;
  const int64_t now = static_cast<int64_t>(time(nullptr));
  for (uint64_t i = 0; i < ops; i++) {
    id_of(rng() % entries, id);
    size_t len = 0;
    hits += store->Lookup(id, 32, now, &out, &len);
  }
  auto t2 = clock::now();
  for (uint64_t i = 0; i < ops; i++) {
    id_of(entries + i, id);
    store->Insert(id, 32, der.data(), der.size(), expires);
  }
  auto t3 = clock::now();
  auto ns = [](clock::duration d, uint64_t n) {
    return n == 0 ? 0.0 : std::chrono::duration<double, std::nano>(d).count() / static_cast<double>(n);
  };
  SharedStoreStats stats = store->Stats();
  Napi::Object result = Napi::Object::New(env);
  result.Set("capacity", Napi::Number::New(env, static_cast<double>(stats.capacity)));
  result.Set("entries", Napi::Number::New(env, static_cast<double>(stats.entries)));
  result.Set("fillNsPerInsert", Napi::Number::New(env, ns(t1 - t0, entries)));
  result.Set("lookupNs", Napi::Number::New(env, ns(t2 - t1, ops)));
  result.Set("insertNs", Napi::Number::New(env, ns(t3 - t2, ops)));
  result.Set("hitRatio", Napi::Number::New(env, ops == 0 ? 0.0 : static_cast<double>(hits) / static_cast<double>(ops)));
  return result;
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("benchSharedStore", Napi::Function::New(env, BenchSharedStore, "benchSharedStore"));
  return exports;
}

}  // namespace tsc

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return tsc::Init(env, exports); }

NODE_API_MODULE(tls_resumption_store_bench, InitModule)
