#include "server/resumption_outcome.h"

#include <chrono>
#include <cstring>
#include <mutex>

#include "common/context_access.h"
#include "common/server_hello.h"
#include "server/client_hello_offers.h"
#include "server/resumption_state.h"
#include "server/resumption_tickets.h"
#include "server/session_age.h"

namespace tsc {
namespace resumption {
namespace {

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
  Handshake* h = EnsureHandshake(ssl);
  if (h == nullptr) return;
  *h = Handshake();  // a second ClientHello (after a HelloRetryRequest) starts over
  h->ctx = ctx;
  h->offers = offered != 0 ? hello.offers : 0;
  h->id_len = hello.sid_len;
  if (h->id_len > 0) std::memcpy(h->id.data(), hello.sid, h->id_len);
  h->misses0 = SSL_CTX_sess_misses(ctx);
  h->cb_hits0 = SSL_CTX_sess_cb_hits(ctx);
  h->timeouts0 = SSL_CTX_sess_timeouts(ctx);
  SetPending(h);
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
// `hello`: the ServerHello that is leaving. A resumed TLS 1.3 one without a key_share resumed in
// psk_ke mode: OpenSSL has no call that says which mode it picked (SSL_get_negotiated_group names
// the session's original group).
void Classify(SSL* ssl, const ServerHelloFacts& hello) {
  SSL_CTX* ctx = SSL_get_SSL_CTX(ssl);
  ResumptionState* state = StateOf(ctx);
  if (state == nullptr) return;
  Handshake* h = HandshakeOf(ssl);
  SettleIfPending(h);
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
    if (protocol == kTls13 && !hello.key_share) state->resumed_psk_ke[protocol].fetch_add(1, std::memory_order_relaxed);
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
  } else if (h->found || h->store_context) {
    reason = kContextMismatch;
  }
  state->failed[protocol][reason].fetch_add(1, std::memory_order_relaxed);
  RecordSample(*state, reason, protocol, mechanism);
}

}  // namespace

void ResumptionMsgCb(int write_p, int /*version*/, int content_type, const void* buf, size_t len, SSL* ssl,
                     void* /*arg*/) {
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
  if (p[0] != SSL3_MT_SERVER_HELLO) return;
  ServerHelloFacts hello;
  // A malformed one (OpenSSL wrote it: never) counts as a key exchange, the default.
  if (!ParseServerHello(p, len, &hello)) hello.key_share = true;
  if (hello.retry) return;
  // Only the ServerHello matters: from here on the connection runs without this callback.
  SSL_set_msg_callback(ssl, nullptr);
  try {
    Classify(ssl, hello);
  } catch (...) {
  }
  IssueTicketsOnResumption(ssl);
}

}  // namespace resumption
}  // namespace tsc
