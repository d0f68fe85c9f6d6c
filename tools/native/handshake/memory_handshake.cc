#include "memory_handshake.h"

#include <openssl/err.h>
#include <openssl/tls1.h>
#include <time.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "common/openssl_ptr.h"

namespace tsc::handshake_bench {
namespace {

int64_t ThreadCpuNanos() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// The modes under the names the JS side and the output use.
constexpr struct {
  Mode mode;
  const char* name;
} kModeNames[] = {{Mode::kFull, "full"}, {Mode::kPskDheKe, "psk_dhe_ke"}, {Mode::kPskKe, "psk_ke"}};

const char* ModeName(Mode mode) {
  for (const auto& m : kModeNames) {
    if (m.mode == mode) return m.name;
  }
  return "?";
}

// The oldest queued OpenSSL error as text (and the queue emptied), for a failure message.
std::string TakeOpenSslError() {
  unsigned long code = ERR_get_error();
  std::string out;
  if (code != 0) {
    char text[256];
    ERR_error_string_n(code, text, sizeof(text));
    out = text;
  }
  ERR_clear_error();
  return out.empty() ? "no OpenSSL error queued" : out;
}

[[noreturn]] void Fail(const std::string& what) { throw std::runtime_error(what); }

// What the client saw of the ServerHello: the extensions that tell the modes apart on the wire.
struct ServerHelloSeen {
  int count = 0;
  bool retry = false;  // a HelloRetryRequest (RFC 8446 4.1.3: a ServerHello with this random)
  bool key_share = false;
  bool pre_shared_key = false;
};

constexpr unsigned char kHelloRetryRandom[32] = {0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C,
                                                 0x02, 0x1E, 0x65, 0xB8, 0x91, 0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB,
                                                 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C};

// Reads a ServerHello message (4-byte handshake header included) into `seen`; false if malformed.
bool ParseServerHello(const unsigned char* p, size_t len, ServerHelloSeen* seen) {
  size_t at = 4 + 2;  // header, legacy_version
  if (len < at + 32 + 1) return false;
  seen->retry = std::memcmp(p + at, kHelloRetryRandom, sizeof(kHelloRetryRandom)) == 0;
  at += 32;
  at += 1 + p[at];  // legacy_session_id_echo
  at += 2 + 1;      // cipher_suite, legacy_compression_method
  if (len < at + 2) return false;
  const size_t end = at + 2 + ((static_cast<size_t>(p[at]) << 8) | p[at + 1]);
  if (end > len) return false;
  for (at += 2; at + 4 <= end;) {
    const unsigned type = (static_cast<unsigned>(p[at]) << 8) | p[at + 1];
    const size_t body = (static_cast<size_t>(p[at + 2]) << 8) | p[at + 3];
    if (type == TLSEXT_TYPE_key_share) seen->key_share = true;
    if (type == TLSEXT_TYPE_psk) seen->pre_shared_key = true;
    at += 4 + body;
  }
  return at == end;
}

// One client connection's view, reached from the client SSL's app data by the callbacks below.
struct ClientConnection {
  ServerHelloSeen hello;
  bool malformed_hello = false;
  tsc::SslSessionPtr latest_ticket;
  uint64_t tickets = 0;
};

void OnClientMessage(int write_p, int /*version*/, int content_type, const void* buf, size_t len, SSL* ssl,
                     void* /*arg*/) {
  const auto* p = static_cast<const unsigned char*>(buf);
  if (write_p != 0 || content_type != SSL3_RT_HANDSHAKE || len < 4 || p[0] != SSL3_MT_SERVER_HELLO) return;
  auto* conn = static_cast<ClientConnection*>(SSL_get_app_data(ssl));
  if (conn == nullptr) return;
  conn->hello.count++;
  if (!ParseServerHello(p, len, &conn->hello)) conn->malformed_hello = true;
}

// Keeps the newest ticket: the next handshake offers the one the server issued last.
int OnClientNewSession(SSL* ssl, SSL_SESSION* session) {
  auto* conn = static_cast<ClientConnection*>(SSL_get_app_data(ssl));
  if (conn == nullptr) return 0;
  conn->latest_ticket.reset(session);
  conn->tickets++;
  return 1;  // the reference is ours now
}

tsc::SslCtxPtr NewClientContext(const PhaseOptions& options) {
  tsc::SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) Fail("client SSL_CTX_new: " + TakeOpenSslError());
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(ctx.get(), TLS1_3_VERSION);
  // What clientSessions({ pskKe: true }) sets: the ClientHello offers psk_ke besides psk_dhe_ke.
  if (options.mode == Mode::kPskKe) SSL_CTX_set_options(ctx.get(), SSL_OP_ALLOW_NO_DHE_KEX);
  if (!options.groups.empty() && SSL_CTX_set1_groups_list(ctx.get(), options.groups.c_str()) != 1) {
    Fail("client groups '" + options.groups + "': " + TakeOpenSslError());
  }
  // Tickets reach OnClientNewSession only; OpenSSL keeps no client cache of its own.
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx.get(), OnClientNewSession);
  return ctx;
}

