// Ticket key ring, JS side: the ring handle (a type-tagged External), the ring* functions the
// TypeScript TicketKeyRing calls, and the evp callback that finds a connection's ring through the
// context's state. The ring itself (keys, secrets, OnTicketKey) is ticket_ring.cc.
#include "server/ticket_ring_addon.h"

#include <memory>
#include <string>

#include "common/context_access.h"
#include "server/node_ticket_callback.h"
#include "server/shared_ticket_keys.h"
#include "server/ticket_ring.h"

namespace tsc {
namespace {

// The callback finds the ring on the connection's current context. On Node that stays the
// server's default context even after SNI (Node copies the SNI certificate onto the SSL rather
// than calling SSL_set_SSL_CTX); attach also hangs the ring on SNI contexts in case a context
// switch ever happens (see ringHang).
int TicketKeyEvpCb(SSL* ssl, unsigned char* key_name, unsigned char* iv, EVP_CIPHER_CTX* cctx, EVP_MAC_CTX* hctx,
                   int enc) noexcept {
  ContextState* state = ContextStateOf(SSL_get_SSL_CTX(ssl));
  if (state == nullptr) return 0;
  std::shared_ptr<TicketRing> ring = state->ring;
  if (!ring) return 0;
  return ring->OnTicketKey(ssl, key_name, iv, cctx, hctx, enc);
}

struct RingHandle {
  std::shared_ptr<TicketRing> ring;
  // Set while a generated ring takes its keys from a shared store's key table.
  std::shared_ptr<SharedTicketKeys> shared;
};

RingHandle& RingHandleFrom(const Napi::Value& value) {
  bool tagged = false;
  if (value.IsExternal()) napi_check_object_type_tag(value.Env(), value, &kRingTag, &tagged);
  if (!tagged) throw Napi::TypeError::New(value.Env(), "expected a ticket key ring handle");
  return *value.As<Napi::External<RingHandle>>().Data();
}

std::shared_ptr<TicketRing> RingFrom(const Napi::Value& value) { return RingHandleFrom(value).ring; }

Napi::Buffer<unsigned char> BufferArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsBuffer())
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a Buffer");
  return info[i].As<Napi::Buffer<unsigned char>>();
}

Napi::Value RingNew(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto holder = std::make_unique<RingHandle>();
  holder->ring = std::make_shared<TicketRing>();
  auto external = Napi::External<RingHandle>::New(
      env, holder.release(), [](Napi::Env, RingHandle* h) { std::unique_ptr<RingHandle> owned(h); });
  napi_type_tag_object(env, external, &kRingTag);
  return external;
}

Napi::Value RingAddKey(const Napi::CallbackInfo& info) {
  auto ring = RingFrom(info[0]);
  auto buf = BufferArg(info, 1, "key");
  std::string id = ring->AddKey(buf.Data(), buf.Length());
  if (id.empty()) throw Napi::RangeError::New(info.Env(), "key must be 48 or 80 bytes");
  return Napi::String::New(info.Env(), id);
}

Napi::Value RingRemoveKey(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), RingFrom(info[0])->RemoveKey(info[1].ToString()));
}

Napi::Value RingSetEncrypting(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), RingFrom(info[0])->SetEncrypting(info[1].ToString()));
}

Napi::Value RingAddSecret(const Napi::CallbackInfo& info) {
  auto ring = RingFrom(info[0]);
  auto buf = BufferArg(info, 1, "secret");
  std::string id = ring->AddSecret(buf.Data(), buf.Length());
  if (id.empty()) throw Napi::Error::New(info.Env(), "HKDF-SHA256 is not available in this OpenSSL");
  return Napi::String::New(info.Env(), id);
}

Napi::Value RingRemoveSecret(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), RingFrom(info[0])->RemoveSecret(info[1].ToString()));
}

