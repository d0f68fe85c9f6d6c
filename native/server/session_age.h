// Session age: the time of a session's ORIGINAL full handshake, carried through every renewal so
// that maxSessionAgeSeconds can end a resumption chain. OpenSSL resets a session's time on each
// renewed TLS 1.3 ticket and gives renewals no overall lifetime (openssl/openssl#32227), so the
// original time travels in the ticket's app data (SSL_SESSION_set1_ticket_appdata): encrypted
// inside stateless tickets, copied by ssl_session_dup for stateful ones and kept by i2d/d2i for
// the shared store. Plain C++ over OpenSSL (no Node-API).
#pragma once

#include <openssl/ssl.h>

#include <cstdint>

namespace tsc {

// The original full-handshake time of `sess`, epoch seconds: our stamp when it carries one, else
// its own time (a TLS 1.2 session ID is never renewed, so its time is the original one).
int64_t OriginalTime(const SSL_SESSION* sess);

// Stamps `sess` with its original time if it has no stamp yet (the first ticket of a full
// handshake) and, with a cap (> 0), shortens its timeout so it never outlives original + cap. Leaves
// app data that is not ours alone. Never fails a handshake: false only when OpenSSL could not
// store the stamp.
bool StampOriginalTime(SSL_SESSION* sess, int64_t now, int64_t max_age_seconds);

// Shortens the timeout of a fresh session (a full handshake) to the cap, for sessions that never
// get a ticket (TLS 1.2 session IDs).
void CapTimeout(SSL_SESSION* sess, int64_t max_age_seconds);

}  // namespace tsc
