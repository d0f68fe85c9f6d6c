// Resumption outcomes: for every handshake whose ClientHello offered a session (a session ID, a
// TLS 1.2 ticket or a TLS 1.3 PSK), whether OpenSSL resumed it and, when not, why. Counted
// natively from OpenSSL's own callbacks, with no JS on the handshake path:
//   - resumption_outcome.cc: the message callback reads what the ClientHello offered
//     (client_hello_offers.cc parses it) and classifies the offer when the ServerHello leaves;
//   - session_ticket_cb.cc: the session-ticket callbacks see each ticket's decryption status,
//     refuse sessions past maxSessionAgeSeconds and stamp the original full-handshake time;
//   - resumption_state.h: the counters and per-connection records those share;
//   - this file: the N-API surface (apply, stats, samples) and the store hooks below.
// See docs/resumption-reasons.md for what each reason means and where OpenSSL cannot tell two
// reasons apart.
#pragma once

#include <napi.h>
#include <openssl/ssl.h>

#include <cstdint>

namespace tsc {

// A session-ID lookup in an external store (the Redis fleet store) failed for this session ID;
// the next connection that offered it and is not resumed counts storeError, not notFound.
void NoteStoreError(SSL_CTX* ctx, const unsigned char* id, size_t id_len) noexcept;

enum class StoreMiss;

// The shared store missed the session ID this server connection offered: when the handshake is not
// resumed, a store that failed to answer counts storeError and a session past its lifetime
// counts expired (or tooOld), not notFound. Called on the get path, inside the handshake.
void NoteStoreMiss(SSL* ssl, StoreMiss why) noexcept;

// A replicating fleet member does not hold the session this connection offered although a fleet
// member issued it (its ID's tag verifies): counted notYetReplicated when it is not resumed.
void NoteNotYetReplicated(SSL* ssl) noexcept;

// Removes the hooks from `ctx` and drops the counters; called by detach before Node's settings
// are put back.
void DetachResumptionStats(SSL_CTX* ctx) noexcept;

void InitResumptionStats(Napi::Env env, Napi::Object exports);

}  // namespace tsc
