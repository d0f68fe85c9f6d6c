// Fleet replication, the native ends (src/fleet/replication.ts is the Redis side):
//   - capture: every session a replicating context issues (a TLS 1.2 session ID, a TLS 1.3
//     stateful ticket) leaves the new-session callback for JS through a thread-safe function
//     that never blocks: a full queue drops the session (counted), the handshake goes on;
//   - import: a session another member issued goes into this process's own store (the shared
//     store when attached, else OpenSSL's internal cache), called from JS, never on a handshake;
//   - the get path then reads only local memory; a miss for an ID another member issued is
//     notYetReplicated (session_callbacks.cc).
#pragma once

#include <napi.h>
#include <openssl/ssl.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/session_der.h"

namespace tsc {

// One captured session on its way to JS: its ID, DER (holds the master secret: wiped once
// handed over) and expiry (epoch seconds).
struct CapturedSession {
  std::vector<unsigned char> id;
  std::vector<unsigned char> der;
  int64_t expires_at = 0;
  ~CapturedSession();
};

class SessionCapture {
 public:
  // `fn(id: Buffer, der: Buffer, expiresAt: number)` runs on the JS thread, after the handshake step.
  static std::shared_ptr<SessionCapture> Create(Napi::Env env, Napi::Function fn);
  ~SessionCapture();
  SessionCapture(const SessionCapture&) = delete;
  SessionCapture& operator=(const SessionCapture&) = delete;

  // From the new-session callback (a session that comes back by ID, encoded once for the store
  // and the fleet): queues a copy for JS; never throws, never waits.
  void Offer(const EncodedSession& session) noexcept;
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  SessionCapture() = default;
  static void CallJs(Napi::Env env, Napi::Function fn, SessionCapture* self, CapturedSession* data);
  using Tsfn = Napi::TypedThreadSafeFunction<SessionCapture, CapturedSession, CallJs>;
  Tsfn tsfn_;
  // Cleared by the thread-safe function's finalizer (environment teardown): no call after it.
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);
  std::atomic<uint64_t> dropped_{0};
};

// Whether sessions `ssl` issues come back by ID (a TLS 1.3 session with stateless tickets comes
// back inside the ticket): only those are stored or replicated.
bool ResumedById(SSL* ssl);

void InitFleetReplication(Napi::Env env, Napi::Object exports);

}  // namespace tsc
