#include "session_callbacks.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "context_access.h"
#include "openssl_ptr.h"
#include "session_der.h"
#include "shared_store.h"

namespace tsc {
namespace {

// Set around flushes this addon starts itself, so a worker emptying its own cache never
// deletes sessions the other workers still use.
thread_local bool in_local_flush = false;

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

SharedStore* StoreOf(SSL_CTX* ctx, ContextState** state_out) {
  ContextState* state = ContextStateOf(ctx);
  if (state_out != nullptr) *state_out = state;
  return state != nullptr ? state->store.get() : nullptr;
}

// new-session callback: Node's first (it emits 'newSession' and returns 0), then the store.
int NewSessionCallback(SSL* ssl, SSL_SESSION* sess) noexcept;
// get-session callback: Node's first (a session loaded by a 'resumeSession' listener), then
// the store. Only called by OpenSSL after a miss in the context's internal cache.
SSL_SESSION* GetSessionCallback(SSL* ssl, const unsigned char* id, int id_len, int* copy) noexcept;
// remove-session callback: see RemovalInvalidates().
void RemoveSessionCallback(SSL_CTX* ctx, SSL_SESSION* sess) noexcept;

void StoreSession(SharedStore& store, SSL* ssl, SSL_SESSION* sess) noexcept {
  // A TLS 1.3 session with stateless tickets comes back inside the ticket, never by ID.
  if (SSL_version(ssl) == TLS1_3_VERSION && (SSL_get_options(ssl) & SSL_OP_NO_TICKET) == 0) return;
  unsigned int id_len = 0;
  const unsigned char* id = SSL_SESSION_get_id(sess, &id_len);
  if (id_len == 0) return;
  const int der_len = i2d_SSL_SESSION(sess, nullptr);
  if (der_len <= 0) return;
  try {
    thread_local std::vector<unsigned char> der;
    der.resize(static_cast<size_t>(der_len));
    unsigned char* p = der.data();
    if (i2d_SSL_SESSION(sess, &p) != der_len) return;
    store.Insert(KeyOf(id, id_len), der.data(), der.size(), ExpiresAt(sess));
    OPENSSL_cleanse(der.data(), der.size());  // the master secret is in there
  } catch (...) {
  }
}

int NewSessionCallback(SSL* ssl, SSL_SESSION* sess) noexcept {
  ContextState* state = nullptr;
  if (SharedStore* store = StoreOf(SSL_get_SSL_CTX(ssl), &state)) StoreSession(*store, ssl, sess);
  // Node's callback decides whether it keeps OpenSSL's extra reference (1) or not (0).
  if (state != nullptr && state->node.new_cb != nullptr) return state->node.new_cb(ssl, sess);
  return 0;
}

SSL_SESSION* GetSessionCallback(SSL* ssl, const unsigned char* id, int id_len, int* copy) noexcept {
  ContextState* state = nullptr;
  SharedStore* store = StoreOf(SSL_get_SSL_CTX(ssl), &state);
  if (state == nullptr) return nullptr;
  if (state->node.get_cb != nullptr) {
    if (SSL_SESSION* from_node = state->node.get_cb(ssl, id, id_len, copy)) return from_node;
  }
  if (store == nullptr) return nullptr;
  SSL_SESSION* sess = LookupSession(*store, id, id_len);
  // OpenSSL takes the one reference d2i gave us; with *copy = 1 it would add a second and leak.
  if (sess != nullptr) *copy = 0;
  return sess;
}

// OpenSSL calls the remove callback when it invalidates a session (a connection that failed or
// was cut without close_notify, an expired session offered by a client) but also when this
// context's own cache drops one: evicted for size inside SSL_CTX_add_session, or flushed. Only
// the first kind must reach the other workers. An expired session may go either way (it is dead
// everywhere); a removal while the internal cache is at its size limit is taken for an eviction
// (OpenSSL evicts exactly until it is one below the limit, and gives the callback no other
// sign), and a removal during a flush this addon runs is ignored.
bool RemovalInvalidates(SSL_CTX* ctx, SSL_SESSION* sess, bool* expired) {
  *expired = ExpiresAt(sess) <= Now();
  if (*expired) return true;
  if (in_local_flush) return false;
  const long limit = SSL_CTX_sess_get_cache_size(ctx);
  if (limit > 0 && SSL_CTX_sess_number(ctx) + 1 >= limit) return false;
  return true;
}

void RemoveSessionCallback(SSL_CTX* ctx, SSL_SESSION* sess) noexcept {
  ContextState* state = nullptr;
  SharedStore* store = StoreOf(ctx, &state);
  if (state != nullptr && state->node.remove_cb != nullptr) state->node.remove_cb(ctx, sess);
  if (store == nullptr) return;
  bool expired = false;
  if (!RemovalInvalidates(ctx, sess, &expired)) return;
  unsigned int id_len = 0;
  const unsigned char* id = SSL_SESSION_get_id(sess, &id_len);
  store->Remove(KeyOf(id, id_len), expired);
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
  RemoveSessionCb remove = SSL_CTX_sess_get_remove_cb(ctx);
  if (remove != RemoveSessionCallback) {
    state.node.remove_cb = remove;
    SSL_CTX_sess_set_remove_cb(ctx, RemoveSessionCallback);
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

// sharedAttach(handle, path, sizeBytes, slotBytes, sessionIdContext: Buffer)
Napi::Value SharedAttach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL_CTX* ctx = nullptr;
  ContextState& state = LiveState(info, &ctx);
  const std::string path = info[1].As<Napi::String>().Utf8Value();
  StoreGeometry geometry;
  geometry.total_bytes = static_cast<uint64_t>(info[2].As<Napi::Number>().Int64Value());
  geometry.slot_bytes = static_cast<uint32_t>(info[3].As<Napi::Number>().Uint32Value());
  auto sid = info[4].As<Napi::Buffer<unsigned char>>();
  std::vector<unsigned char> sid_ctx(sid.Data(), sid.Data() + sid.Length());
  std::string error;
  std::shared_ptr<SharedStore> store = SharedStore::Open(path, geometry, std::move(sid_ctx), &error);
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
  SSL_CTX_sess_set_remove_cb(ctx, state.node.remove_cb);
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
  put("evictions", s.counters[kEvictions]);
  put("expiries", s.counters[kExpiries]);
  put("tooLarge", s.counters[kTooLarge]);
  put("lockWaits", s.counters[kLockWaits]);
  put("recoveries", s.counters[kRecoveries]);
  put("corrupt", s.counters[kCorrupt]);
  put("hits", s.counters[kHits]);
  put("misses", s.counters[kMisses]);
  put("stores", s.counters[kStores]);
  put("deletes", s.counters[kDeletes]);
  return out;
}

// sharedFlush(handle, all): all = empty the whole store (every worker's sessions); else drop
// the expired ones. Returns how many went.
Napi::Value SharedFlush(const Napi::CallbackInfo& info) {
  SharedStore& store = StoreOrThrow(info);
  const bool all = info[1].ToBoolean();
  const size_t n = all ? store.Clear() : store.FlushExpired(Now());
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

// flushLocal(handle, all): the context's own cache, without touching the shared store.
Napi::Value FlushLocal(const Napi::CallbackInfo& info) {
  SSL_CTX* ctx = nullptr;
  LiveState(info, &ctx);
  const bool all = info[1].ToBoolean();
  const long before = SSL_CTX_sess_number(ctx);
  in_local_flush = true;
  SSL_CTX_flush_sessions(ctx, all ? 0 : static_cast<long>(Now()));
  in_local_flush = false;
  return Napi::Number::New(info.Env(), static_cast<double>(before - SSL_CTX_sess_number(ctx)));
}

// _lockAndHang(handle): TEST ONLY. Takes the store's lock and returns still holding it, with a
// live slot marked as being written, so a test can SIGKILL this process and check that the
// next process to lock recovers (EOWNERDEAD) and drops that slot. Never call it in production:
// every other user of the store waits until this process dies.
Napi::Value LockAndHang(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(StoreOrThrow(info).LockAndHangForTest()));
}

}  // namespace

void InitSessionCallbacks(Napi::Env env, Napi::Object exports) {
  exports.Set("sharedAttach", Napi::Function::New(env, SharedAttach, "sharedAttach"));
  exports.Set("sharedRehook", Napi::Function::New(env, SharedRehook, "sharedRehook"));
  exports.Set("sharedDetach", Napi::Function::New(env, SharedDetach, "sharedDetach"));
  exports.Set("sharedStats", Napi::Function::New(env, SharedStats, "sharedStats"));
  exports.Set("sharedFlush", Napi::Function::New(env, SharedFlush, "sharedFlush"));
  exports.Set("flushLocal", Napi::Function::New(env, FlushLocal, "flushLocal"));
  exports.Set("_lockAndHang", Napi::Function::New(env, LockAndHang, "_lockAndHang"));
}

}  // namespace tsc
