// RAII owners for the OpenSSL objects the addon holds. Every pointer the addon keeps past the
// end of a function lives in one of these, so a throw or early return never leaks a reference.
#pragma once

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <memory>

namespace tsc {

template <typename T, void (*Free)(T*)>
struct OpenSslDeleter {
  void operator()(T* p) const noexcept { Free(p); }
};

using SslCtxPtr = std::unique_ptr<SSL_CTX, OpenSslDeleter<SSL_CTX, SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, OpenSslDeleter<SSL, SSL_free>>;
using SslSessionPtr = std::unique_ptr<SSL_SESSION, OpenSslDeleter<SSL_SESSION, SSL_SESSION_free>>;
using EvpCipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, OpenSslDeleter<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free>>;

// Takes a counted reference for as long as native state points at the context (docs/internals.md#context-lifetime).
inline SslCtxPtr SslCtxUpRef(SSL_CTX* ctx) {
  if (ctx == nullptr || SSL_CTX_up_ref(ctx) != 1) return SslCtxPtr();
  return SslCtxPtr(ctx);
}

}  // namespace tsc