Napi::Value RingDeriveKey(const Napi::CallbackInfo& info) {
  auto ring = RingFrom(info[0]);
  const int64_t epoch = info[2].ToNumber().Int64Value();
  std::string id = ring->DeriveKey(info[1].ToString(), epoch);
  if (id.empty()) throw Napi::Error::New(info.Env(), "could not derive a ticket key (unknown secret or HKDF failure)");
  return Napi::String::New(info.Env(), id);
}

Napi::Value RingStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto ring = RingFrom(info[0]);
  auto snap = ring->Current();
  auto& c = ring->counters();
  Napi::Object out = Napi::Object::New(env);
  auto num = [&](uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); };
  out.Set("issued", num(c.issued.load(std::memory_order_relaxed)));
  out.Set("resumed", num(c.resumed.load(std::memory_order_relaxed)));
  out.Set("renewed", num(c.renewed.load(std::memory_order_relaxed)));
  out.Set("unknownKey", num(c.unknown_key.load(std::memory_order_relaxed)));
  out.Set("failed", num(c.failed.load(std::memory_order_relaxed)));
  Napi::Object keys = Napi::Object::New(env);
  for (const auto& k : snap->keys) {
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("encrypted", num(k->encrypted.load(std::memory_order_relaxed)));
    entry.Set("decrypted", num(k->decrypted.load(std::memory_order_relaxed)));
    entry.Set("bits", Napi::Number::New(env, k->secret_len == 32 ? 256 : 128));
    keys.Set(k->id, entry);
  }
  out.Set("keys", keys);
  out.Set("encrypting", snap->encrypting ? Napi::Value(Napi::String::New(env, snap->encrypting->id)) : env.Null());
  return out;
}

// ringShareKeys(ring, attachment | null): the ring takes its keys from the attachment's shared
// store from now on (null: no longer). False, and nothing changes, when the store file is not in
// memory: its keys would be written to disk in clear.
Napi::Value RingShareKeys(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RingHandle& handle = RingHandleFrom(info[0]);
  if (info[1].IsNull() || info[1].IsUndefined()) {
    handle.shared.reset();
    handle.ring->SetFallback(nullptr);
    return Napi::Boolean::New(env, true);
  }
  ContextState* state = ContextStateOf(AttachmentFrom(info[1]).ctx.get());
  if (state == nullptr || !state->store) throw Napi::Error::New(env, "no shared store is attached");
  if (!state->store->file().in_memory()) return Napi::Boolean::New(env, false);
  handle.shared = std::make_shared<SharedTicketKeys>(state->store);
  handle.ring->SetFallback(handle.shared);
  return Napi::Boolean::New(env, true);
}

SharedTicketKeys& SharedKeysOf(const Napi::CallbackInfo& info, RingHandle& handle) {
  if (!handle.shared) throw Napi::Error::New(info.Env(), "the ring takes no keys from a shared store");
  return *handle.shared;
}

// ringSyncShared(ring, nowMs, rotateEveryMs, keepKeys, rotate): see SharedTicketKeys::Sync.
// Returns the table's keys, newest first, as [{ id, createdMs }], or null when the table's lock
// was not taken within its bound (the ring keeps the keys it has).
Napi::Value RingSyncShared(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RingHandle& handle = RingHandleFrom(info[0]);
  SharedTicketKeys& shared = SharedKeysOf(info, handle);
  std::vector<SharedTicketKeys::KeyInfo> keys;
  const auto result = shared.Sync(*handle.ring, info[1].ToNumber().Int64Value(), info[2].ToNumber().Int64Value(),
                                  info[3].ToNumber().Uint32Value(), info[4].ToBoolean(), &keys);
  if (result == SharedTicketKeys::SyncResult::kLockTimeout) return env.Null();
  Napi::Array out = Napi::Array::New(env, keys.size());
  for (size_t i = 0; i < keys.size(); i++) {
    Napi::Object k = Napi::Object::New(env);
    k.Set("id", Napi::String::New(env, keys[i].id));
    k.Set("createdMs", Napi::Number::New(env, static_cast<double>(keys[i].created_ms)));
    out.Set(static_cast<uint32_t>(i), k);
  }
  return out;
}

