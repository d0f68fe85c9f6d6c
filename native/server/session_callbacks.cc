#include "server/session_callbacks.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstring>
#include <ctime>
#include <mutex>
#include <string>
#include <vector>

#include "common/context_access.h"
#include "common/openssl_ptr.h"
#include "common/session_der.h"
#include "common/shared_store.h"
#include "server/resumption_stats.h"

namespace tsc {
namespace {

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

// The context an SSL was created from, recorded when OpenSSL creates it (an SSL ex_data "new"
// function runs inside SSL_new, for every SSL). OpenSSL calls the session callbacks of that
// context (its session_ctx), but SSL_get_SSL_CTX() returns the context an SNI callback switched
// to, which has none of our state: looking state up there skipped Node's own 'newSession' and
// stored nothing. OpenSSL has no getter for session_ctx. The SSL holds a reference on its
// session_ctx for its whole life, so the raw pointer stays valid as long as the SSL.
int session_ctx_index = -1;

void RecordSessionContext(void* parent, void* /*ptr*/, CRYPTO_EX_DATA* ad, int idx, long /*argl*/, void* /*argp*/) {
  if (parent != nullptr) CRYPTO_set_ex_data(ad, idx, SSL_get_SSL_CTX(static_cast<SSL*>(parent)));
}

SSL_CTX* SessionContextOf(SSL* ssl) {
  void* recorded = session_ctx_index >= 0 ? SSL_get_ex_data(ssl, session_ctx_index) : nullptr;
  return recorded != nullptr ? static_cast<SSL_CTX*>(recorded) : SSL_get_SSL_CTX(ssl);
}

SharedStore* StoreOf(SSL_CTX* ctx, ContextState** state_out) {
  ContextState* state = ContextStateOf(ctx);
  if (state_out != nullptr) *state_out = state;
  return state != nullptr ? state->store.get() : nullptr;
}

// new-session callback: the store, then Node's (it emits 'newSession' and returns 0 or 1).
int NewSessionCallback(SSL* ssl, SSL_SESSION* sess) noexcept;
// get-session callback: Node's first (a session loaded by a 'resumeSession' listener), then
// the store. Only called by OpenSSL after a miss in the context's internal cache.
SSL_SESSION* GetSessionCallback(SSL* ssl, const unsigned char* id, int id_len, int* copy) noexcept;

// No remove callback is installed, on purpose. OpenSSL calls one for every removal it makes: a
// connection cut without close_notify, a bad Finished after a ClientHello that named a session
// ID seen on the wire, an eviction, and every session of a context being freed (a worker's
// graceful exit), so propagating removals let any of those delete live sessions for every
// worker. Only expiry needs to reach the store, and the store already treats an expired entry
// as a miss and reuses its slot. A remove callback also makes OpenSSL put every TLS 1.3
// stateless-ticket session into the internal cache (ssl_update_cache), where they push out the
// sessions that cache is for.

void StoreSession(SharedStore& store, SSL* ssl, SSL_SESSION* sess) noexcept {
  // A TLS 1.3 session with stateless tickets comes back inside the ticket, never by ID.
  if (SSL_version(ssl) == TLS1_3_VERSION && (SSL_get_options(ssl) & SSL_OP_NO_TICKET) == 0) return;
  unsigned int id_len = 0;
  const unsigned char* id = SSL_SESSION_get_id(sess, &id_len);
  if (id_len == 0) return;
  // OpenSSL's i2d writes without a bound, so the length comes first; a failure on either call
  // leaves nothing on the error queue (Node reads it after the handshake step).
  ERR_set_mark();
  const int der_len = i2d_SSL_SESSION(sess, nullptr);
  if (der_len <= 0) {
    ERR_pop_to_mark();
    return;
  }
  if (static_cast<size_t>(der_len) > store.file().geometry().max_der()) {
    ERR_pop_to_mark();
    store.Insert(id, id_len, nullptr, static_cast<size_t>(der_len), ExpiresAt(sess));  // counted as tooLarge
    return;
  }
  try {
    thread_local std::vector<unsigned char> der;
    if (der.size() < static_cast<size_t>(der_len)) der.resize(static_cast<size_t>(der_len));
    unsigned char* p = der.data();
    const bool encoded = i2d_SSL_SESSION(sess, &p) == der_len;
    ERR_pop_to_mark();
    if (encoded) store.Insert(id, id_len, der.data(), static_cast<size_t>(der_len), ExpiresAt(sess));
    OPENSSL_cleanse(der.data(), static_cast<size_t>(der_len));  // the master secret is in there
  } catch (...) {
    ERR_pop_to_mark();
  }
}

int NewSessionCallback(SSL* ssl, SSL_SESSION* sess) noexcept {
  ContextState* state = nullptr;
  if (SharedStore* store = StoreOf(SessionContextOf(ssl), &state)) StoreSession(*store, ssl, sess);
  // Node's callback decides whether it keeps OpenSSL's extra reference (1) or not (0).
  if (state != nullptr && state->node.new_cb != nullptr) return state->node.new_cb(ssl, sess);
  return 0;
}

SSL_SESSION* GetSessionCallback(SSL* ssl, const unsigned char* id, int id_len, int* copy) noexcept {
  ContextState* state = nullptr;
  SharedStore* store = StoreOf(SessionContextOf(ssl), &state);
  if (state == nullptr) return nullptr;
  if (state->node.get_cb != nullptr) {
    if (SSL_SESSION* from_node = state->node.get_cb(ssl, id, id_len, copy)) return from_node;
  }
  if (store == nullptr) return nullptr;
  StoreMiss why = StoreMiss::kAbsent;
  SSL_SESSION* sess = LookupSession(*store, id, id_len, &why);
  // OpenSSL takes the one reference d2i gave us; with *copy = 1 it would add a second and leak.
  if (sess != nullptr) {
    *copy = 0;
  } else {
    NoteStoreMiss(ssl, why);
  }
  return sess;
}

// Puts our callbacks back if Node replaced them (it does on every new TLSWrap), remembering
// Node's so ours can defer to them. Cheap: two pointer compares when nothing changed.
void InstallCallbacks(SSL_CTX* ctx, ContextState& state) {
  GetSessionCb get = SSL_CTX_sess_get_get_cb(ctx);
  if (get != GetSessionCallback) {
    state.node.get_cb = get;
    SSL_CTX_sess_set_get_cb(ctx, GetSessionCallback);
  }
  NewSessionCb add = SSL_CTX_sess_get_new_cb(ctx);
  if (add != NewSessionCallback) {
    state.node.new_cb = add;
    SSL_CTX_sess_set_new_cb(ctx, NewSessionCallback);
  }
}

ContextState& LiveState(const Napi::CallbackInfo& info, SSL_CTX** ctx_out) {
  SSL_CTX* ctx = AttachmentFrom(info[0]).ctx.get();
  ContextState* state = ContextStateOf(ctx);
  if (state == nullptr) throw Napi::Error::New(info.Env(), "attachment is detached");
  *ctx_out = ctx;
  return *state;
}

SharedStore& StoreOrThrow(const Napi::CallbackInfo& info, SSL_CTX** ctx_out = nullptr) {
  SSL_CTX* ctx = nullptr;
  ContextState& state = LiveState(info, &ctx);
  if (!state.store) throw Napi::Error::New(info.Env(), "no shared store is attached");
  if (ctx_out != nullptr) *ctx_out = ctx;
  return *state.store;
}

// sharedAttach(handle, path, sizeBytes, slotBytes, privateDir)
Napi::Value SharedAttach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL_CTX* ctx = nullptr;
  ContextState& state = LiveState(info, &ctx);
  StoreLocation where;
  where.path = info[1].As<Napi::String>().Utf8Value();
  where.private_dir = info[4].ToBoolean();
  const uint64_t total = static_cast<uint64_t>(info[2].As<Napi::Number>().Int64Value());
  const uint32_t slot_bytes = info[3].As<Napi::Number>().Uint32Value();
  std::string error;
  std::shared_ptr<SharedStore> store = SharedStore::Open(where, total, slot_bytes, &error);
  if (!store) throw Napi::Error::New(env, error);
  state.store = std::move(store);
  InstallCallbacks(ctx, state);
  return env.Undefined();
}

// sharedRehook(handle): called from the server's 'connection' listener.
Napi::Value SharedRehook(const Napi::CallbackInfo& info) {
  SSL_CTX* ctx = nullptr;
  ContextState& state = LiveState(info, &ctx);
  if (state.store) InstallCallbacks(ctx, state);
  return info.Env().Undefined();
}

// sharedDetach(handle): Node's callbacks back, the store released (unmapped with its last user).
Napi::Value SharedDetach(const Napi::CallbackInfo& info) {
  SSL_CTX* ctx = nullptr;
  ContextState& state = LiveState(info, &ctx);
  SSL_CTX_sess_set_get_cb(ctx, state.node.get_cb);
  SSL_CTX_sess_set_new_cb(ctx, state.node.new_cb);
  state.store.reset();
  return info.Env().Undefined();
}

Napi::Value SharedStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SharedStoreStats s = StoreOrThrow(info).Stats();
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
  return out;
}

