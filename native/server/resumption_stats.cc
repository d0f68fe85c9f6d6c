#include "server/resumption_stats.h"

#include <openssl/evp.h>
#include <openssl/tls1.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>
#include <vector>

#include "common/context_access.h"
#include "common/session_id_context.h"
#include "common/shared_store.h"
#include "server/resumption_tickets.h"
#include "server/session_age.h"
#include "server/ticket_ring.h"

namespace tsc {
namespace {

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
const char* const kReasonNames[kReasonCount] = {"notFound",         "unknownKey", "badTicket",
                                                "expired",          "tooOld",     "contextMismatch",
                                                "protocolMismatch", "storeError", "notYetReplicated"};

enum Protocol : int { kTls12, kTls13, kProtocolCount };
const char* const kProtocolNames[kProtocolCount] = {"TLSv1.2", "TLSv1.3"};

enum Mechanism : int { kSessionId, kTls12Ticket, kTls13Ticket, kTls13Stateful, kMechanismCount };
const char* const kMechanismNames[kMechanismCount] = {"sessionId", "tls12Ticket", "tls13Ticket", "tls13Stateful"};

// Upper bounds (seconds) of the session-age histogram; a last bucket takes the rest.
constexpr int64_t kAgeBounds[] = {1, 10, 60, 600, 3600, 7200, 21600, 86400, 259200, 604800};
constexpr size_t kAgeBucketCount = sizeof(kAgeBounds) / sizeof(kAgeBounds[0]) + 1;

// RFC 8446 4.1.3: the random of a ServerHello that is a HelloRetryRequest.
constexpr unsigned char kHelloRetryRandom[32] = {0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c,
                                                 0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb,
                                                 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c};

// What a ClientHello offered.
constexpr uint8_t kOfferSessionId = 1;  // non-empty legacy session ID
constexpr uint8_t kOfferTicket = 2;     // non-empty session_ticket extension (a TLS 1.2 ticket)
constexpr uint8_t kOfferPsk = 4;        // pre_shared_key extension (a TLS 1.3 ticket)
constexpr uint8_t kClientTls13 = 8;     // supported_versions lists TLS 1.3

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
  bool not_replicated = false;  // a fleet member issued the ID and it has not reached this one
  long misses0 = 0;
  long cb_hits0 = 0;
  long timeouts0 = 0;
  std::array<unsigned char, SSL_MAX_SSL_SESSION_ID_LENGTH> id{};
  size_t id_len = 0;
};

// The handshake whose ClientHello was processed last on this thread and whose session lookup
// has not been read back yet. OpenSSL runs the ClientHello callback and the session lookup in one
// synchronous step, so the next callback of any other connection on this thread (or this one's
// ServerHello) comes after that lookup and before any other lookup: that is when OpenSSL's
// counters are read back, and their change belongs to this handshake alone.
thread_local Handshake* pending = nullptr;

int state_index = -1;
int handshake_index = -1;
std::once_flag index_once;

void FreeState(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  std::unique_ptr<ResumptionState> owned(static_cast<ResumptionState*>(ptr));
}

void FreeHandshake(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  auto* h = static_cast<Handshake*>(ptr);
  if (h != nullptr && pending == h) pending = nullptr;
  std::unique_ptr<Handshake> owned(h);
}

void InitIndexes() {
  std::call_once(index_once, [] {
    state_index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, FreeState);
    handshake_index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, FreeHandshake);
  });
}

ResumptionState* StateOf(const SSL_CTX* ctx) {
  if (ctx == nullptr || state_index < 0) return nullptr;
  return static_cast<ResumptionState*>(SSL_CTX_get_ex_data(ctx, state_index));
}

Handshake* HandshakeOf(const SSL* ssl) {
  if (handshake_index < 0) return nullptr;
  return static_cast<Handshake*>(SSL_get_ex_data(ssl, handshake_index));
}

