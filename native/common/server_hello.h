// What a ServerHello says about the handshake it answers: read by the server's resumption
// classification (psk_ke or not) and by the handshake benchmark's client (tools/native/handshake).
#pragma once

#include <cstddef>

namespace tsc {

struct ServerHelloFacts {
  bool retry = false;           // a HelloRetryRequest (RFC 8446 4.1.3: a ServerHello with its random)
  bool key_share = false;       // TLS 1.3: a key exchange ran ((EC)DHE or hybrid)
  bool pre_shared_key = false;  // TLS 1.3: a PSK (a resumption) was accepted
};

// Parses a ServerHello message, its 4-byte handshake header included. False if malformed; then
// `out` holds what was read before the fault.
bool ParseServerHello(const unsigned char* msg, size_t len, ServerHelloFacts* out);

}  // namespace tsc
