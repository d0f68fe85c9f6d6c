// The simulated client population: N clients, each with its own session store (its newest
// session), a kind, a protocol version and a target port. Owns the client SSL_CTXs (one per
// version / ticket setting) and every SSL_SESSION a client keeps.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "../../../native/common/openssl_ptr.h"

namespace tsc::loadgen {

// How a client treats sessions, the way real client stacks do.
enum class ClientKind : uint8_t {
  kReuse = 0,      // keeps its newest session and offers it on every connection
  kOnce = 1,       // offers each session once (RFC 8446 C.4, browsers), keeps the newest received
  kSessionId = 2,  // TLS 1.2 with SSL_OP_NO_TICKET: no ticket extension, session IDs only
  kFresh = 3,      // never offers a session
};
constexpr int kKindCount = 4;
const char* KindName(ClientKind kind) noexcept;

struct Target {
  std::string host;  // IPv4 literal
  uint16_t port;
};

struct PopulationConfig {
  uint32_t clients = 100;
  double kindShare[kKindCount] = {1, 0, 0, 0};  // normalised shares by ClientKind
  double tls13Share = 0.5;                      // share of clients on TLS 1.3 (sessionId: always 1.2)
  std::vector<Target> targets;
  std::string servername;  // SNI; empty: none
  uint64_t seed = 1;
  // false: each client stays on the target it was placed on; true: every connection picks a
  // target at random, as behind a load balancer in front of a fleet.
  bool perConnectionTarget = false;
};

// One simulated client. `mutex` makes a client hold at most one connection at a time, like a
// browser profile with one connection to this origin.
struct Client {
  ClientKind kind;
  bool tls13;
  uint32_t target;
  uint64_t targetRng = 0;  // per-connection placement state (splitmix64), guarded by `mutex`
  std::mutex mutex;
  SslSessionPtr session;  // newest session received, if any
};

class Population {
 public:
  explicit Population(PopulationConfig config);
  Population(const Population&) = delete;
  Population& operator=(const Population&) = delete;

  const PopulationConfig& config() const noexcept { return config_; }
  size_t size() const noexcept { return clients_.size(); }
  Client& client(size_t i) noexcept { return *clients_[i]; }
  // The client context for a client: version pinned, sessions delivered to our new-session cb.
  SSL_CTX* ContextFor(const Client& client) const noexcept;
  // Drops every stored session (a cold population).
  void Forget();
  // ex_data index on SSL where a connection stores its Client* for the new-session callback.
  static int ClientIndex();

 private:
  PopulationConfig config_;
  std::vector<std::unique_ptr<Client>> clients_;
  SslCtxPtr tls12_;
  SslCtxPtr tls12NoTicket_;
  SslCtxPtr tls13_;
};

}  // namespace tsc::loadgen
