#include "common/shared_store_napi.h"

#include <string>

namespace tsc {

std::shared_ptr<SharedStore> OpenSharedStore(const Napi::CallbackInfo& info, size_t first) {
  StoreLocation where;
  where.path = info[first].As<Napi::String>().Utf8Value();
  where.private_dir = info[first + 3].ToBoolean();
  const uint64_t total = static_cast<uint64_t>(info[first + 1].As<Napi::Number>().Int64Value());
  const uint32_t slot_bytes = info[first + 2].As<Napi::Number>().Uint32Value();
  std::string error;
  std::shared_ptr<SharedStore> store = SharedStore::Open(where, total, slot_bytes, &error);
  if (!store) throw Napi::Error::New(info.Env(), error);
  return store;
}

Napi::Object SharedStatsObject(Napi::Env env, const SharedStoreStats& s) {
  Napi::Object out = Napi::Object::New(env);
  auto put = [&](const char* name, uint64_t v) { out.Set(name, Napi::Number::New(env, static_cast<double>(v))); };
  put("entries", s.entries);
  put("capacity", s.capacity);
  put("bytesPerSession", s.bytes_per_session);
  put("maxSessionBytes", s.max_session_bytes);
  put("totalBytes", s.total_bytes);
  put("evictions", s.counters[layout::kEvictions]);
  put("expiries", s.counters[layout::kExpiries]);
  put("tooLarge", s.counters[layout::kTooLarge]);
  put("stripes", s.stripes);
  put("lockWaits", s.counters[layout::kLockWaits]);
  put("lockTimeouts", s.counters[layout::kLockTimeouts]);
  put("recoveries", s.counters[layout::kRecoveries]);
  put("corrupt", s.counters[layout::kCorrupt]);
  put("hits", s.counters[layout::kHits]);
  put("misses", s.counters[layout::kMisses]);
  put("stores", s.counters[layout::kStores]);
  put("contextMisses", s.counters[layout::kContextMisses]);
  put("reopens", s.reopens);
  out.Set("lost", Napi::Boolean::New(env, s.lost));
  put("ticketKeys", s.ticket_keys);
  return out;
}

}  // namespace tsc