bool WantsIo(SSL* ssl, int ret) {
  const int err = SSL_get_error(ssl, ret);
  return err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE;
}

struct HandshakeOutcome {
  Sample sample;
  bool resumed = false;
  ServerHelloSeen hello;
  std::string server_group;
  tsc::SslSessionPtr ticket;
  uint64_t tickets = 0;
};

std::string GroupName(SSL* ssl) {
  const int nid = SSL_get_negotiated_group(ssl);
  if (nid == NID_undef) return "none";
  const char* name = SSL_group_to_name(ssl, nid);
  return name != nullptr ? name : "nid " + std::to_string(nid);
}

// One connection: the server's calls timed on this thread's CPU clock, the client's not.
HandshakeOutcome Handshake(SSL_CTX* server_ctx, SSL_CTX* client_ctx, SSL_SESSION* offer,
                           const std::string& server_name) {
  HandshakeOutcome out;
  ClientConnection conn;
  tsc::SslPtr client(SSL_new(client_ctx));
  if (!client) Fail("client SSL_new: " + TakeOpenSslError());
  SSL_set_app_data(client.get(), &conn);
  SSL_set_msg_callback(client.get(), OnClientMessage);
  if (SSL_set_tlsext_host_name(client.get(), server_name.c_str()) != 1) Fail("SNI: " + TakeOpenSslError());
  if (offer != nullptr && SSL_set_session(client.get(), offer) != 1) Fail("SSL_set_session: " + TakeOpenSslError());
  SSL_set_connect_state(client.get());

  ERR_clear_error();
  int64_t t = ThreadCpuNanos();
  tsc::SslPtr server(SSL_new(server_ctx));
  out.sample.ssl_new = ThreadCpuNanos() - t;
  if (!server) Fail("server SSL_new: " + TakeOpenSslError());
  SSL_set_accept_state(server.get());

  BIO* client_bio = nullptr;
  BIO* server_bio = nullptr;
  if (BIO_new_bio_pair(&client_bio, 0, &server_bio, 0) != 1) Fail("BIO_new_bio_pair: " + TakeOpenSslError());
  // Each SSL owns its half from here (SSL_set_bio cannot fail).
  SSL_set_bio(client.get(), client_bio, client_bio);
  SSL_set_bio(server.get(), server_bio, server_bio);

  bool client_done = false;
  bool server_done = false;
  int server_calls = 0;
  // A TLS 1.3 handshake takes two server calls: ClientHello in, then the client's Finished in.
  for (int round = 0; round < 4 && !(client_done && server_done); round++) {
    if (!client_done) {
      const int r = SSL_do_handshake(client.get());
      if (r == 1) {
        client_done = true;
      } else if (!WantsIo(client.get(), r)) {
        Fail(std::string("client handshake: ") + TakeOpenSslError());
      }
    }
    if (!server_done) {
      ERR_clear_error();
      t = ThreadCpuNanos();
      const int r = SSL_do_handshake(server.get());
      const int64_t spent = ThreadCpuNanos() - t;
      (server_calls++ == 0 ? out.sample.first_flight : out.sample.second_flight) += spent;
      if (r == 1) {
        server_done = true;
      } else if (!WantsIo(server.get(), r)) {
        Fail(std::string("server handshake: ") + TakeOpenSslError());
      }
    }
  }
  if (!client_done || !server_done) Fail("the handshake did not complete in 4 rounds");
  if (server_calls != 2) Fail("the server took " + std::to_string(server_calls) + " calls (a TLS 1.3 handshake: 2)");
  // The client reads what the server wrote after its handshake: the NewSessionTicket(s).
  unsigned char byte = 0;
  const int r = SSL_read(client.get(), &byte, 1);
  if (r > 0 || SSL_get_error(client.get(), r) != SSL_ERROR_WANT_READ) {
    Fail("client read after the handshake: " + TakeOpenSslError());
  }

  out.resumed = SSL_session_reused(server.get()) == 1;
  out.server_group = GroupName(server.get());
  out.hello = conn.hello;
  if (conn.malformed_hello) Fail("the ServerHello could not be parsed");
  out.ticket = std::move(conn.latest_ticket);
  out.tickets = conn.tickets;

  // Both ends close with a close_notify, as Node's sockets do on end(): SSL_free on a connection
  // that did not would take its session for a bad one (SSL_CTX_remove_session), which marks it
  // not resumable, the client's ticket included. Not counted: it is not the handshake.
  SSL_shutdown(server.get());
  t = ThreadCpuNanos();
  server.reset();
  out.sample.ssl_free = ThreadCpuNanos() - t;
  SSL_shutdown(client.get());
  SSL_set_app_data(client.get(), nullptr);
  return out;
}

