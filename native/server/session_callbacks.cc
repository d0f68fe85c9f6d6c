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
#include "common/session_id_context.h"
#include "common/shared_store.h"
#include "common/shared_store_napi.h"
#include "server/fleet_replication.h"
#include "server/resumption_stats.h"
#include "server/session_id_tag.h"

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

int NewSessionCallback(SSL* ssl, SSL_SESSION* sess) noexcept {
  ContextState* state = nullptr;
  SharedStore* store = StoreOf(SessionContextOf(ssl), &state);
  const bool capturing = state != nullptr && state->capture;
  // Encoded once for the store and the fleet alike; a session too large for a slot is counted
  // tooLarge by Insert and still replicated (another member's store may hold it).
  if ((store != nullptr || capturing) && ResumedById(ssl)) {
    const EncodedSession encoded(sess);
    if (!encoded.empty()) {
      if (store != nullptr) {
        // Filed under the session's own context: what OpenSSL compares with the connection's.
        unsigned int ctx_len = 0;
        const unsigned char* ctx = SSL_SESSION_get0_id_context(sess, &ctx_len);
        store->Insert(StoreScope{ctx, ctx_len}, encoded.id(), encoded.id_len(), encoded.der().data(),
                      encoded.der().size(), encoded.expires_at());
      }
      if (capturing) state->capture->Offer(encoded);
    }
  }
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
  if (store != nullptr) {
    StoreMiss why = StoreMiss::kAbsent;
    const ConnectionScope scope(ssl, state);
    SSL_SESSION* sess = LookupSession(*store, scope, id, id_len, &why);
    // OpenSSL takes the one reference d2i gave us; with *copy = 1 it would add a second and leak.
    if (sess != nullptr) {
      *copy = 0;
      return sess;
    }
    NoteStoreMiss(ssl, why);
  }
  // A replicating member holds every fleet session that has reached it: an ID another member
  // issued that is not here has not arrived (or was dropped for room first).
  if (state->capture && HasFleetTag(*state, id, static_cast<size_t>(id_len))) NoteNotYetReplicated(ssl);
  return nullptr;
}

}  // namespace

void InstallSessionCallbacks(SSL_CTX* ctx, ContextState& state) {
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

void RestoreNodeSessionCallbacks(SSL_CTX* ctx, const ContextState& state) {
  SSL_CTX_sess_set_get_cb(ctx, state.node.get_cb);
  SSL_CTX_sess_set_new_cb(ctx, state.node.new_cb);
}

namespace {

SharedStore& StoreOrThrow(const Napi::CallbackInfo& info, SSL_CTX** ctx_out = nullptr) {
  SSL_CTX* ctx = nullptr;
  ContextState& state = LiveStateFrom(info[0], &ctx);
  if (!state.store) throw Napi::Error::New(info.Env(), "no shared store is attached");
  if (ctx_out != nullptr) *ctx_out = ctx;
  return *state.store;
}

// sharedAttach(handle, path, sizeBytes, slotBytes, privateDir)
Napi::Value SharedAttach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL_CTX* ctx = nullptr;
  ContextState& state = LiveStateFrom(info[0], &ctx);
  state.store = OpenSharedStore(info, 1);
  InstallSessionCallbacks(ctx, state);
  return env.Undefined();
}

// sharedRehook(handle): called from the server's 'connection' listener (a shared store or fleet
// replication).
Napi::Value SharedRehook(const Napi::CallbackInfo& info) {
  SSL_CTX* ctx = nullptr;
  ContextState& state = LiveStateFrom(info[0], &ctx);
  if (state.store || state.capture) InstallSessionCallbacks(ctx, state);
  return info.Env().Undefined();
}

// sharedDetach(handle): Node's callbacks back, the store released (unmapped with its last user).
Napi::Value SharedDetach(const Napi::CallbackInfo& info) {
  SSL_CTX* ctx = nullptr;
  ContextState& state = LiveStateFrom(info[0], &ctx);
  if (!state.capture) RestoreNodeSessionCallbacks(ctx, state);
  state.store.reset();
  return info.Env().Undefined();
}

Napi::Value SharedStats(const Napi::CallbackInfo& info) {
  return SharedStatsObject(info.Env(), StoreOrThrow(info).Stats());
}

// sharedFlush(handle, all): all = empty the whole store (every worker's sessions); else drop
// the expired ones. Returns how many went.
Napi::Value SharedFlush(const Napi::CallbackInfo& info) {
  SharedStore& store = StoreOrThrow(info);
  const bool all = info[1].ToBoolean();
  const size_t n = store.Flush(Now(), all);
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

// sharedReopenIfLost(handle) -> null (the store is fine) | { reopened, error? }: after the store
// file was truncated under this process (a SIGBUS answered with zero pages) or replaced (another
// file renamed over its path), map the file at the path. Called once a second (attach.ts).
Napi::Value SharedReopenIfLost(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SharedStore& store = StoreOrThrow(info);
  if (!store.file().lost() && !store.file().Replaced()) return env.Null();
  std::string error;
  Napi::Object out = Napi::Object::New(env);
  const bool reopened = store.ReopenIfLost(&error);
  out.Set("reopened", Napi::Boolean::New(env, reopened));
  if (!reopened) out.Set("error", Napi::String::New(env, error));
  return out;
}

// flushLocal(handle, all): the context's own cache, without touching the shared store.
Napi::Value FlushLocal(const Napi::CallbackInfo& info) {
  SSL_CTX* ctx = nullptr;
  LiveStateFrom(info[0], &ctx);
  const bool all = info[1].ToBoolean();
  const long before = SSL_CTX_sess_number(ctx);
  SSL_CTX_flush_sessions(ctx, all ? 0 : static_cast<long>(Now()));
  return Napi::Number::New(info.Env(), static_cast<double>(before - SSL_CTX_sess_number(ctx)));
}

// sharedInspect(path) -> { isStore, layoutVersion, totalBytes, slotBytes, capacity, inUse }
Napi::Value SharedInspect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  StoreFileFacts facts;
  std::string error;
  if (!InspectStoreFile(info[0].As<Napi::String>().Utf8Value(), &facts, &error)) throw Napi::Error::New(env, error);
  Napi::Object out = Napi::Object::New(env);
  auto num = [&](uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); };
  out.Set("isStore", Napi::Boolean::New(env, facts.is_store));
  out.Set("layoutVersion", num(facts.layout_version));
  out.Set("totalBytes", num(facts.total_bytes));
  out.Set("slotBytes", num(facts.slot_bytes));
  out.Set("capacity", num(facts.slot_count));
  out.Set("inUse", Napi::Boolean::New(env, facts.in_use));
  return out;
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
  exports.Set("sharedReopenIfLost", Napi::Function::New(env, SharedReopenIfLost, "sharedReopenIfLost"));
  exports.Set("flushLocal", Napi::Function::New(env, FlushLocal, "flushLocal"));
  exports.Set("sharedInspect", Napi::Function::New(env, SharedInspect, "sharedInspect"));
}

}  // namespace tsc