// sharedFlush(handle, all): all = empty the whole store (every worker's sessions); else drop
// the expired ones. Returns how many went.
Napi::Value SharedFlush(const Napi::CallbackInfo& info) {
  SharedStore& store = StoreOrThrow(info);
  const bool all = info[1].ToBoolean();
  const size_t n = store.Flush(Now(), all);
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

// flushLocal(handle, all): the context's own cache, without touching the shared store.
Napi::Value FlushLocal(const Napi::CallbackInfo& info) {
  SSL_CTX* ctx = nullptr;
  LiveState(info, &ctx);
  const bool all = info[1].ToBoolean();
  const long before = SSL_CTX_sess_number(ctx);
  SSL_CTX_flush_sessions(ctx, all ? 0 : static_cast<long>(Now()));
  return Napi::Number::New(info.Env(), static_cast<double>(before - SSL_CTX_sess_number(ctx)));
}

}  // namespace

void InitSessionCallbacks(Napi::Env env, Napi::Object exports) {
  // Registered when the addon loads, so every SSL created after it records its context.
  static std::once_flag once;
  std::call_once(once,
                 [] { session_ctx_index = SSL_get_ex_new_index(0, nullptr, RecordSessionContext, nullptr, nullptr); });
  exports.Set("sharedAttach", Napi::Function::New(env, SharedAttach, "sharedAttach"));
  exports.Set("sharedRehook", Napi::Function::New(env, SharedRehook, "sharedRehook"));
  exports.Set("sharedDetach", Napi::Function::New(env, SharedDetach, "sharedDetach"));
  exports.Set("sharedStats", Napi::Function::New(env, SharedStats, "sharedStats"));
  exports.Set("sharedFlush", Napi::Function::New(env, SharedFlush, "sharedFlush"));
  exports.Set("flushLocal", Napi::Function::New(env, FlushLocal, "flushLocal"));
}

}  // namespace tsc