void Settle(Handshake* h) {
  if (h == nullptr || h->settled) return;
  h->settled = true;
  SSL_CTX* ctx = h->ctx;
  h->timed_out = SSL_CTX_sess_timeouts(ctx) > h->timeouts0;
  const bool internal_lookup = (SSL_CTX_get_session_cache_mode(ctx) & SSL_SESS_CACHE_NO_INTERNAL_LOOKUP) == 0;
  h->found = (internal_lookup && SSL_CTX_sess_misses(ctx) == h->misses0) || SSL_CTX_sess_cb_hits(ctx) > h->cb_hits0;
}

// Reads back the pending handshake's lookup, unless it is `self` (whose lookup may be running).
void SettlePending(const Handshake* self) {
  if (pending != nullptr && pending != self) {
    Settle(pending);
    pending = nullptr;
  }
}

int64_t NowSeconds() { return static_cast<int64_t>(std::time(nullptr)); }

// What a ClientHello offered, read from the message itself: Node's TLSWrap replaces the
// context's ClientHello callback on Node 22 and later (measured: ours was never called), and the
// message callback sees the same bytes on every line. Bounds-checked; a message that does not
// parse offers nothing (OpenSSL will refuse it anyway).
struct ClientHelloOffers {
  uint8_t offers = 0;
  const unsigned char* sid = nullptr;
  size_t sid_len = 0;
};

class Reader {
 public:
  Reader(const unsigned char* p, size_t n) : p_(p), n_(n) {}
  bool Skip(size_t k) {
    if (k > n_) return false;
    p_ += k;
    n_ -= k;
    return true;
  }
  bool Read(size_t bytes, size_t* v) {
    if (bytes > n_) return false;
    size_t out = 0;
    for (size_t i = 0; i < bytes; i++) out = (out << 8) | p_[i];
    *v = out;
    p_ += bytes;
    n_ -= bytes;
    return true;
  }
  // A length-prefixed vector: its body as a Reader of its own.
  bool Sub(size_t prefix, Reader* body) {
    size_t len = 0;
    if (!Read(prefix, &len) || len > n_) return false;
    *body = Reader(p_, len);
    p_ += len;
    n_ -= len;
    return true;
  }
  const unsigned char* data() const { return p_; }
  size_t size() const { return n_; }

 private:
  const unsigned char* p_;
  size_t n_;
};

bool ParseClientHello(const unsigned char* msg, size_t len, ClientHelloOffers* out) {
  Reader r(msg, len);
  size_t type = 0, body_len = 0;
  if (!r.Read(1, &type) || type != SSL3_MT_CLIENT_HELLO || !r.Read(3, &body_len) || body_len > r.size()) return false;
  Reader body(r.data(), body_len);
  Reader sid(nullptr, 0), suites(nullptr, 0), compression(nullptr, 0), exts(nullptr, 0);
  if (!body.Skip(2 + 32) || !body.Sub(1, &sid) || !body.Sub(2, &suites) || !body.Sub(1, &compression)) return false;
  if (sid.size() > SSL_MAX_SSL_SESSION_ID_LENGTH) return false;
  out->sid = sid.data();
  out->sid_len = sid.size();
  if (out->sid_len > 0) out->offers |= kOfferSessionId;
  if (body.size() == 0) return true;  // no extensions
  if (!body.Sub(2, &exts)) return false;
  while (exts.size() > 0) {
    size_t ext_type = 0;
    Reader ext(nullptr, 0);
    if (!exts.Read(2, &ext_type) || !exts.Sub(2, &ext)) return false;
    if (ext_type == TLSEXT_TYPE_session_ticket && ext.size() > 0) out->offers |= kOfferTicket;
    if (ext_type == TLSEXT_TYPE_psk) out->offers |= kOfferPsk;
    if (ext_type == TLSEXT_TYPE_supported_versions) {
      Reader versions(nullptr, 0);
      if (!ext.Sub(1, &versions)) return false;
      size_t v = 0;
      while (versions.Read(2, &v)) {
        if (v == TLS1_3_VERSION) out->offers |= kClientTls13;
      }
    }
  }
  return true;
}

