#include "server/resumption_stats.h"

#include <cstring>
#include <mutex>
#include <vector>

#include "common/context_access.h"
#include "common/shared_store.h"
#include "server/resumption_outcome.h"
#include "server/resumption_state.h"
#include "server/session_ticket_cb.h"
#include "server/ticket_ring.h"

namespace tsc {
using namespace resumption;
namespace {

SSL_CTX* LiveContext(const Napi::CallbackInfo& info) {
  SSL_CTX* ctx = AttachmentFrom(info[0]).ctx.get();
  if (ContextStateOf(ctx) == nullptr) throw Napi::Error::New(info.Env(), "attachment is detached");
  return ctx;
}

// resumptionApply(handle, maxAgeSeconds, nodeTicketKeyName: Buffer | null)
Napi::Value ResumptionApply(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL_CTX* ctx = LiveContext(info);
  const int64_t max_age = info[1].ToNumber().Int64Value();
  if (max_age < 0) throw Napi::RangeError::New(env, "resumptionApply: maxAgeSeconds out of range");
  ResumptionState* state = EnsureState(ctx);
  if (state == nullptr) throw Napi::Error::New(env, "resumptionApply: no ex_data slot for the counters");
  {
    std::lock_guard<std::mutex> lock(state->mutex);
    state->has_node_key_name = false;
    if (info.Length() > 2 && info[2].IsBuffer()) {
      auto name = info[2].As<Napi::Buffer<unsigned char>>();
      if (name.Length() >= TicketRing::kNameBytes) {
        std::memcpy(state->node_key_name.data(), name.Data(), TicketRing::kNameBytes);
        state->has_node_key_name = true;
      }
    }
  }
  state->max_age_seconds.store(max_age, std::memory_order_relaxed);
  SSL_CTX_set_msg_callback(ctx, ResumptionMsgCb);
  SSL_CTX_set_session_ticket_cb(ctx, GenerateTicketCb, DecryptTicketCb, nullptr);
  return env.Undefined();
}

Napi::Value ResumptionStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL_CTX* ctx = LiveContext(info);
  SettlePending(nullptr);
  ResumptionState* state = StateOf(ctx);
  Napi::Object out = Napi::Object::New(env);
  auto num = [&](uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); };
  auto per_protocol = [&](auto read) {
    Napi::Object o = Napi::Object::New(env);
    for (int p = 0; p < kProtocolCount; p++) o.Set(kProtocolNames[p], num(state != nullptr ? read(p) : 0));
    return o;
  };
  auto load = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  out.Set("offered", per_protocol([&](int p) { return load(state->offered[p]); }));
  out.Set("resumed", per_protocol([&](int p) { return load(state->resumed[p]); }));
  out.Set("resumedPskKe", per_protocol([&](int p) { return load(state->resumed_psk_ke[p]); }));
  Napi::Object failed = Napi::Object::New(env);
  for (int r = 0; r < kReasonCount; r++)
    failed.Set(kReasonNames[r], per_protocol([&](int p) { return load(state->failed[p][r]); }));
  out.Set("failed", failed);
  Napi::Array bounds = Napi::Array::New(env, kAgeBucketCount - 1);
  for (size_t b = 0; b + 1 < kAgeBucketCount; b++)
    bounds.Set(static_cast<uint32_t>(b), num(static_cast<uint64_t>(kAgeBounds[b])));
  out.Set("ageBounds", bounds);
  Napi::Object ages = Napi::Object::New(env);
  for (int p = 0; p < kProtocolCount; p++) {
    Napi::Object a = Napi::Object::New(env);
    Napi::Array counts = Napi::Array::New(env, kAgeBucketCount);
    for (size_t b = 0; b < kAgeBucketCount; b++)
      counts.Set(static_cast<uint32_t>(b), num(state != nullptr ? load(state->age_counts[p][b]) : 0));
    a.Set("counts", counts);
    a.Set("sumSeconds", num(state != nullptr ? load(state->age_sum_seconds[p]) : 0));
    ages.Set(kProtocolNames[p], a);
  }
  out.Set("age", ages);
  return out;
}

