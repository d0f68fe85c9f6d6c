// Tagged session IDs for the fleet session store: every session ID a fleet member issues ends
// with a tag keyed by the fleet's secret, so a member can tell, without asking Redis, that a
// ClientHello's session ID (TLS 1.3's random legacy ID, another server's ID) cannot be in the
// store.
#pragma once

#include <napi.h>
#include <openssl/ssl.h>

#include <cstddef>

namespace tsc {

struct ContextState;

// Whether a fleet member issued `id`: the context tags its IDs and this one's tag verifies.
bool HasFleetTag(const ContextState& state, const unsigned char* id, size_t id_len);

// Stops tagging on `ctx` (detach); Node sets no session-ID generator of its own.
void ClearSessionIdTag(SSL_CTX* ctx);

void InitSessionIdTag(Napi::Env env, Napi::Object exports);

}  // namespace tsc
