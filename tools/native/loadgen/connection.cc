// One loadgen connection from start to close, and how each client kind offers its session.
#include "connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>

namespace tsc::loadgen {
namespace {

using SslPtr = std::unique_ptr<SSL, OpenSslDeleter<SSL, SSL_free>>;

// Owns a socket file descriptor.
class Socket {
 public:
  explicit Socket(int fd) noexcept : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const noexcept { return fd_; }

 private:
  int fd_;
};

std::string ErrnoReason(const char* stage, int err) {
  if (err == EAGAIN || err == EWOULDBLOCK) return std::string(stage) + ": timeout";
  return std::string(stage) + ": " + std::strerror(err);
}

// Names an OpenSSL failure the way a TLS engineer reads it: the library reason string, or the
// socket condition behind SSL_ERROR_SYSCALL.
std::string SslReason(const char* stage, SSL* ssl, int ret, int savedErrno) {
  const int code = SSL_get_error(ssl, ret);
  const unsigned long err = ERR_peek_last_error();
  ERR_clear_error();
  if (code == SSL_ERROR_SSL && err != 0) {
    const char* reason = ERR_reason_error_string(err);
    return std::string(stage) + ": " + (reason ? reason : "ssl error");
  }
  if (code == SSL_ERROR_SYSCALL) {
    if (savedErrno == 0) return std::string(stage) + ": unexpected eof";
    return ErrnoReason(stage, savedErrno);
  }
  if (code == SSL_ERROR_ZERO_RETURN) return std::string(stage) + ": closed by peer";
  return std::string(stage) + ": ssl error " + std::to_string(code);
}

void SetTimeouts(int fd, int timeoutMs) {
  timeval tv{};
  tv.tv_sec = timeoutMs / 1000;
  tv.tv_usec = (timeoutMs % 1000) * 1000;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// What the client offers: reuse keeps its session, once gives it up as it offers it.
SslSessionPtr SessionToOffer(Client& client) {
  switch (client.kind) {
    case ClientKind::kReuse:
    case ClientKind::kSessionId:
      // Offer a copy, as clients that store the serialized session do. Measured with Node's
      // OpenSSL 3.0.19: re-offering the very SSL_SESSION object that had just resumed a TLS 1.3
      // connection gave a full handshake every second time; a fresh copy resumes every time.
      return client.session ? SslSessionPtr(SSL_SESSION_dup(client.session.get())) : SslSessionPtr();
    case ClientKind::kOnce:
      return std::move(client.session);
    case ClientKind::kFresh:
      return SslSessionPtr();
  }
  return SslSessionPtr();
}

// Which target this connection goes to. Per-connection placement draws from the client's own
// splitmix64 state (the caller holds client.mutex), so it is thread-safe and reproducible.
uint32_t TargetFor(const Population& population, Client& client) noexcept {
  const size_t n = population.config().targets.size();
  if (!population.config().perConnectionTarget || n <= 1) return client.target;
  uint64_t z = (client.targetRng += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return static_cast<uint32_t>(z % n);
}

}  // namespace

ConnectionResult RunConnection(const Population& population, Client& client, int timeoutMs) noexcept {
  ConnectionResult result;
  try {
    const Target& target = population.config().targets[TargetFor(population, client)];
    Socket sock(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (sock.fd() < 0) {
      result.failure = ErrnoReason("socket", errno);
      return result;
    }
    SetTimeouts(sock.fd(), timeoutMs);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(target.port);
    inet_pton(AF_INET, target.host.c_str(), &addr.sin_addr);
    if (::connect(sock.fd(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      result.failure = ErrnoReason("connect", errno);
      return result;
    }

    SslPtr ssl(SSL_new(population.ContextFor(client)));
    if (!ssl) {
      result.failure = "client: SSL_new failed";
      return result;
    }
    SSL_set_fd(ssl.get(), sock.fd());
    SSL_set_ex_data(ssl.get(), Population::ClientIndex(), &client);
    const std::string& sni = population.config().servername;
    if (!sni.empty()) SSL_set_tlsext_host_name(ssl.get(), sni.c_str());
    SslSessionPtr offer = SessionToOffer(client);
    if (offer) {
      SSL_set_session(ssl.get(), offer.get());  // takes its own reference
      result.offered = true;
    }

    const auto start = std::chrono::steady_clock::now();
    errno = 0;
    const int hs = SSL_connect(ssl.get());
    const int hsErrno = errno;
    result.handshakeMicros =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
    if (hs != 1) {
      result.failure = SslReason("handshake", ssl.get(), hs, hsErrno);
      return result;
    }
    result.resumed = SSL_session_reused(ssl.get()) == 1;

    static const char kRequest[] = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    errno = 0;
    const int w = SSL_write(ssl.get(), kRequest, sizeof kRequest - 1);
    if (w <= 0) {
      result.failure = SslReason("write", ssl.get(), w, errno);
      return result;
    }
    // Read to close. TLS 1.3 tickets arrive here and reach the client through the new-session
    // callback.
    char buf[4096];
    size_t total = 0;
    for (;;) {
      errno = 0;
      const int r = SSL_read(ssl.get(), buf, sizeof buf);
      if (r > 0) {
        total += static_cast<size_t>(r);
        continue;
      }
      const int code = SSL_get_error(ssl.get(), r);
      const int readErrno = errno;
      if (code == SSL_ERROR_ZERO_RETURN || (code == SSL_ERROR_SYSCALL && readErrno == 0 && ERR_peek_error() == 0))
        break;
      result.failure = SslReason("response", ssl.get(), r, readErrno);
      return result;
    }
    ERR_clear_error();
    if (total == 0) {
      result.failure = "response: empty";
      return result;
    }
    // Mark the connection as cleanly shut down without another round trip, so SSL_free keeps
    // the session resumable (OpenSSL drops sessions of connections freed mid-stream).
    SSL_set_shutdown(ssl.get(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    result.ok = true;
    return result;
  } catch (...) {
    ERR_clear_error();
    result.ok = false;
    result.failure = "client: internal error";
    return result;
  }
}

}  // namespace tsc::loadgen
