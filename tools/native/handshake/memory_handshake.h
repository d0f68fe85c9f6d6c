// TLS 1.3 handshakes between a client SSL and a server SSL over a BIO pair, in one thread, with
// the server's CPU time (CLOCK_THREAD_CPUTIME_ID) read around each server-side OpenSSL call only:
// what the server's handshake itself costs, without Node's per-connection work, the kernel's TCP or
// the client. The server SSL_CTX is the caller's (a SecureContext the package is attached to); the
// client is plain OpenSSL, uses each ticket once (the one the server has just issued) and checks on
// the wire that every handshake ran in the mode claimed. Plain C++ over OpenSSL: throws
// std::runtime_error on any failure, the addon turns it into a JS Error.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <string>
#include <vector>

namespace tsc::handshake_bench {

enum class Mode {
  kFull,      // no session offered: certificate, signature and key exchange
  kPskDheKe,  // resumed; the client offers psk_dhe_ke only, so a key exchange runs
  kPskKe,     // resumed; the client also offers psk_ke (SSL_OP_ALLOW_NO_DHE_KEX), which the server prefers
};

// "full", "psk_dhe_ke", "psk_ke"; false for any other name.
bool ParseMode(const std::string& name, Mode* mode);

// Server thread CPU of one handshake, in nanoseconds, by server-side call.
struct Sample {
  int64_t ssl_new = 0;
  // SSL_do_handshake on the ClientHello: ServerHello up to the server's Finished (key exchange,
  // ticket decryption, certificate and signature on a full handshake).
  int64_t first_flight = 0;
  // SSL_do_handshake on the client's Finished: checking it and writing the NewSessionTicket(s).
  int64_t second_flight = 0;
  int64_t ssl_free = 0;
};

struct PhaseOptions {
  Mode mode = Mode::kPskDheKe;
  int handshakes = 0;
  // The client's groups (SSL_CTX_set1_groups_list); empty: OpenSSL's default, as Node's 'auto'.
  std::string groups;
  std::string server_name = "localhost";
};

struct PhaseResult {
  std::vector<Sample> samples;
  uint64_t resumed = 0;                    // SSL_session_reused on the server
  uint64_t key_share = 0;                  // ServerHellos that carried a key_share extension
  uint64_t pre_shared_key = 0;             // ServerHellos that carried a pre_shared_key extension
  uint64_t tickets_received = 0;           // NewSessionTickets the client took in
  std::vector<std::string> server_groups;  // distinct names SSL_get_negotiated_group gave on the server
};

// `options.handshakes` handshakes in `options.mode` against `server_ctx`. A resumed mode starts
// from one full handshake (not counted) for its first ticket. Throws when a handshake fails, does
// not run in the mode claimed, or leaves the client without a ticket for the next.
PhaseResult RunPhase(SSL_CTX* server_ctx, const PhaseOptions& options);

// What reading CLOCK_THREAD_CPUTIME_ID twice around nothing measures, in nanoseconds (mean).
double TimerOverheadNanos();

}  // namespace tsc::handshake_bench
