// One client connection: TCP connect on loopback, TLS handshake offering the client's session
// (by its kind), one HTTP/1.1 request, read to close. Blocking socket with timeouts; runs on a
// loadgen thread, never touches JavaScript.
#pragma once

#include <string>

#include "population.h"

namespace tsc::loadgen {

struct ConnectionResult {
  bool ok = false;
  bool offered = false;        // a session was offered in the ClientHello
  bool resumed = false;        // SSL_session_reused after the handshake
  double handshakeMicros = 0;  // SSL_connect start to handshake done (TCP connect excluded)
  std::string failure;         // "stage: reason" when !ok
};

// The caller holds client.mutex for the duration.
ConnectionResult RunConnection(const Population& population, Client& client, int timeoutMs) noexcept;

}  // namespace tsc::loadgen
