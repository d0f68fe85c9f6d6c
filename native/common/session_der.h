// Session DER, the one place sessions are encoded for and decoded from outside OpenSSL: the
// shared store's slots and the fleet's replicated entries (EncodedSession, DecodeSession), the
// shared store's get path (bytes from a store file other processes write) and the probe's
// inspection of a client session. Plain C++ over OpenSSL (no Node-API), so the fuzz targets (fuzz/) build it too.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/key_memory.h"

namespace tsc {

class SharedStore;
class ScopeSource;
enum class StoreMiss;

// When a session stops being resumable: its start time plus its timeout, in epoch seconds.
int64_t ExpiresAt(const SSL_SESSION* sess);

// The length of `sess` encoded (i2d_SSL_SESSION), 0 when it cannot be; leaves nothing on
// OpenSSL's error queue (Node reads it after the handshake step). OpenSSL's i2d writes without a
// bound, so the length comes first.
size_t EncodedSessionLength(const SSL_SESSION* sess) noexcept;

// Encodes `sess` into `out`, which holds exactly `len` (EncodedSessionLength) bytes. False on
// failure, with nothing on the error queue. `out` then holds the master secret: the caller wipes it.
bool EncodeSession(const SSL_SESSION* sess, unsigned char* out, size_t len) noexcept;

// A session encoded once for everything outside OpenSSL that keeps it (the shared store's slot,
// the fleet capture's stream entry): its ID, DER and expiry. The DER holds the master secret: it
// is wiped when this goes.
class EncodedSession {
 public:
  // Encodes `sess`; empty() when it has no ID or cannot be encoded (an allocation failure too).
  explicit EncodedSession(const SSL_SESSION* sess) noexcept;
  ~EncodedSession();
  EncodedSession(const EncodedSession&) = delete;
  EncodedSession& operator=(const EncodedSession&) = delete;

  bool empty() const { return der_.empty(); }
  const unsigned char* id() const { return id_; }
  unsigned int id_len() const { return id_len_; }
  const KeyBytes& der() const { return der_; }
  int64_t expires_at() const { return expires_at_; }

 private:
  const unsigned char* id_ = nullptr;  // inside the session, which outlives this
  unsigned int id_len_ = 0;
  KeyBytes der_;  // key memory (common/key_memory.h): the master secret passes through it
  int64_t expires_at_ = 0;
};

// Decodes session bytes that come from outside this process (a store file other processes
// write, a session another fleet member issued): the session only when the bytes are exactly one
// encoded session with an ID, else nullptr; nothing left on OpenSSL's error queue. The caller
// owns the reference and checks what it needs (which ID, expiry, resumable).
SSL_SESSION* DecodeSession(const unsigned char* der, size_t len) noexcept;

// The get path of the shared store: looks up the session ID under the connection's scope (its
// session-ID context, shared_store.h), decodes the bytes and hands back the session only if it is
// the one asked for (same ID, same session-ID context), unexpired and resumable. An entry of the
// ID under another scope is a miss (kOtherContext) before anything is copied or decoded. nullptr
// on any miss or failure (counted as corrupt when the bytes lie), with `*why` saying which; the
// caller owns the returned reference. Never throws, leaves nothing on OpenSSL's error queue.
SSL_SESSION* LookupSession(SharedStore& store, const ScopeSource& scope, const unsigned char* id, int id_len,
                           StoreMiss* why) noexcept;

// What the probe reports about a client session (inspectSession in session_inspect.cc).
struct SessionFacts {
  const char* protocol = "unknown";  // "TLSv1.3", "TLSv1.2", ..., "unknown"
  unsigned long lifetime_hint_seconds = 0;
  bool has_ticket = false;
  unsigned int session_id_length = 0;
  long timeout_seconds = 0;
  uint32_t max_early_data = 0;
  std::vector<unsigned char> ticket;              // as the server sent it (opaque to the client)
  std::vector<unsigned char> session_id_context;  // a server session's; empty in client sessions
};

// Decodes `der` as an SSL_SESSION and reads its facts. False when the bytes are not a session.
bool ReadSessionFacts(const unsigned char* der, size_t len, SessionFacts* out);

}  // namespace tsc