// The ClientHello has been read; OpenSSL processes it and looks the session up next, in the same
// call. Records the offer and OpenSSL's lookup counters before that lookup.
void OnClientHello(SSL* ssl, const unsigned char* msg, size_t len) {
  Handshake* existing = HandshakeOf(ssl);
  SettlePending(existing);
  SSL_CTX* ctx = SSL_get_SSL_CTX(ssl);
  ResumptionState* state = StateOf(ctx);
  ClientHelloOffers hello;
  if (state == nullptr || !ParseClientHello(msg, len, &hello)) {
    SSL_set_msg_callback(ssl, nullptr);
    return;
  }
  const uint8_t offered = hello.offers & (kOfferSessionId | kOfferTicket | kOfferPsk);
  const int64_t cap = state->max_age_seconds.load(std::memory_order_relaxed);
  // A cap below the cache timeout must shorten every new session, offered or not (Classify).
  const bool caps_new_sessions = cap > 0 && cap < static_cast<int64_t>(SSL_CTX_get_timeout(ctx));
  if (offered == 0 && !caps_new_sessions) {
    if (existing != nullptr) existing->offers = 0;
    // Nothing to classify: the message callback leaves this connection now.
    SSL_set_msg_callback(ssl, nullptr);
    return;
  }
  Handshake* h = existing;
  if (h == nullptr) {
    auto owned = std::make_unique<Handshake>();
    if (SSL_set_ex_data(ssl, handshake_index, owned.get()) != 1) return;
    h = owned.release();
  }
  *h = Handshake();  // a second ClientHello (after a HelloRetryRequest) starts over
  h->ctx = ctx;
  h->offers = offered != 0 ? hello.offers : 0;
  h->id_len = hello.sid_len;
  if (h->id_len > 0) std::memcpy(h->id.data(), hello.sid, h->id_len);
  h->misses0 = SSL_CTX_sess_misses(ctx);
  h->cb_hits0 = SSL_CTX_sess_cb_hits(ctx);
  h->timeouts0 = SSL_CTX_sess_timeouts(ctx);
  pending = h;
}

bool RingHoldsKey(SSL_CTX* ctx, const unsigned char* name, size_t len) {
  ContextState* cs = ContextStateOf(ctx);
  if (cs == nullptr || !cs->ring || len < TicketRing::kNameBytes) return false;
  for (const auto& k : cs->ring->Current()->keys) {
    if (std::memcmp(k->name.data(), name, TicketRing::kNameBytes) == 0) return true;
  }
  return false;
}

// With a ring attached the ring's keys are the known ones; without, Node's own 48-byte key.
bool KnownKeyName(SSL_CTX* ctx, ResumptionState& state, const unsigned char* name, size_t len) {
  if (len < TicketRing::kNameBytes) return false;
  ContextState* cs = ContextStateOf(ctx);
  if (cs != nullptr && cs->ring) return RingHoldsKey(ctx, name, len);
  std::lock_guard<std::mutex> lock(state.mutex);
  return state.has_node_key_name && std::memcmp(state.node_key_name.data(), name, TicketRing::kNameBytes) == 0;
}

// TLS 1.3 resumes a PSK only under a suite with the same hash (RFC 8446 4.2.11); OpenSSL checks
// it after this callback and drops the PSK without a word.
bool PskHashFits(SSL* ssl, const SSL_SESSION* sess) {
  if (SSL_version(ssl) != TLS1_3_VERSION) return true;
  const SSL_CIPHER* chosen = SSL_get_pending_cipher(ssl);
  const SSL_CIPHER* original = SSL_SESSION_get0_cipher(sess);
  if (chosen == nullptr || original == nullptr) return true;
  const EVP_MD* a = SSL_CIPHER_get_handshake_digest(chosen);
  const EVP_MD* b = SSL_CIPHER_get_handshake_digest(original);
  return a == nullptr || b == nullptr || EVP_MD_get_type(a) == EVP_MD_get_type(b);
}

