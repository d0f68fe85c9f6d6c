// Session-ID context: what OpenSSL will compare a resumed session's context with. OpenSSL has no
// getter for it and Node's rule differs by line (20 and 26: the sessionIdContext string; 22 and
// 24: SHA-256 of the string and its NUL), so the addon reads it back from OpenSSL itself.
#pragma once

#include <napi.h>
#include <openssl/ssl.h>

#include <vector>

namespace tsc {

// Copies the context's session-ID context into *out. Reads it from the session OpenSSL creates
// (ssl_get_new_session copies the SSL's context into it) when a throwaway client SSL made from
// `ctx` writes its first ClientHello into a memory BIO; nothing reaches the network, no
// handshake completes, no session callback runs. False (and *out untouched) if OpenSSL could not
// build that ClientHello, e.g. a context limited to a server-only method.
bool ReadSessionIdContext(SSL_CTX* ctx, std::vector<unsigned char>* out) noexcept;

void InitSessionIdContext(Napi::Env env, Napi::Object exports);

}  // namespace tsc
