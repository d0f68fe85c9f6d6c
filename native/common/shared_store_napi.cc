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

namespace {

// The fields of SharedStoreStats (src/common/stats.ts) the addon fills, in order; that file
// compares this list with its own at load (`path` is added in JavaScript).
struct SharedStatField {
  const char* name;
  Napi::Value (*read)(Napi::Env, const SharedStoreStats&);
};

template <typename T>
Napi::Value Num(Napi::Env env, T v) {
  return Napi::Number::New(env, static_cast<double>(v));
}

const SharedStatField kSharedStatFields[] = {
    {"entries", [](Napi::Env e, const SharedStoreStats& s) { return Num(e, s.entries); }},
    {"capacity", [](Napi::Env e, const SharedStoreStats& s) { return Num(e, s.capacity); }},
    {"bytesPerSession", [](Napi::Env e, const SharedStoreStats& s) { return Num(e, s.bytes_per_session); }},
    {"maxSessionBytes", [](Napi::Env e, const SharedStoreStats& s) { return Num(e, s.max_session_bytes); }},
    {"totalBytes", [](Napi::Env e, const SharedStoreStats& s) { return Num(e, s.total_bytes); }},
    {"evictions", [](Napi::Env e, const SharedStoreStats& s) { return Num(e, s.counters[layout::kEvictions]); }},
    {"expiries", [](Napi::Env e, const SharedStoreStats& s) { return Num(e, s.counters[layout::kExpiries]); }},
    {"tooLarge", [](Napi::Env e, const SharedStoreStats& s) { return Num(e, s.counters[layout::kTooLarge]); }},
    {"stripes", [](Napi::Env e, const SharedStoreStats& s) { return Num(e, s.stripes); }},
    {"lockWaits", [](Napi::Env e, const SharedStoreStats& s) { return Num(e, s.counters[layout::kLockWaits]); }},
    {"lockTimeouts", [](Napi::Env e, const SharedStoreStats& s) { return Num(e, s.counters[layout::kLockTimeouts]); }},
    {"recoveries", [](Napi::Env e, const SharedStoreStats& s) { return Num(e, s.counters[layout::kRecoveries]); }},
    {"corrupt", [](Napi::Env e, const SharedStoreStats& s) { return Num(e, s.counters[layout::kCorrupt]); }},
    {"hits", [](Napi::Env e, const SharedStoreStats& s) { return Num(e, s.counters[layout::kHits]); }},
    {"misses", [](Napi::Env e, const SharedStoreStats& s) { return Num(e, s.counters[layout::kMisses]); }},
    {"stores", [](Napi::Env e, const SharedStoreStats& s) { return Num(e, s.counters[layout::kStores]); }},
    {"contextMisses",
     [](Napi::Env e, const SharedStoreStats& s) { return Num(e, s.counters[layout::kContextMisses]); }},
    {"reopens", [](Napi::Env e, const SharedStoreStats& s) { return Num(e, s.reopens); }},
    {"lost", [](Napi::Env e, const SharedStoreStats& s) -> Napi::Value { return Napi::Boolean::New(e, s.lost); }},
    {"ticketKeys", [](Napi::Env e, const SharedStoreStats& s) { return Num(e, s.ticket_keys); }},
};

}  // namespace

Napi::Object SharedStatsObject(Napi::Env env, const SharedStoreStats& s) {
  Napi::Object out = Napi::Object::New(env);
  for (const SharedStatField& f : kSharedStatFields) out.Set(f.name, f.read(env, s));
  return out;
}

Napi::Array SharedStatFieldNames(Napi::Env env) {
  Napi::Array names = Napi::Array::New(env);
  for (const SharedStatField& f : kSharedStatFields) names.Set(names.Length(), Napi::String::New(env, f.name));
  return names;
}

}  // namespace tsc