SSL_TICKET_RETURN DecryptTicketCb(SSL* ssl, SSL_SESSION* sess, const unsigned char* keyname, size_t keyname_len,
                                  SSL_TICKET_STATUS status, void* /*arg*/) noexcept {
  // What OpenSSL does without a callback, unless a check below refuses the session.
  const bool success = status == SSL_TICKET_SUCCESS || status == SSL_TICKET_SUCCESS_RENEW;
  const SSL_TICKET_RETURN keep =
      status == SSL_TICKET_SUCCESS_RENEW ? SSL_TICKET_RETURN_USE_RENEW : SSL_TICKET_RETURN_USE;
  const SSL_TICKET_RETURN fallback = success ? keep : SSL_TICKET_RETURN_IGNORE_RENEW;
  PinSessionIdContext(ssl);  // before OpenSSL compares the ticket's context with the connection's
  try {
    Handshake* h = HandshakeOf(ssl);
    SettlePending(h);
    SSL_CTX* ctx = SSL_get_SSL_CTX(ssl);
    ResumptionState* state = StateOf(ctx);
    if (h == nullptr || state == nullptr || status == SSL_TICKET_EMPTY) return fallback;
    h->ticket_seen = true;
    if (status == SSL_TICKET_NO_DECRYPT) {
      // OpenSSL reports an unknown key name, a failed HMAC and a failed decryption alike; the
      // name tells the first from the others.
      h->reason = KnownKeyName(ctx, *state, keyname, keyname_len) ? kBadTicket : kUnknownKey;
      return fallback;
    }
    if (!success || sess == nullptr) return fallback;
    const int64_t cap = state->max_age_seconds.load(std::memory_order_relaxed);
    const int64_t original = OriginalTime(sess);
    if (cap > 0 && NowSeconds() - original > cap) {
      h->reason = kTooOld;
      return SSL_TICKET_RETURN_IGNORE_RENEW;  // full handshake, and a fresh ticket after it
    }
    // OpenSSL refuses these itself right after this callback; only the reason is ours to record.
    if (SSL_SESSION_get_protocol_version(sess) != SSL_version(ssl) || !PskHashFits(ssl, sess)) {
      h->reason = kProtocolMismatch;
      return keep;
    }
    h->ticket_ok = true;
    h->ticket_capped = cap > 0 && original + cap <= static_cast<int64_t>(SSL_SESSION_get_time(sess)) +
                                                        static_cast<int64_t>(SSL_SESSION_get_timeout(sess));
    h->via_ring = RingHoldsKey(ctx, keyname, keyname_len);
    return keep;
  } catch (...) {
    return fallback;
  }
}

int GenerateTicketCb(SSL* ssl, void* /*arg*/) noexcept {
  PinSessionIdContext(ssl, SSL_get_session(ssl));  // before the session is sealed into the ticket
  try {
    SettlePending(nullptr);
    ResumptionState* state = StateOf(SSL_get_SSL_CTX(ssl));
    SSL_SESSION* sess = SSL_get_session(ssl);
    if (state != nullptr && sess != nullptr) {
      // A stateless ticket is refused past the cap by DecryptTicketCb; its lifetime stays as it
      // is, or a TLS 1.3 client would stop offering it (it drops tickets past their lifetime
      // hint) and the refusal would never be seen. A stateful one (SSL_OP_NO_TICKET) has no
      // callback on the way back: its lifetime is what ends it.
      const bool stateful = (SSL_get_options(ssl) & SSL_OP_NO_TICKET) != 0;
      const int64_t cap = state->max_age_seconds.load(std::memory_order_relaxed);
      StampOriginalTime(sess, NowSeconds(), stateful ? cap : 0);
    }
  } catch (...) {
  }
  return 1;  // 0 would fail the handshake
}

