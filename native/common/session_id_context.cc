#include "common/session_id_context.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <array>
#include <cstring>
#include <vector>

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

using Digest = std::array<unsigned char, SHA256_DIGEST_LENGTH>;

// SHA-256 of a DER encoding made by `i2d`; false when OpenSSL cannot encode the object.
template <typename T>
bool DigestOfDer(const T* obj, int (*i2d)(const T*, unsigned char**), Digest* out) {
  unsigned char* der = nullptr;
  int len = i2d(obj, &der);
  if (len <= 0 || der == nullptr) return false;
  SHA256(der, static_cast<size_t>(len), out->data());
  OPENSSL_free(der);
  return true;
}

bool CertDigest(const X509* x, Digest* out) { return DigestOfDer<X509>(x, i2d_X509, out); }

// SHA-256 over the digests in `parts` (each a fixed 32 bytes, so concatenation is unambiguous).
Digest DigestOfDigests(const std::vector<Digest>& parts) {
  std::vector<unsigned char> all;
  for (const Digest& d : parts) all.insert(all.end(), d.begin(), d.end());
  Digest out{};
  SHA256(all.data(), all.size(), out.data());
  return out;
}

// Every certificate the context serves (one slot per key type: RSA, ECDSA, ...), each followed by
// its chain, in slot order. SSL_CTX_set_current_cert moves the context's "current" slot, which
// later SSL_CTX_use_* calls write to: it is put back on the certificate Node left current.
std::vector<Digest> ServedCertificates(SSL_CTX* ctx) {
  std::vector<Digest> parts;
  X509* current = SSL_CTX_get0_certificate(ctx);
  if (current == nullptr) return parts;
  for (int ok = SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_FIRST); ok == 1;
       ok = SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_NEXT)) {
    X509* leaf = SSL_CTX_get0_certificate(ctx);
    Digest d{};
    if (leaf == nullptr || !CertDigest(leaf, &d)) continue;
    parts.push_back(d);
    STACK_OF(X509)* chain = nullptr;
    if (SSL_CTX_get0_chain_certs(ctx, &chain) == 1 && chain != nullptr) {
      for (int i = 0; i < sk_X509_num(chain); i++) {
        if (CertDigest(sk_X509_value(chain, i), &d)) parts.push_back(d);
      }
    }
  }
  SSL_CTX_select_current_cert(ctx, current);
  return parts;
}

// The client CA names the server sends in its CertificateRequest (Node's `ca` option adds each).
std::vector<Digest> ClientCaNames(SSL_CTX* ctx) {
  std::vector<Digest> parts;
  STACK_OF(X509_NAME)* names = SSL_CTX_get_client_CA_list(ctx);
  for (int i = 0; names != nullptr && i < sk_X509_NAME_num(names); i++) {
    Digest d{};
    if (DigestOfDer<X509_NAME>(sk_X509_NAME_value(names, i), i2d_X509_NAME, &d)) parts.push_back(d);
  }
  return parts;
}

void SetDigest(Napi::Env env, Napi::Object out, const char* name, const std::vector<Digest>& parts) {
  if (parts.empty()) {
    out.Set(name, env.Null());
    return;
  }
  Digest d = DigestOfDigests(parts);
  out.Set(name, Napi::Buffer<unsigned char>::Copy(env, d.data(), d.size()));
}

// contextIdentity(secureContextExternal) -> { certificates, clientCaNames }: SHA-256 digests (null
// when empty) of what decides who may resume on this context, as nginx's
// ngx_ssl_session_id_context() hashes its certificates and client CA names. The verify store is
// left out on purpose: Node's root store and OpenSSL's hashed-directory lookups fill it lazily, so
// two members of one fleet could read different contents at attach time.
Napi::Value ContextIdentity(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL_CTX* ctx = info.Length() > 0 ? SslCtxFromExternal(env, info[0]) : nullptr;
  if (ctx == nullptr) throw Napi::TypeError::New(env, "contextIdentity: expected a SecureContext `_external`");
  ERR_set_mark();
  Napi::Object out = Napi::Object::New(env);
  SetDigest(env, out, "certificates", ServedCertificates(ctx));
  SetDigest(env, out, "clientCaNames", ClientCaNames(ctx));
  ERR_pop_to_mark();
  return out;
}
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

// The first host_name of a ClientHello's server_name extension (RFC 6066 3), as the bytes on the
// wire; false without one.
bool ServerNameOf(SSL* ssl, const unsigned char** name, size_t* len) {
  const unsigned char* ext = nullptr;
  size_t ext_len = 0;
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &ext, &ext_len) != 1 || ext_len < 2) return false;
  size_t list = (static_cast<size_t>(ext[0]) << 8) | ext[1];
  if (list + 2 > ext_len) return false;
  for (size_t at = 2; at + 3 <= list + 2;) {
    const unsigned char type = ext[at];
    const size_t n = (static_cast<size_t>(ext[at + 1]) << 8) | ext[at + 2];
    if (at + 3 + n > list + 2) return false;
    if (type == TLSEXT_NAMETYPE_host_name) {
      *name = ext + at + 3;
      *len = n;
      return true;
    }
    at += 3 + n;
  }
  return false;
}

}  // namespace

bool ConnectionScope::Get(StoreScope* out) const noexcept {
  if (!known_) {
    if (state_ == nullptr || !state_->lookup_scope_known) return false;
    const std::vector<unsigned char>& bytes = state_->lookup_sid_ctx;
    if (!state_->lookup_binds_server_name) {
      scope_ = StoreScope{bytes.data(), bytes.size()};
    } else {
      // Node 22/24: SHA-256(the context's string | 0x00 | SNI name), or of the string and NUL
      // alone without SNI (docs/internals.md#session-id-context-per-line).
      unsigned char input[SSL_MAX_SID_CTX_LENGTH + 1 + 256];
      const unsigned char* name = nullptr;
      size_t name_len = 0;
      if (bytes.size() > SSL_MAX_SID_CTX_LENGTH) return false;
      if (!ServerNameOf(ssl_, &name, &name_len)) name_len = 0;
      if (name_len > 255) return false;
      size_t n = bytes.size();
      std::memcpy(input, bytes.data(), n);
      input[n++] = 0;
      if (name_len > 0) std::memcpy(input + n, name, name_len);
      n += name_len;
      SHA256(input, n, digest_.data());
      scope_ = StoreScope{digest_.data(), digest_.size()};
    }
    known_ = true;
  }
  *out = scope_;
  return true;
}

namespace {

// storeScope(handle, bytes, bindsServerName): what connections of the attached context hold as
// their session-ID context at a store lookup (ConnectionScope).
Napi::Value StoreScopeSet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL_CTX* ctx = nullptr;
  ContextState& state = LiveStateFrom(info[0], &ctx);
  if (info.Length() < 3 || !info[1].IsBuffer()) throw Napi::TypeError::New(env, "storeScope: bytes must be a Buffer");
  auto buf = info[1].As<Napi::Buffer<unsigned char>>();
  if (buf.Length() > SSL_MAX_SID_CTX_LENGTH) throw Napi::RangeError::New(env, "storeScope: at most 32 bytes");
  state.lookup_sid_ctx.assign(buf.Data(), buf.Data() + buf.Length());
  state.lookup_binds_server_name = info[2].ToBoolean();
  state.lookup_scope_known = true;
  return env.Undefined();
}

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
  exports.Set("storeScope", Napi::Function::New(env, StoreScopeSet, "storeScope"));
  exports.Set("contextIdentity", Napi::Function::New(env, ContextIdentity, "contextIdentity"));
}

}  // namespace tsc
