#include "common/server_hello.h"

#include <openssl/tls1.h>

#include <cstring>

namespace tsc {
namespace {

constexpr unsigned char kHelloRetryRandom[32] = {0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c,
                                                 0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb,
                                                 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c};

size_t ReadU16(const unsigned char* p) { return (static_cast<size_t>(p[0]) << 8) | p[1]; }

}  // namespace

bool ParseServerHello(const unsigned char* msg, size_t len, ServerHelloFacts* out) {
  size_t at = 4 + 2;  // handshake header, legacy_version
  if (len < at + sizeof(kHelloRetryRandom) + 1) return false;
  out->retry = std::memcmp(msg + at, kHelloRetryRandom, sizeof(kHelloRetryRandom)) == 0;
  at += sizeof(kHelloRetryRandom);
  at += 1 + msg[at];  // legacy_session_id_echo
  at += 2 + 1;        // cipher_suite, legacy_compression_method
  if (len < at + 2) return false;
  const size_t end = at + 2 + ReadU16(msg + at);
  if (end > len) return false;
  for (at += 2; at + 4 <= end;) {
    const size_t type = ReadU16(msg + at);
    if (type == TLSEXT_TYPE_key_share) out->key_share = true;
    if (type == TLSEXT_TYPE_psk) out->pre_shared_key = true;
    at += 4 + ReadU16(msg + at + 2);
  }
  return at == end;
}

}  // namespace tsc