// Throws unless `h` ran the way `mode` claims. `index` < 0: the phase's uncounted first handshake.
void CheckMode(const HandshakeOutcome& h, Mode mode, int index) {
  const std::string where = std::string(ModeName(mode)) + " handshake " + std::to_string(index) + ": ";
  if (h.hello.count != 1 || h.hello.retry) {
    Fail(where + "expected one ServerHello and no HelloRetryRequest, saw " + std::to_string(h.hello.count) +
         (h.hello.retry ? " with a HelloRetryRequest" : ""));
  }
  const bool want_resumed = index >= 0 && mode != Mode::kFull;
  if (h.resumed != want_resumed) {
    Fail(where + (want_resumed ? "the server did not resume (SSL_session_reused 0)" : "the server resumed"));
  }
  if (h.hello.pre_shared_key != want_resumed) {
    Fail(where + "the ServerHello " + (want_resumed ? "has no" : "has a") + " pre_shared_key extension");
  }
  const bool want_key_share = !want_resumed || mode == Mode::kPskDheKe;
  if (h.hello.key_share != want_key_share) {
    Fail(where + (want_key_share ? "the ServerHello has no key_share: no key exchange ran"
                                 : "the ServerHello has a key_share: a key exchange ran (psk_dhe_ke, not psk_ke)"));
  }
  if (!h.ticket) Fail(where + "the server issued no ticket, so the next handshake could not resume");
}

}  // namespace

bool ParseMode(const std::string& name, Mode* mode) {
  for (const auto& m : kModeNames) {
    if (name == m.name) {
      *mode = m.mode;
      return true;
    }
  }
  return false;
}

PhaseResult RunPhase(SSL_CTX* server_ctx, const PhaseOptions& options) {
  if (server_ctx == nullptr) Fail("no server SSL_CTX");
  if (options.handshakes < 1) Fail("handshakes must be at least 1");
  tsc::SslCtxPtr client_ctx = NewClientContext(options);
  PhaseResult result;
  result.samples.reserve(static_cast<size_t>(options.handshakes));
  tsc::SslSessionPtr ticket;
  if (options.mode != Mode::kFull) {
    HandshakeOutcome first = Handshake(server_ctx, client_ctx.get(), nullptr, options.server_name);
    CheckMode(first, options.mode, -1);
    ticket = std::move(first.ticket);
  }
  for (int i = 0; i < options.handshakes; i++) {
    HandshakeOutcome h = Handshake(server_ctx, client_ctx.get(), ticket.get(), options.server_name);
    CheckMode(h, options.mode, i);
    result.samples.push_back(h.sample);
    result.resumed += h.resumed ? 1 : 0;
    result.key_share += h.hello.key_share ? 1 : 0;
    result.pre_shared_key += h.hello.pre_shared_key ? 1 : 0;
    result.tickets_received += h.tickets;
    if (std::find(result.server_groups.begin(), result.server_groups.end(), h.server_group) ==
        result.server_groups.end()) {
      result.server_groups.push_back(h.server_group);
    }
    // Each ticket once: a full phase offers nothing, a resumed one the ticket it was just given.
    if (options.mode != Mode::kFull) ticket = std::move(h.ticket);
  }
  return result;
}

double TimerOverheadNanos() {
  constexpr int kRounds = 10000;
  int64_t total = 0;
  for (int i = 0; i < kRounds; i++) {
    const int64_t t = ThreadCpuNanos();
    total += ThreadCpuNanos() - t;
  }
  return static_cast<double>(total) / kRounds;
}

}  // namespace tsc::handshake_bench
