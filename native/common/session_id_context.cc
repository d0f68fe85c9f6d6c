#include "common/session_id_context.h"

#include <openssl/bio.h>
#include <openssl/err.h>

#include "common/context_access.h"
#include "common/openssl_ptr.h"

namespace tsc {

bool ReadSessionIdContext(SSL_CTX* ctx, std::vector<unsigned char>* out) noexcept {
  if (ctx == nullptr) return false;
  // Whatever fails below must leave nothing on the queue: Node reads it after its next call.
  ERR_set_mark();
  bool ok = false;
  // The SSL is made from a throwaway client context and then moved onto `ctx`: SSL_set_SSL_CTX
  // copies ctx's session-ID context into it, and the handshake counters (connects) and any
  // callbacks stay those of the throwaway context, so the user's stats never see this probe.
  SslCtxPtr scratch(SSL_CTX_new(TLS_client_method()));
  SslPtr ssl(scratch ? SSL_new(scratch.get()) : nullptr);
  if (ssl && SSL_set_SSL_CTX(ssl.get(), ctx) == nullptr) ssl.reset();
  BIO* rbio = BIO_new(BIO_s_mem());
  BIO* wbio = BIO_new(BIO_s_mem());
  if (ssl && rbio != nullptr && wbio != nullptr) {
    SSL_set_bio(ssl.get(), rbio, wbio);  // the SSL owns both from here
    rbio = wbio = nullptr;
    SSL_set_connect_state(ssl.get());
    SSL_do_handshake(ssl.get());  // writes the ClientHello, then wants the ServerHello
    if (SSL_SESSION* sess = SSL_get_session(ssl.get())) {
      unsigned int len = 0;
      const unsigned char* sid_ctx = SSL_SESSION_get0_id_context(sess, &len);
      try {
        out->assign(sid_ctx, sid_ctx + len);
        ok = true;
      } catch (...) {
      }
    }
  }
  BIO_free(rbio);
  BIO_free(wbio);
  ERR_pop_to_mark();
  return ok;
}

namespace {

const std::vector<unsigned char>* PinnedOf(const SSL* ssl) {
  const ContextState* state = ContextStateOf(SSL_get_SSL_CTX(ssl));
  if (state == nullptr || state->per_connection_sid_ctx.empty()) return nullptr;
  return &state->per_connection_sid_ctx;
}

}  // namespace

void PinSessionIdContext(SSL* ssl) noexcept {
  if (const std::vector<unsigned char>* pinned = PinnedOf(ssl)) {
    SSL_set_session_id_context(ssl, pinned->data(), static_cast<unsigned int>(pinned->size()));
  }
}

void PinSessionIdContext(SSL* ssl, SSL_SESSION* fresh) noexcept {
  const std::vector<unsigned char>* pinned = PinnedOf(ssl);
  if (pinned == nullptr) return;
  SSL_set_session_id_context(ssl, pinned->data(), static_cast<unsigned int>(pinned->size()));
  if (fresh != nullptr) SSL_SESSION_set1_id_context(fresh, pinned->data(), static_cast<unsigned int>(pinned->size()));
}

namespace {

// sessionIdContextOf(handle) -> Buffer | null
Napi::Value SessionIdContextOf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<unsigned char> sid_ctx;
  if (!ReadSessionIdContext(AttachmentFrom(info[0]).ctx.get(), &sid_ctx)) return env.Null();
  return Napi::Buffer<unsigned char>::Copy(env, sid_ctx.data(), sid_ctx.size());
}

}  // namespace

void InitSessionIdContext(Napi::Env env, Napi::Object exports) {
  exports.Set("sessionIdContextOf", Napi::Function::New(env, SessionIdContextOf, "sessionIdContextOf"));
}

}  // namespace tsc