bool MatchesStoreError(ResumptionState& state, const Handshake& h) {
  if (!state.any_store_errors.load(std::memory_order_relaxed) || h.id_len == 0) return false;
  std::lock_guard<std::mutex> lock(state.mutex);
  for (auto& slot : state.store_errors) {
    if (slot.len == h.id_len && std::memcmp(slot.id.data(), h.id.data(), h.id_len) == 0) {
      slot.len = 0;  // one failed lookup explains one missed resumption
      return true;
    }
  }
  return false;
}

void RecordSample(ResumptionState& state, int reason, int protocol, int mechanism) {
  const auto now = std::chrono::system_clock::now();
  const int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const int64_t second = ms / 1000;
  std::lock_guard<std::mutex> lock(state.mutex);
  if (state.last_sample_second[reason] == second || state.samples.size() >= kSampleLimit) {
    state.suppressed[reason]++;
    return;
  }
  state.last_sample_second[reason] = second;
  state.samples.push_back(Sample{reason, protocol, mechanism, ms, state.suppressed[reason]});
  state.suppressed[reason] = 0;
}

void CountAge(ResumptionState& state, int protocol, SSL* ssl) {
  SSL_SESSION* sess = SSL_get_session(ssl);
  if (sess == nullptr) return;
  int64_t age = NowSeconds() - OriginalTime(sess);
  if (age < 0) age = 0;
  size_t bucket = 0;
  while (bucket < kAgeBucketCount - 1 && age > kAgeBounds[bucket]) bucket++;
  state.age_counts[protocol][bucket].fetch_add(1, std::memory_order_relaxed);
  state.age_sum_seconds[protocol].fetch_add(static_cast<uint64_t>(age), std::memory_order_relaxed);
}

