#include "server/session_ticket_cb.h"

#include <openssl/evp.h>

#include <cstdint>
#include <cstring>
#include <mutex>

#include "common/context_access.h"
#include "common/session_id_context.h"
#include "server/resumption_state.h"
#include "server/session_age.h"
#include "server/ticket_ring.h"

namespace tsc {
namespace resumption {
namespace {

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

}  // namespace

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

}  // namespace resumption
}  // namespace tsc
