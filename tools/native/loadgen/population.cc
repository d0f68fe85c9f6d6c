// Builds the client population and the client SSL_CTXs, and receives the sessions servers send
// (the new-session callback stores the newest one in the client that made the connection).
#include "population.h"

#include <openssl/ssl.h>

#include <random>
#include <stdexcept>

namespace tsc::loadgen {

const char* KindName(ClientKind kind) noexcept {
  switch (kind) {
    case ClientKind::kReuse:
      return "reuse";
    case ClientKind::kOnce:
      return "once";
    case ClientKind::kSessionId:
      return "sessionId";
    case ClientKind::kFresh:
      return "fresh";
  }
  return "unknown";
}

int Population::ClientIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

namespace {

// Runs on the loadgen thread inside SSL_connect/SSL_read when a session (TLS 1.2) or a ticket
// (TLS 1.3, after the handshake) arrives. Returning 1 takes ownership of `session`.
int OnNewSession(SSL* ssl, SSL_SESSION* session) noexcept {
  auto* client = static_cast<Client*>(SSL_get_ex_data(ssl, Population::ClientIndex()));
  if (client == nullptr || client->kind == ClientKind::kFresh) return 0;
  // The connection's thread holds client->mutex for the whole connection, so no lock here.
  client->session.reset(session);
  return 1;
}

SslCtxPtr MakeClientContext(int version, bool noTicket) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) throw std::runtime_error("SSL_CTX_new failed");
  SSL_CTX_set_min_proto_version(ctx.get(), version);
  SSL_CTX_set_max_proto_version(ctx.get(), version);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);  // loopback benchmark, self-signed cert
  // Sessions go to the client that made the connection, not to a shared client cache.
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx.get(), OnNewSession);
  if (noTicket) SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET);
  return ctx;
}

}  // namespace

Population::Population(PopulationConfig config) : config_(std::move(config)) {
  if (config_.targets.empty()) throw std::invalid_argument("population needs at least one target");
  Population::ClientIndex();
  tls12_ = MakeClientContext(TLS1_2_VERSION, false);
  tls12NoTicket_ = MakeClientContext(TLS1_2_VERSION, true);
  tls13_ = MakeClientContext(TLS1_3_VERSION, false);

  std::mt19937_64 rng(config_.seed);
  std::discrete_distribution<int> kinds(std::begin(config_.kindShare), std::end(config_.kindShare));
  std::bernoulli_distribution tls13(config_.tls13Share);
  std::uniform_int_distribution<uint32_t> target(0, static_cast<uint32_t>(config_.targets.size() - 1));
  clients_.reserve(config_.clients);
  for (uint32_t i = 0; i < config_.clients; i++) {
    auto c = std::make_unique<Client>();
    c->kind = static_cast<ClientKind>(kinds(rng));
    const bool wants13 = tls13(rng);
    c->tls13 = c->kind == ClientKind::kSessionId ? false : wants13;
    c->target = target(rng);
    c->targetRng = rng();
    clients_.push_back(std::move(c));
  }
}

SSL_CTX* Population::ContextFor(const Client& client) const noexcept {
  if (client.kind == ClientKind::kSessionId) return tls12NoTicket_.get();
  return client.tls13 ? tls13_.get() : tls12_.get();
}

void Population::Forget() {
  for (auto& c : clients_) {
    std::lock_guard<std::mutex> lock(c->mutex);
    c->session.reset();
  }
}

}  // namespace tsc::loadgen
