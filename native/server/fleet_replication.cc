#include "server/fleet_replication.h"

#include <openssl/crypto.h>
#include <openssl/err.h>

#include <ctime>

#include "common/context_access.h"
#include "common/openssl_ptr.h"
#include "common/session_der.h"
#include "common/shared_store.h"
#include "server/session_callbacks.h"

namespace tsc {
namespace {

// Sessions waiting for the JS thread. A burst larger than this between two turns of the event
// loop is dropped (counted): the sessions stay local, only their replication is lost.
constexpr size_t kQueueLimit = 8192;

}  // namespace

CapturedSession::~CapturedSession() {
  if (!der.empty()) OPENSSL_cleanse(der.data(), der.size());
}

bool ResumedById(SSL* ssl) {
  return SSL_version(ssl) != TLS1_3_VERSION || (SSL_get_options(ssl) & SSL_OP_NO_TICKET) != 0;
}

std::shared_ptr<SessionCapture> SessionCapture::Create(Napi::Env env, Napi::Function fn) {
  std::shared_ptr<SessionCapture> self(new SessionCapture());
  auto alive = self->alive_;
  self->tsfn_ = Tsfn::New(env, fn, "tls-resumption:fleet-capture", kQueueLimit, 1, self.get(),
                          [alive](Napi::Env, void*, SessionCapture*) { alive->store(false); });
  // Capturing must not keep the process alive: the server (or its absence) decides that.
  self->tsfn_.Unref(env);
  return self;
}

SessionCapture::~SessionCapture() {
  if (alive_->load()) tsfn_.Release();
}

void SessionCapture::CallJs(Napi::Env env, Napi::Function fn, SessionCapture* /*self*/, CapturedSession* data) {
  std::unique_ptr<CapturedSession> owned(data);
  if (env == nullptr || fn.IsEmpty() || owned == nullptr) return;
  // The DER leaves native memory only here, for the sealing that follows at once in JS (which
  // wipes its copy); the native copy is wiped when `owned` goes.
  fn.Call({Napi::Buffer<unsigned char>::Copy(env, owned->id.data(), owned->id.size()),
           Napi::Buffer<unsigned char>::Copy(env, owned->der.data(), owned->der.size()),
           Napi::Number::New(env, static_cast<double>(owned->expires_at))});
}

void SessionCapture::Offer(const EncodedSession& session) noexcept {
  if (!alive_->load(std::memory_order_relaxed)) return;
  try {
    auto data = std::make_unique<CapturedSession>();
    data->id.assign(session.id(), session.id() + session.id_len());
    data->der.assign(session.der().begin(), session.der().end());
    data->expires_at = session.expires_at();
    if (tsfn_.NonBlockingCall(data.get()) == napi_ok) {
      data.release();  // CallJs owns it now
    } else {
      dropped_.fetch_add(1, std::memory_order_relaxed);
    }
  } catch (...) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
  }
}

namespace {

// fleetCapture(handle, fn | null): starts (or stops) handing the context's new sessions to `fn`.
Napi::Value FleetCapture(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL_CTX* ctx = nullptr;
  ContextState& state = LiveStateFrom(info[0], &ctx);
  if (info.Length() > 1 && info[1].IsFunction()) {
    state.capture = SessionCapture::Create(env, info[1].As<Napi::Function>());
    InstallSessionCallbacks(ctx, state);
  } else {
    state.capture.reset();
    if (!state.store) RestoreNodeSessionCallbacks(ctx, state);
  }
  return env.Undefined();
}

// fleetImport(handle, der): a session another member issued, into this process's store.
// Returns 'stored', 'expired' (past its lifetime: not kept), 'invalid' (not a resumable session
// with an ID) or 'notStored' (larger than a store slot, or the store did not take it in time).
Napi::Value FleetImport(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL_CTX* ctx = nullptr;
  ContextState& state = LiveStateFrom(info[0], &ctx);
  if (info.Length() < 2 || !info[1].IsBuffer()) throw Napi::TypeError::New(env, "fleetImport: der must be a Buffer");
  auto der = info[1].As<Napi::Buffer<unsigned char>>();
  SslSessionPtr sess(DecodeSession(der.Data(), der.Length()));
  auto result = [&](const char* r) { return Napi::String::New(env, r); };
  if (!sess || !SSL_SESSION_is_resumable(sess.get())) return result("invalid");
  unsigned int id_len = 0;
  const unsigned char* id = SSL_SESSION_get_id(sess.get(), &id_len);
  const int64_t expires_at = ExpiresAt(sess.get());
  if (expires_at <= static_cast<int64_t>(std::time(nullptr))) return result("expired");
  if (state.store) {
    unsigned int ctx_len = 0;
    const unsigned char* sid_ctx = SSL_SESSION_get0_id_context(sess.get(), &ctx_len);
    const auto stored =
        state.store->Insert(StoreScope{sid_ctx, ctx_len}, id, id_len, der.Data(), der.Length(), expires_at);
    return result(stored == SharedStore::InsertResult::kStored ? "stored" : "notStored");
  }
  // OpenSSL's own cache: bounded by cache.size (the oldest session goes), expired by the
  // session's own time and timeout, looked up before any callback.
  ERR_set_mark();
  SSL_CTX_add_session(ctx, sess.get());
  ERR_pop_to_mark();
  return result("stored");
}

// fleetCaptureDropped(handle): sessions not replicated because the queue to JS was full.
Napi::Value FleetCaptureDropped(const Napi::CallbackInfo& info) {
  SSL_CTX* ctx = nullptr;
  ContextState& state = LiveStateFrom(info[0], &ctx);
  return Napi::Number::New(info.Env(), state.capture ? static_cast<double>(state.capture->dropped()) : 0);
}

}  // namespace

void InitFleetReplication(Napi::Env env, Napi::Object exports) {
  exports.Set("fleetCapture", Napi::Function::New(env, FleetCapture, "fleetCapture"));
  exports.Set("fleetImport", Napi::Function::New(env, FleetImport, "fleetImport"));
  exports.Set("fleetCaptureDropped", Napi::Function::New(env, FleetCaptureDropped, "fleetCaptureDropped"));
}

}  // namespace tsc
