// What the resumption outcome code shares (native/server): the per-context counters, the
// per-connection record of what a ClientHello offered, and the one handshake on each thread whose
// session lookup has not been read back yet. The message callback (resumption_outcome.cc), the
// ticket callbacks (session_ticket_cb.cc), the store hooks and stats() (resumption_stats.cc) all
// read and write these; nothing outside native/server includes this header.
#pragma once

#include <openssl/ssl.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "server/ticket_ring.h"

namespace tsc {
namespace resumption {

// Order and names are the stats().resumption.failed contract.
enum Reason : int {
  kNotFound,
  kUnknownKey,
  kBadTicket,
  kExpired,
  kTooOld,
  kContextMismatch,
  kProtocolMismatch,
  kStoreError,
  kNotYetReplicated,
  kReasonCount,
  kNoReason = -1,
};
inline constexpr const char* kReasonNames[kReasonCount] = {"notFound",         "unknownKey", "badTicket",
                                                           "expired",          "tooOld",     "contextMismatch",
                                                           "protocolMismatch", "storeError", "notYetReplicated"};

enum Protocol : int { kTls12, kTls13, kProtocolCount };
inline constexpr const char* kProtocolNames[kProtocolCount] = {"TLSv1.2", "TLSv1.3"};

enum Mechanism : int { kSessionId, kTls12Ticket, kTls13Ticket, kTls13Stateful, kMechanismCount };
inline constexpr const char* kMechanismNames[kMechanismCount] = {"sessionId", "tls12Ticket", "tls13Ticket",
                                                                 "tls13Stateful"};

// Upper bounds (seconds) of the session-age histogram; a last bucket takes the rest.
inline constexpr int64_t kAgeBounds[] = {1, 10, 60, 600, 3600, 7200, 21600, 86400, 259200, 604800};
constexpr size_t kAgeBucketCount = sizeof(kAgeBounds) / sizeof(kAgeBounds[0]) + 1;

constexpr size_t kSampleLimit = 64;
constexpr size_t kStoreErrorSlots = 16;

struct Sample {
  int reason;
  int protocol;
  int mechanism;
  int64_t at_ms;
  uint64_t suppressed;  // failures of this reason not sampled since the previous sample
};

struct StoreErrorSlot {
  std::array<unsigned char, SSL_MAX_SSL_SESSION_ID_LENGTH> id{};
  size_t len = 0;
};

// Per context, on its own SSL_CTX ex_data slot. Counters are atomics: a context's handshakes run
// on its thread, stats() may be read from another worker_thread's JS only through its own copy.
struct ResumptionState {
  std::atomic<uint64_t> offered[kProtocolCount]{};
  std::atomic<uint64_t> resumed[kProtocolCount]{};
  // Of those, TLS 1.3 resumptions whose ServerHello carried no key_share: psk_ke, no key exchange.
  std::atomic<uint64_t> resumed_psk_ke[kProtocolCount]{};
  std::atomic<uint64_t> failed[kProtocolCount][kReasonCount]{};
  std::atomic<uint64_t> age_counts[kProtocolCount][kAgeBucketCount]{};
  std::atomic<uint64_t> age_sum_seconds[kProtocolCount]{};
  std::atomic<int64_t> max_age_seconds{0};

  std::mutex mutex;  // guards everything below; taken on failure paths only
  std::array<unsigned char, TicketRing::kNameBytes> node_key_name{};
  bool has_node_key_name = false;
  std::array<StoreErrorSlot, kStoreErrorSlots> store_errors{};
  size_t store_error_next = 0;
  std::atomic<bool> any_store_errors{false};
  std::vector<Sample> samples;
  int64_t last_sample_second[kReasonCount] = {};
  uint64_t suppressed[kReasonCount] = {};
};

// Per connection with an offer, on its own SSL ex_data slot, freed with the SSL.
struct Handshake {
  SSL_CTX* ctx = nullptr;
  uint8_t offers = 0;
  int reason = kNoReason;      // set by the ticket callback when it knows
  bool ticket_seen = false;    // the ticket callback ran (a stateless ticket, not a stateful PSK)
  bool ticket_ok = false;      // a ticket decrypted and passed every check but OpenSSL's own
  bool ticket_capped = false;  // that ticket's lifetime ends at its age cap
  bool via_ring = false;
  bool settled = false;
  bool timed_out = false;       // OpenSSL refused the offered session as expired
  bool found = false;           // OpenSSL found the offered session ID (internal cache or callback)
  bool store_failed = false;    // the shared store failed to answer for the offered session ID
  bool store_expired = false;   // the shared store held it, past its lifetime
  bool store_context = false;   // the shared store held it under another session-ID context
  bool not_replicated = false;  // a fleet member issued the ID and it has not reached this one
  long misses0 = 0;
  long cb_hits0 = 0;
  long timeouts0 = 0;
  std::array<unsigned char, SSL_MAX_SSL_SESSION_ID_LENGTH> id{};
  size_t id_len = 0;
};

// The ex_data slots of both records; idempotent.
void InitIndexes();
ResumptionState* StateOf(const SSL_CTX* ctx);
// The context's counters, made on first use; nullptr when OpenSSL has no ex_data slot for them.
ResumptionState* EnsureState(SSL_CTX* ctx);
// Drops the context's counters (detach).
void DropState(SSL_CTX* ctx);
Handshake* HandshakeOf(const SSL* ssl);
// This connection's record, made on first use and freed with the SSL; nullptr if OpenSSL refuses
// the ex_data.
Handshake* EnsureHandshake(SSL* ssl);

// OpenSSL runs the ClientHello callback and the session lookup in one synchronous step, so the
// next callback of any other connection on this thread (or this one's ServerHello) comes after
// that lookup and before any other: that is when OpenSSL's lookup counters are read back
// (Settle), and their change belongs to the pending handshake alone.
void SetPending(Handshake* h);
// Reads back the pending handshake's lookup, unless it is `self` (whose lookup may be running).
void SettlePending(const Handshake* self);
// Reads back `h`'s lookup now if it is still pending.
void SettleIfPending(Handshake* h);

int64_t NowSeconds();

}  // namespace resumption
}  // namespace tsc