// Runs when the ServerHello leaves: OpenSSL has decided whether it resumes.
void Classify(SSL* ssl) {
  SSL_CTX* ctx = SSL_get_SSL_CTX(ssl);
  ResumptionState* state = StateOf(ctx);
  if (state == nullptr) return;
  Handshake* h = HandshakeOf(ssl);
  if (h != nullptr && pending == h) {
    Settle(h);
    pending = nullptr;
  }
  const bool resumed = SSL_session_reused(ssl) == 1;
  const int64_t cap = state->max_age_seconds.load(std::memory_order_relaxed);
  if (!resumed && cap > 0) {
    // A TLS 1.2 session ID is never renewed: capping a new session's lifetime caps its age.
    if (SSL_SESSION* fresh = SSL_get_session(ssl)) CapTimeout(fresh, cap);
  }
  if (h == nullptr || h->offers == 0) return;
  const int version = SSL_version(ssl);
  const int protocol = version == TLS1_3_VERSION ? kTls13 : version == TLS1_2_VERSION ? kTls12 : -1;
  if (protocol < 0) return;
  const bool sid = (h->offers & kOfferSessionId) != 0;
  const bool ticket = (h->offers & kOfferTicket) != 0;
  const bool psk = (h->offers & kOfferPsk) != 0;
  const bool client13 = (h->offers & kClientTls13) != 0;
  bool offered = false;
  int mechanism = kSessionId;
  if (protocol == kTls13) {
    // The legacy session ID of a TLS 1.3 handshake is random (middlebox compatibility).
    offered = psk || ticket;
    mechanism = psk ? (h->ticket_seen ? kTls13Ticket : kTls13Stateful) : kTls12Ticket;
  } else {
    // A client that offers TLS 1.3 sends a random legacy session ID too: an offer only if it
    // resumed (nothing tells a random ID from an unknown real one).
    offered = ticket || psk || (sid && (!client13 || resumed));
    mechanism = ticket ? kTls12Ticket : psk ? kTls13Ticket : kSessionId;
  }
  if (!offered) return;
  state->offered[protocol].fetch_add(1, std::memory_order_relaxed);
  if (resumed) {
    state->resumed[protocol].fetch_add(1, std::memory_order_relaxed);
    CountAge(*state, protocol, ssl);
    if (h->via_ring) {
      ContextState* cs = ContextStateOf(ctx);
      if (cs != nullptr && cs->ring) cs->ring->counters().resumed.fetch_add(1, std::memory_order_relaxed);
    }
    return;
  }
  int reason = kNotFound;
  // Consumed whatever the reason, so a fleet lookup's record never outlives the miss it explains.
  const bool fleet_failed = MatchesStoreError(*state, *h);
  if ((protocol == kTls13 && !psk) || (protocol == kTls12 && psk && !ticket)) {
    reason = kProtocolMismatch;  // a session of the other version
  } else if (h->reason != kNoReason) {
    reason = h->reason;
  } else if (h->ticket_ok) {
    // OpenSSL's checks after the ticket callback: session-ID context, then lifetime (then, TLS
    // 1.2 only, extended-master-secret consistency, counted as a context mismatch).
    reason = h->timed_out ? (h->ticket_capped ? kTooOld : kExpired) : kContextMismatch;
  } else if (h->store_failed || fleet_failed) {
    reason = kStoreError;
  } else if (h->not_replicated) {
    reason = kNotYetReplicated;
  } else if (h->timed_out || h->store_expired) {
    // A stateful session: OpenSSL refuses it by its lifetime without showing it. With a cap
    // below the cache timeout every stateful lifetime ends at its cap (session_age.h).
    reason = cap > 0 && cap < static_cast<int64_t>(SSL_CTX_get_timeout(ctx)) ? kTooOld : kExpired;
  } else if (h->found) {
    reason = kContextMismatch;
  }
  state->failed[protocol][reason].fetch_add(1, std::memory_order_relaxed);
  RecordSample(*state, reason, protocol, mechanism);
}

void MsgCb(int write_p, int /*version*/, int content_type, const void* buf, size_t len, SSL* ssl, void* /*arg*/) {
  if (!SSL_is_server(ssl)) {
    SSL_set_msg_callback(ssl, nullptr);  // a client context: nothing of ours to see
    return;
  }
  if (content_type != SSL3_RT_HANDSHAKE || len < 1) return;
  const auto* p = static_cast<const unsigned char*>(buf);
  if (write_p == 0) {
    if (p[0] != SSL3_MT_CLIENT_HELLO) return;
    try {
      OnClientHello(ssl, p, len);
    } catch (...) {
    }
    return;
  }
  if (len < 6 + sizeof(kHelloRetryRandom)) return;
  if (p[0] != SSL3_MT_SERVER_HELLO || std::memcmp(p + 6, kHelloRetryRandom, sizeof(kHelloRetryRandom)) == 0) return;
  // Only the ServerHello matters: from here on the connection runs without this callback.
  SSL_set_msg_callback(ssl, nullptr);
  try {
    Classify(ssl);
  } catch (...) {
  }
  IssueTicketsOnResumption(ssl);
}

ResumptionState* EnsureState(SSL_CTX* ctx) {
  InitIndexes();
  if (state_index < 0 || handshake_index < 0) return nullptr;
  if (ResumptionState* existing = StateOf(ctx)) return existing;
  auto state = std::make_unique<ResumptionState>();
  if (SSL_CTX_set_ex_data(ctx, state_index, state.get()) != 1) return nullptr;
  return state.release();
}

SSL_CTX* LiveContext(const Napi::CallbackInfo& info) {
  SSL_CTX* ctx = AttachmentFrom(info[0]).ctx.get();
  if (ContextStateOf(ctx) == nullptr) throw Napi::Error::New(info.Env(), "attachment is detached");
  return ctx;
}

