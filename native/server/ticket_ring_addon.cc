// Ticket key ring, JS side: the ring handle (a type-tagged External), the ring* functions the
// TypeScript TicketKeyRing calls, and the evp callback that finds a connection's ring through the
// context's state. The ring itself (keys, secrets, OnTicketKey) is ticket_ring.cc.
#include "server/ticket_ring_addon.h"

#include <memory>
#include <string>

#include "common/context_access.h"
#include "server/node_ticket_callback.h"
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
};

std::shared_ptr<TicketRing> RingFrom(const Napi::Value& value) {
  bool tagged = false;
  if (value.IsExternal()) napi_check_object_type_tag(value.Env(), value, &kRingTag, &tagged);
  if (!tagged) throw Napi::TypeError::New(value.Env(), "expected a ticket key ring handle");
  return value.As<Napi::External<RingHandle>>().Data()->ring;
}

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
}

}  // namespace tsc
