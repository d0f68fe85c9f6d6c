#include "server/session_age.h"

#include <cstring>

namespace tsc {
namespace {

// 'R' 'A' version 1, then the time as 8 bytes big-endian: a tag so that app data some other code
// put in a ticket is never read as a time.
constexpr unsigned char kStampTag[3] = {'R', 'A', 1};
constexpr size_t kStampBytes = sizeof(kStampTag) + 8;

bool ReadStamp(const SSL_SESSION* sess, int64_t* out) {
  void* data = nullptr;
  size_t len = 0;
  // get0 takes a non-const session but only reads it.
  if (SSL_SESSION_get0_ticket_appdata(const_cast<SSL_SESSION*>(sess), &data, &len) != 1) return false;
  if (data == nullptr || len != kStampBytes) return false;
  const auto* p = static_cast<const unsigned char*>(data);
  if (std::memcmp(p, kStampTag, sizeof(kStampTag)) != 0) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < 8; i++) v = (v << 8) | p[sizeof(kStampTag) + i];
  *out = static_cast<int64_t>(v);
  return true;
}

bool HasForeignAppData(const SSL_SESSION* sess) {
  void* data = nullptr;
  size_t len = 0;
  return SSL_SESSION_get0_ticket_appdata(const_cast<SSL_SESSION*>(sess), &data, &len) == 1 && data != nullptr &&
         len > 0;
}

}  // namespace

int64_t OriginalTime(const SSL_SESSION* sess) {
  int64_t stamp = 0;
  if (ReadStamp(sess, &stamp)) return stamp;
  return static_cast<int64_t>(SSL_SESSION_get_time(sess));
}

void CapTimeout(SSL_SESSION* sess, int64_t max_age_seconds) {
  if (max_age_seconds <= 0) return;
  const int64_t end = OriginalTime(sess) + max_age_seconds;
  const int64_t start = static_cast<int64_t>(SSL_SESSION_get_time(sess));
  const int64_t timeout = static_cast<int64_t>(SSL_SESSION_get_timeout(sess));
  if (start + timeout <= end) return;
  // A session already at its cap still needs a positive timeout: OpenSSL takes 0 as "none set".
  const int64_t capped = end - start > 1 ? end - start : 1;
  SSL_SESSION_set_timeout(sess, static_cast<long>(capped));
}

bool StampOriginalTime(SSL_SESSION* sess, int64_t now, int64_t max_age_seconds) {
  int64_t original = 0;
  if (!ReadStamp(sess, &original)) {
    if (HasForeignAppData(sess)) return true;
    original = static_cast<int64_t>(SSL_SESSION_get_time(sess));
    if (original <= 0 || original > now) original = now;
    unsigned char stamp[kStampBytes];
    std::memcpy(stamp, kStampTag, sizeof(kStampTag));
    for (size_t i = 0; i < 8; i++)
      stamp[sizeof(kStampTag) + i] = static_cast<unsigned char>(static_cast<uint64_t>(original) >> (56 - 8 * i));
    if (SSL_SESSION_set1_ticket_appdata(sess, stamp, sizeof(stamp)) != 1) return false;
  }
  CapTimeout(sess, max_age_seconds);
  return true;
}

}  // namespace tsc
