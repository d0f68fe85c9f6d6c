// Session-ID context: what OpenSSL will compare a resumed session's context with. OpenSSL has no
// getter for it and Node's rule differs by line (20 and 26: the sessionIdContext string; 22 and
// 24: SHA-256 of the string and its NUL), so the addon reads it back from OpenSSL itself.
#pragma once

#include <napi.h>
#include <openssl/ssl.h>

#include <array>
#include <vector>

#include "common/shared_store.h"

namespace tsc {

struct ContextState;

// Copies the context's session-ID context into *out. Reads it from the session OpenSSL creates
// (ssl_get_new_session copies the SSL's context into it) when a throwaway client SSL made from
// `ctx` writes its first ClientHello into a memory BIO; nothing reaches the network, no
// handshake completes, no session callback runs. False (and *out untouched) if OpenSSL could not
// build that ClientHello, e.g. a context limited to a server-only method.
bool ReadSessionIdContext(SSL_CTX* ctx, std::vector<unsigned char>* out) noexcept;

// Node 22 and 24 give each connection its own session-ID context from a ClientHello callback of
// theirs (re-installed by every TLSWrap; OpenSSL has no getter to chain it). OpenSSL runs the
// ticket callbacks after it and before it compares a ticket's context with the connection's, and
// the generate callback before a new ticket is sealed: these two put the context's pinned bytes
// (ContextState::per_connection_sid_ctx) on the connection and on the session it is about to
// seal. No-ops when nothing is pinned. Never throw: they run inside OpenSSL's callbacks.
void PinSessionIdContext(SSL* ssl) noexcept;
void PinSessionIdContext(SSL* ssl, SSL_SESSION* fresh) noexcept;

// The scope of a shared-store lookup on `ssl`: exactly the session-ID context OpenSSL compares the
// returned session's with (ssl_get_prev_session), which it holds on the connection without a
// getter. The get-session callback runs inside ssl_get_prev_session, after the ClientHello
// callbacks (Node 22/24 set the connection's context there) and before the servername callback
// and the certificate callback (Node's SNI switch, SSL_set_SSL_CTX), and no ticket callback runs
// before it in the same lookup: so the connection still holds what SSL_new copied from the
// context (Node 20, 26), or what Node 22/24 computed from its copy of the context's string and
// the ClientHello's SNI name. `state` is the context whose store is asked (lookup_sid_ctx).
// Computed on first Get(), from the ClientHello OpenSSL still holds (SSL_client_hello_get0_ext).
class ConnectionScope final : public ScopeSource {
 public:
  ConnectionScope(SSL* ssl, const ContextState* state) : ssl_(ssl), state_(state) {}
  bool Get(StoreScope* out) const noexcept override;

 private:
  SSL* ssl_;
  const ContextState* state_;
  mutable std::array<unsigned char, 32> digest_{};
  mutable bool known_ = false;  // computed once per lookup, however often asked
  mutable StoreScope scope_;
};

void InitSessionIdContext(Napi::Env env, Napi::Object exports);

}  // namespace tsc