// resumptionApply(handle, maxAgeSeconds, nodeTicketKeyName: Buffer | null)
Napi::Value ResumptionApply(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL_CTX* ctx = LiveContext(info);
  const int64_t max_age = info[1].ToNumber().Int64Value();
  if (max_age < 0) throw Napi::RangeError::New(env, "resumptionApply: maxAgeSeconds out of range");
  ResumptionState* state = EnsureState(ctx);
  if (state == nullptr) throw Napi::Error::New(env, "resumptionApply: no ex_data slot for the counters");
  {
    std::lock_guard<std::mutex> lock(state->mutex);
    state->has_node_key_name = false;
    if (info.Length() > 2 && info[2].IsBuffer()) {
      auto name = info[2].As<Napi::Buffer<unsigned char>>();
      if (name.Length() >= TicketRing::kNameBytes) {
        std::memcpy(state->node_key_name.data(), name.Data(), TicketRing::kNameBytes);
        state->has_node_key_name = true;
      }
    }
  }
  state->max_age_seconds.store(max_age, std::memory_order_relaxed);
  SSL_CTX_set_msg_callback(ctx, MsgCb);
  SSL_CTX_set_session_ticket_cb(ctx, GenerateTicketCb, DecryptTicketCb, nullptr);
  return env.Undefined();
}

Napi::Value ResumptionStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL_CTX* ctx = LiveContext(info);
  SettlePending(nullptr);
  ResumptionState* state = StateOf(ctx);
  Napi::Object out = Napi::Object::New(env);
  auto num = [&](uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); };
  auto per_protocol = [&](auto read) {
    Napi::Object o = Napi::Object::New(env);
    for (int p = 0; p < kProtocolCount; p++) o.Set(kProtocolNames[p], num(state != nullptr ? read(p) : 0));
    return o;
  };
  auto load = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  out.Set("offered", per_protocol([&](int p) { return load(state->offered[p]); }));
  out.Set("resumed", per_protocol([&](int p) { return load(state->resumed[p]); }));
  Napi::Object failed = Napi::Object::New(env);
  for (int r = 0; r < kReasonCount; r++)
    failed.Set(kReasonNames[r], per_protocol([&](int p) { return load(state->failed[p][r]); }));
  out.Set("failed", failed);
  Napi::Array bounds = Napi::Array::New(env, kAgeBucketCount - 1);
  for (size_t b = 0; b + 1 < kAgeBucketCount; b++)
    bounds.Set(static_cast<uint32_t>(b), num(static_cast<uint64_t>(kAgeBounds[b])));
  out.Set("ageBounds", bounds);
  Napi::Object ages = Napi::Object::New(env);
  for (int p = 0; p < kProtocolCount; p++) {
    Napi::Object a = Napi::Object::New(env);
    Napi::Array counts = Napi::Array::New(env, kAgeBucketCount);
    for (size_t b = 0; b < kAgeBucketCount; b++)
      counts.Set(static_cast<uint32_t>(b), num(state != nullptr ? load(state->age_counts[p][b]) : 0));
    a.Set("counts", counts);
    a.Set("sumSeconds", num(state != nullptr ? load(state->age_sum_seconds[p]) : 0));
    ages.Set(kProtocolNames[p], a);
  }
  out.Set("age", ages);
  return out;
}

