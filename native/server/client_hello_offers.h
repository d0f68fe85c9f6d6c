// What a ClientHello offered (a session ID, a TLS 1.2 ticket, a TLS 1.3 PSK, TLS 1.3 itself), read
// from the message bytes the message callback sees. Plain C++ over OpenSSL's constants: no state,
// no Node-API.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tsc {

// What a ClientHello offered.
constexpr uint8_t kOfferSessionId = 1;  // non-empty legacy session ID
constexpr uint8_t kOfferTicket = 2;     // non-empty session_ticket extension (a TLS 1.2 ticket)
constexpr uint8_t kOfferPsk = 4;        // pre_shared_key extension (a TLS 1.3 ticket)
constexpr uint8_t kClientTls13 = 8;     // supported_versions lists TLS 1.3

// What a ClientHello offered, read from the message itself: Node's TLSWrap replaces the
// context's ClientHello callback on Node 22 and later (measured: ours was never called), and the
// message callback sees the same bytes on every line. Bounds-checked; a message that does not
// parse offers nothing (OpenSSL will refuse it anyway).
struct ClientHelloOffers {
  uint8_t offers = 0;
  const unsigned char* sid = nullptr;
  size_t sid_len = 0;
};

// Bounds-checked over `msg` (the handshake message: type, 24-bit length, body); false when it does
// not parse. `out->sid` points into `msg`.
bool ParseClientHello(const unsigned char* msg, size_t len, ClientHelloOffers* out);

}  // namespace tsc