// resumptionSamples(handle): the sampled failures since the last call, oldest first.
Napi::Value ResumptionSamples(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ResumptionState* state = StateOf(LiveContext(info));
  std::vector<Sample> taken;
  if (state != nullptr) {
    std::lock_guard<std::mutex> lock(state->mutex);
    taken.swap(state->samples);
  }
  Napi::Array out = Napi::Array::New(env, taken.size());
  for (size_t i = 0; i < taken.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("reason", kReasonNames[taken[i].reason]);
    o.Set("protocol", kProtocolNames[taken[i].protocol]);
    o.Set("mechanism", kMechanismNames[taken[i].mechanism]);
    o.Set("atMs", Napi::Number::New(env, static_cast<double>(taken[i].at_ms)));
    o.Set("suppressed", Napi::Number::New(env, static_cast<double>(taken[i].suppressed)));
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

// resumptionStoreError(handle, sessionId: Buffer): a fleet lookup for this ID failed.
Napi::Value ResumptionStoreError(const Napi::CallbackInfo& info) {
  SSL_CTX* ctx = LiveContext(info);
  if (info.Length() > 1 && info[1].IsBuffer()) {
    auto id = info[1].As<Napi::Buffer<unsigned char>>();
    NoteStoreError(ctx, id.Data(), id.Length());
  }
  return info.Env().Undefined();
}

// _resumptionCountingOff(handle): BENCHMARK ONLY, the control that shows what counting costs.
Napi::Value ResumptionCountingOff(const Napi::CallbackInfo& info) {
  DetachResumptionStats(LiveContext(info));
  return info.Env().Undefined();
}

}  // namespace

void NoteStoreMiss(SSL* ssl, StoreMiss why) noexcept {
  Handshake* h = HandshakeOf(ssl);
  if (h == nullptr) return;
  // OpenSSL looks up each offered TLS 1.3 PSK identity in turn: any failure explains the miss.
  h->store_failed |= why == StoreMiss::kFailed;
  h->store_expired |= why == StoreMiss::kExpired;
  h->store_context |= why == StoreMiss::kOtherContext;
}

void NoteNotYetReplicated(SSL* ssl) noexcept {
  if (Handshake* h = HandshakeOf(ssl)) h->not_replicated = true;
}

void NoteStoreError(SSL_CTX* ctx, const unsigned char* id, size_t id_len) noexcept {
  ResumptionState* state = StateOf(ctx);
  if (state == nullptr || id_len == 0 || id_len > SSL_MAX_SSL_SESSION_ID_LENGTH) return;
  std::lock_guard<std::mutex> lock(state->mutex);
  StoreErrorSlot& slot = state->store_errors[state->store_error_next];
  state->store_error_next = (state->store_error_next + 1) % kStoreErrorSlots;
  std::memcpy(slot.id.data(), id, id_len);
  slot.len = id_len;
  state->any_store_errors.store(true, std::memory_order_relaxed);
}

void DetachResumptionStats(SSL_CTX* ctx) noexcept {
  if (StateOf(ctx) == nullptr) return;
  SSL_CTX_set_msg_callback(ctx, nullptr);
  SSL_CTX_set_session_ticket_cb(ctx, nullptr, nullptr, nullptr);
  DropState(ctx);
}

void InitResumptionStats(Napi::Env env, Napi::Object exports) {
  InitIndexes();
  exports.Set("resumptionApply", Napi::Function::New(env, ResumptionApply, "resumptionApply"));
  exports.Set("resumptionStats", Napi::Function::New(env, ResumptionStats, "resumptionStats"));
  exports.Set("resumptionSamples", Napi::Function::New(env, ResumptionSamples, "resumptionSamples"));
  exports.Set("resumptionStoreError", Napi::Function::New(env, ResumptionStoreError, "resumptionStoreError"));
  exports.Set("_resumptionCountingOff", Napi::Function::New(env, ResumptionCountingOff, "_resumptionCountingOff"));
  // The reason names in counting order: src/common/native.ts compares them with the TypeScript
  // list at load, so a binary and dist/ from two builds fail there, not inside stats().
  Napi::Array reasons = Napi::Array::New(env, kReasonCount);
  for (uint32_t r = 0; r < kReasonCount; r++) reasons.Set(r, Napi::String::New(env, kReasonNames[r]));
  exports.Set("resumptionFailureReasons", reasons);
}

}  // namespace tsc