// ringRemoveShared(ring, keyId): takes the key out of the store's table too, so that no process
// of the store picks a revoked key up again.
Napi::Value RingRemoveShared(const Napi::CallbackInfo& info) {
  RingHandle& handle = RingHandleFrom(info[0]);
  return Napi::Boolean::New(info.Env(), SharedKeysOf(info, handle).Remove(info[1].ToString()));
}

// ringAttach(attachment, ring | null): the ring encrypts and decrypts this context's tickets,
// or (null) Node's own ticket callback takes over again.
Napi::Value RingAttach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL_CTX* ctx = AttachmentFrom(info[0]).ctx.get();
  ContextState* state = ContextStateOf(ctx);
  if (state == nullptr) throw Napi::Error::New(env, "attachment is detached");
  if (info[1].IsNull() || info[1].IsUndefined()) {
    if (state->ring) RestoreNodeTicketCallback(ctx);
    state->ring.reset();
  } else {
    state->ring = RingFrom(info[1]);
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, TicketKeyEvpCb);
  }
  return env.Undefined();
}

// ringHang(secureContextExternal, ring | null): puts the ring on a context an SNICallback may
// switch connections to, so tickets issued after the switch use the same ring. No callback is
// installed there: OpenSSL calls the one on the connection's initial context. Returns false when
// that context already carries a different ring (it is left alone).
Napi::Value RingHang(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL_CTX* ctx = info.Length() > 0 ? SslCtxFromExternal(info.Env(), info[0]) : nullptr;
  if (ctx == nullptr) throw Napi::TypeError::New(env, "ringHang: expected a SecureContext `_external`");
  if (info[1].IsNull() || info[1].IsUndefined()) {
    ContextState* state = ContextStateOf(ctx);
    if (state != nullptr && info.Length() > 2 && state->ring == RingFrom(info[2])) state->ring.reset();
    return Napi::Boolean::New(env, true);
  }
  auto ring = RingFrom(info[1]);
  ContextState* state = EnsureContextState(ctx);
  if (state == nullptr) return Napi::Boolean::New(env, false);
  if (state->ring && state->ring != ring) return Napi::Boolean::New(env, false);
  state->ring = ring;
  return Napi::Boolean::New(env, true);
}

}  // namespace

void InitTicketRing(Napi::Env env, Napi::Object exports) {
  exports.Set("ringNew", Napi::Function::New(env, RingNew, "ringNew"));
  exports.Set("ringAddKey", Napi::Function::New(env, RingAddKey, "ringAddKey"));
  exports.Set("ringRemoveKey", Napi::Function::New(env, RingRemoveKey, "ringRemoveKey"));
  exports.Set("ringSetEncrypting", Napi::Function::New(env, RingSetEncrypting, "ringSetEncrypting"));
  exports.Set("ringAddSecret", Napi::Function::New(env, RingAddSecret, "ringAddSecret"));
  exports.Set("ringRemoveSecret", Napi::Function::New(env, RingRemoveSecret, "ringRemoveSecret"));
  exports.Set("ringDeriveKey", Napi::Function::New(env, RingDeriveKey, "ringDeriveKey"));
  exports.Set("ringStats", Napi::Function::New(env, RingStats, "ringStats"));
  exports.Set("ringAttach", Napi::Function::New(env, RingAttach, "ringAttach"));
  exports.Set("ringHang", Napi::Function::New(env, RingHang, "ringHang"));
  exports.Set("ringShareKeys", Napi::Function::New(env, RingShareKeys, "ringShareKeys"));
  exports.Set("ringSyncShared", Napi::Function::New(env, RingSyncShared, "ringSyncShared"));
  exports.Set("ringRemoveShared", Napi::Function::New(env, RingRemoveShared, "ringRemoveShared"));
}

}  // namespace tsc
