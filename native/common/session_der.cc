#include "common/session_der.h"

#include <openssl/crypto.h>
#include <openssl/err.h>

#include <climits>
#include <cstring>
#include <ctime>

#include "common/openssl_ptr.h"
#include "common/shared_store.h"

namespace tsc {

int64_t ExpiresAt(const SSL_SESSION* sess) {
  return static_cast<int64_t>(SSL_SESSION_get_time(sess)) + static_cast<int64_t>(SSL_SESSION_get_timeout(sess));
}

size_t EncodedSessionLength(const SSL_SESSION* sess) noexcept {
  ERR_set_mark();
  const int len = i2d_SSL_SESSION(sess, nullptr);
  ERR_pop_to_mark();
  return len > 0 ? static_cast<size_t>(len) : 0;
}

bool EncodeSession(const SSL_SESSION* sess, unsigned char* out, size_t len) noexcept {
  ERR_set_mark();
  unsigned char* p = out;
  const bool encoded = i2d_SSL_SESSION(sess, &p) == static_cast<int>(len);
  ERR_pop_to_mark();
  return encoded;
}

EncodedSession::EncodedSession(const SSL_SESSION* sess) noexcept {
  id_ = SSL_SESSION_get_id(sess, &id_len_);
  if (id_len_ == 0) return;
  const size_t len = EncodedSessionLength(sess);
  if (len == 0) return;
  try {
    der_.resize(len);
  } catch (...) {
    return;
  }
  if (!EncodeSession(sess, der_.data(), len)) {
    OPENSSL_cleanse(der_.data(), der_.size());
    der_.clear();
    return;
  }
  expires_at_ = ExpiresAt(sess);
}

EncodedSession::~EncodedSession() {
  if (!der_.empty()) OPENSSL_cleanse(der_.data(), der_.size());
}

SSL_SESSION* DecodeSession(const unsigned char* der, size_t len) noexcept {
  if (der == nullptr || len == 0 || len > static_cast<size_t>(LONG_MAX)) return nullptr;
  ERR_set_mark();
  const unsigned char* p = der;
  SslSessionPtr sess(d2i_SSL_SESSION(nullptr, &p, static_cast<long>(len)));
  ERR_pop_to_mark();
  unsigned int id_len = 0;
  if (!sess || p != der + len || SSL_SESSION_get_id(sess.get(), &id_len) == nullptr || id_len == 0) return nullptr;
  return sess.release();
}

SSL_SESSION* LookupSession(SharedStore& store, const ScopeSource& scope, const unsigned char* id, int id_len,
                           StoreMiss* why) noexcept {
  *why = StoreMiss::kAbsent;
  if (id_len <= 0) return nullptr;
  try {
    thread_local KeyBytes der;  // key memory: the session's master secret passes through it
    size_t der_len = 0;
    const int64_t now = static_cast<int64_t>(std::time(nullptr));
    if (!store.Lookup(scope, id, static_cast<size_t>(id_len), now, &der, &der_len, why)) {
      // An entry that failed its checksum was already copied out: it may hold a master secret.
      if (*why == StoreMiss::kFailed) OPENSSL_cleanse(der.data(), der.size());
      return nullptr;
    }
    // The bytes passed their checksum; d2i still may refuse them (a store written by another
    // OpenSSL).
    SslSessionPtr sess(DecodeSession(der.data(), der_len));
    OPENSSL_cleanse(der.data(), der_len);
    if (!sess) {
      store.Count(layout::kCorrupt);
      *why = StoreMiss::kFailed;
      return nullptr;
    }
    // Only ever hand out the session that was asked for, under the scope it was filed under (a
    // slot whose DER says otherwise was not written by this store).
    unsigned int got_id_len = 0, got_ctx_len = 0;
    const unsigned char* got_id = SSL_SESSION_get_id(sess.get(), &got_id_len);
    const unsigned char* got_ctx = SSL_SESSION_get0_id_context(sess.get(), &got_ctx_len);
    StoreScope asked;
    if (got_id_len != static_cast<unsigned int>(id_len) || std::memcmp(got_id, id, got_id_len) != 0 ||
        !scope.Get(&asked) || asked.len != got_ctx_len ||
        (got_ctx_len > 0 && std::memcmp(got_ctx, asked.bytes, got_ctx_len) != 0)) {
      store.Count(layout::kCorrupt);
      *why = StoreMiss::kFailed;
      return nullptr;
    }
    if (ExpiresAt(sess.get()) <= now) {
      *why = StoreMiss::kExpired;
      return nullptr;
    }
    if (!SSL_SESSION_is_resumable(sess.get())) return nullptr;
    return sess.release();
  } catch (...) {
    *why = StoreMiss::kFailed;
    return nullptr;
  }
}

bool ReadSessionFacts(const unsigned char* der, size_t len, SessionFacts* out) {
  const unsigned char* p = der;
  // Bytes that are not a session must leave no error behind: Node reads the queue after its next
  // call into OpenSSL and would fail an unrelated connection with it.
  ERR_set_mark();
  SslSessionPtr session(d2i_SSL_SESSION(nullptr, &p, static_cast<long>(len)));
  ERR_pop_to_mark();
  if (!session) return false;
  SSL_SESSION_get_id(session.get(), &out->session_id_length);
  const int version = SSL_SESSION_get_protocol_version(session.get());
  out->protocol = version == TLS1_3_VERSION   ? "TLSv1.3"
                  : version == TLS1_2_VERSION ? "TLSv1.2"
                  : version == TLS1_1_VERSION ? "TLSv1.1"
                  : version == TLS1_VERSION   ? "TLSv1"
                                              : "unknown";
  out->lifetime_hint_seconds = SSL_SESSION_get_ticket_lifetime_hint(session.get());
  out->has_ticket = SSL_SESSION_has_ticket(session.get()) == 1;
  out->timeout_seconds = SSL_SESSION_get_timeout(session.get());
  out->max_early_data = SSL_SESSION_get_max_early_data(session.get());
  // The ticket is what the server sent in clear on the wire (encrypted under its key, or a
  // stateful session ID in TLS 1.3): the probe compares tickets to see whether one was renewed.
  const unsigned char* tick = nullptr;
  size_t tick_len = 0;
  SSL_SESSION_get0_ticket(session.get(), &tick, &tick_len);
  out->ticket.assign(tick, tick + (tick != nullptr ? tick_len : 0));
  unsigned int sid_ctx_len = 0;
  const unsigned char* sid_ctx = SSL_SESSION_get0_id_context(session.get(), &sid_ctx_len);
  out->session_id_context.assign(sid_ctx, sid_ctx + sid_ctx_len);
  return true;
}

}  // namespace tsc
