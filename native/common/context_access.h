// Context access: turns the v8::External that Node keeps in a SecureContext into the SSL_CTX*,
// and owns the per-context state the addon hangs on that SSL_CTX (ex_data, never index 0, which
// is Node's SecureContext*). Everything else in native/ finds its state through ContextStateOf().
#pragma once

#include <napi.h>
#include <openssl/ssl.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/openssl_ptr.h"

namespace tsc {

// TLS 1.3 resumption without a key exchange (psk_ke): SSL_OP_ALLOW_NO_DHE_KEX lets a server accept
// it and makes a client offer it; SSL_OP_PREFER_NO_DHE_KEX (bit 35, OpenSSL 3.3+) makes a server
// pick it when the client offers both modes (every client does). Node's headers for OpenSSL 3.0
// (Node 20) do not name bit 35: defined here, and only ever set when the running OpenSSL is 3.3+.
#ifdef SSL_OP_PREFER_NO_DHE_KEX
constexpr uint64_t kPreferNoDheKex = SSL_OP_PREFER_NO_DHE_KEX;
#else
constexpr uint64_t kPreferNoDheKex = uint64_t{1} << 35;
#endif
constexpr uint64_t kNoDheKexOptions = SSL_OP_ALLOW_NO_DHE_KEX | kPreferNoDheKex;

// Whether the OpenSSL this process runs (Node's) knows SSL_OP_PREFER_NO_DHE_KEX.
bool ServerPskKeSupported();

class TicketRing;
class SharedStore;
class SessionCapture;

using GetSessionCb = SSL_SESSION* (*)(SSL*, const unsigned char*, int, int*);
using NewSessionCb = int (*)(SSL*, SSL_SESSION*);
using RemoveSessionCb = void (*)(SSL_CTX*, SSL_SESSION*);

// What Node had configured on the context before we attached; detach puts all of it back.
struct NodeSettings {
  long mode = 0;
  long size = 0;
  long timeout = 0;
  bool no_ticket = false;
  size_t num_tickets = 0;
  // SSL_OP_ALLOW_NO_DHE_KEX | SSL_OP_PREFER_NO_DHE_KEX as Node (the user's secureOptions) left them.
  uint64_t dhe_kex_options = 0;
  GetSessionCb get_cb = nullptr;
  NewSessionCb new_cb = nullptr;
  RemoveSessionCb remove_cb = nullptr;
  // The session-ID context as Node set it. OpenSSL has no getter: cache_controls reads it once,
  // just before it first replaces it, so detach can put back exactly these bytes.
  bool sid_ctx_saved = false;
  std::vector<unsigned char> sid_ctx;
};

// One per attached SSL_CTX. Owned by the context's ex_data slot: freed with the context, or on
// detach. Counters are atomics because worker_threads may share a context's callbacks.
struct ContextState {
  NodeSettings node;
  std::shared_ptr<TicketRing> ring;    // set when a ticket key ring is attached
  std::shared_ptr<SharedStore> store;  // set when a shared-memory store is attached
  // Fleet session store: new session IDs carry a tag keyed with this (session_id_tag.cc).
  bool id_tag = false;
  std::array<unsigned char, 16> id_tag_key{};
  // Fleet replication: every session the context issues is handed to JS (fleet_replication.cc),
  // and a miss for a fleet-tagged ID counts notYetReplicated.
  std::shared_ptr<SessionCapture> capture;
  // Non-empty: every connection and every new session gets exactly these bytes as its
  // session-ID context, whatever Node 22/24's own ClientHello callback set per connection
  // (PinSessionIdContext). The `sessionIdContext` option: what nginx and HAProxy peers compare.
  std::vector<unsigned char> per_connection_sid_ctx;
  // What a connection of this context holds as its session-ID context when OpenSSL looks a session
  // up (ConnectionScope, session_id_context.h): these bytes, or on Node 22 and 24 SHA-256 of them,
  // a NUL and the SNI name. Published by TypeScript whenever the context changes (storeScope).
  bool lookup_scope_known = false;
  bool lookup_binds_server_name = false;
  std::vector<unsigned char> lookup_sid_ctx;
  // `tickets.tls13CountOnResumption`: tickets a resumed TLS 1.3 handshake ends with; 0 leaves
  // OpenSSL's own count (resumption_tickets.h).
  std::atomic<int> tls13_count_on_resumption{0};
};

// Type tags of every External this addon hands out (napi_type_tag_object), so that one is never
// taken for another, nor for the SSL_CTX External of a Node SecureContext (which is untagged).
inline constexpr napi_type_tag kAttachmentTag = {0x7c5e1a2b3d4f6071ULL, 0x8293a4b5c6d7e8f9ULL};
inline constexpr napi_type_tag kRingTag = {0x1f2e3d4c5b6a7988ULL, 0x99a8b7c6d5e4f302ULL};

// Reads the SSL_CTX* out of a SecureContext's `_external` (docs/internals.md#external-read: not through
// napi_get_value_external, which returns garbage for Node's own externals). nullptr if `value`
// is not an External or is one of this addon's own (tagged) handles. An untagged External made
// by another addon cannot be told apart here: the JS side only ever passes what Node's own
// `_external` getter returned (src/common/target.ts), which V8 refuses to run on anything else.
SSL_CTX* SslCtxFromExternal(napi_env env, napi_value value);

// The state hung on `ctx`, or nullptr when the context is not attached. Safe in callbacks.
ContextState* ContextStateOf(const SSL_CTX* ctx);

// Creates the state on first attach (recording Node's settings); returns the existing one after.
ContextState* EnsureContextState(SSL_CTX* ctx);

// Frees the state and clears the slot. Callers restore Node's settings first.
void DropContextState(SSL_CTX* ctx);

// The JS-held handle: a counted reference on the SSL_CTX, released when the handle is collected.
struct Attachment {
  SslCtxPtr ctx;
};

// Unwraps an Attachment created by `attach`; throws a TypeError for anything else.
Attachment& AttachmentFrom(const Napi::Value& value);

// The live state behind an attachment handle (and its SSL_CTX); throws once detached.
ContextState& LiveStateFrom(const Napi::Value& value, SSL_CTX** ctx_out);

void InitContextAccess(Napi::Env env, Napi::Object exports);

}  // namespace tsc