// resumptionSamples(handle): the sampled failures since the last call, oldest first.
Napi::Value ResumptionSamples(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ResumptionState* state = StateOf(LiveContext(info));
  std::vector<Sample> taken;
  if (state != nullptr) {
    std::lock_guard<std::mutex> lock(state->mutex);
    taken.swap(state->samples);
  }
  Napi::Array out = Napi::Array::New(env, taken.size());
  for (size_t i = 0; i < taken.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("reason", kReasonNames[taken[i].reason]);
    o.Set("protocol", kProtocolNames[taken[i].protocol]);
    o.Set("mechanism", kMechanismNames[taken[i].mechanism]);
    o.Set("atMs", Napi::Number::New(env, static_cast<double>(taken[i].at_ms)));
    o.Set("suppressed", Napi::Number::New(env, static_cast<double>(taken[i].suppressed)));
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

// resumptionStoreError(handle, sessionId: Buffer): a fleet lookup for this ID failed.
Napi::Value ResumptionStoreError(const Napi::CallbackInfo& info) {
  SSL_CTX* ctx = LiveContext(info);
  if (info.Length() > 1 && info[1].IsBuffer()) {
    auto id = info[1].As<Napi::Buffer<unsigned char>>();
    NoteStoreError(ctx, id.Data(), id.Length());
  }
  return info.Env().Undefined();
}

// _resumptionCountingOff(handle): BENCHMARK ONLY, the control that shows what counting costs.
Napi::Value ResumptionCountingOff(const Napi::CallbackInfo& info) {
  DetachResumptionStats(LiveContext(info));
  return info.Env().Undefined();
}

}  // namespace

void NoteStoreMiss(SSL* ssl, StoreMiss why) noexcept {
  Handshake* h = HandshakeOf(ssl);
  if (h == nullptr) return;
  // OpenSSL looks up each offered TLS 1.3 PSK identity in turn: any failure explains the miss.
  h->store_failed |= why == StoreMiss::kFailed;
  h->store_expired |= why == StoreMiss::kExpired;
}

void NoteNotYetReplicated(SSL* ssl) noexcept {
  if (Handshake* h = HandshakeOf(ssl)) h->not_replicated = true;
}

void NoteStoreError(SSL_CTX* ctx, const unsigned char* id, size_t id_len) noexcept {
  ResumptionState* state = StateOf(ctx);
  if (state == nullptr || id_len == 0 || id_len > SSL_MAX_SSL_SESSION_ID_LENGTH) return;
  std::lock_guard<std::mutex> lock(state->mutex);
  StoreErrorSlot& slot = state->store_errors[state->store_error_next];
  state->store_error_next = (state->store_error_next + 1) % kStoreErrorSlots;
  std::memcpy(slot.id.data(), id, id_len);
  slot.len = id_len;
  state->any_store_errors.store(true, std::memory_order_relaxed);
}

void DetachResumptionStats(SSL_CTX* ctx) noexcept {
  if (StateOf(ctx) == nullptr) return;
  SSL_CTX_set_msg_callback(ctx, nullptr);
  SSL_CTX_set_session_ticket_cb(ctx, nullptr, nullptr, nullptr);
  std::unique_ptr<ResumptionState> owned(StateOf(ctx));
  SSL_CTX_set_ex_data(ctx, state_index, nullptr);
}

void InitResumptionStats(Napi::Env env, Napi::Object exports) {
  InitIndexes();
  exports.Set("resumptionApply", Napi::Function::New(env, ResumptionApply, "resumptionApply"));
  exports.Set("resumptionStats", Napi::Function::New(env, ResumptionStats, "resumptionStats"));
  exports.Set("resumptionSamples", Napi::Function::New(env, ResumptionSamples, "resumptionSamples"));
  exports.Set("resumptionStoreError", Napi::Function::New(env, ResumptionStoreError, "resumptionStoreError"));
  exports.Set("_resumptionCountingOff", Napi::Function::New(env, ResumptionCountingOff, "_resumptionCountingOff"));
  // The reason names in counting order: src/common/native.ts compares them with the TypeScript
  // list at load, so a binary and dist/ from two builds fail there, not inside stats().
  Napi::Array reasons = Napi::Array::New(env, kReasonCount);
  for (uint32_t r = 0; r < kReasonCount; r++) reasons.Set(r, Napi::String::New(env, kReasonNames[r]));
  exports.Set("resumptionFailureReasons", reasons);
}

}  // namespace tsc
