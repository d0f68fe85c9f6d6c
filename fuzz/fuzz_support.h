// Shared by the fuzz targets and the seed generator: in-memory TLS (a P-256 self-signed server
// context and a handshake pumped over a BIO pair), the fixed ticket keys the ticket_ring target
// and its seeds agree on, and helpers over the shared store's real file layout
// (native/common/shared_store_layout.h, included, never copied) so a harness can place hostile bytes
// exactly where the store reads them.
//
// These are standalone executables linked against the system libssl/libcrypto (Debian's, the
// same 3.0 series as Node's bundled OpenSSL). They are never loaded into Node, so this does not
// put a second libssl into the Node process (docs/internals.md#one-libssl is about the addon, which links none).
#pragma once

#include <fcntl.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common/openssl_ptr.h"
#include "common/shared_store.h"
#include "common/shared_store_layout.h"

namespace fuzz {

[[noreturn]] inline void Die(const char* what) {
  std::fprintf(stderr, "fuzz harness setup failed: %s\n", what);
  std::abort();
}

using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, tsc::OpenSslDeleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, tsc::OpenSslDeleter<X509, X509_free>>;
using SslPtr = std::unique_ptr<SSL, tsc::OpenSslDeleter<SSL, SSL_free>>;

// A server context with a fresh P-256 key and a self-signed certificate; no session cache, so
// iterations do not feed each other through OpenSSL's internal cache.
inline tsc::SslCtxPtr NewServerCtx() {
  EvpPkeyPtr key(EVP_EC_gen("P-256"));
  X509Ptr cert(X509_new());
  if (!key || !cert) Die("key/cert");
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600L * 24 * 365 * 20);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("fuzz"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key.get());
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) Die("X509_sign");
  tsc::SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx || SSL_CTX_use_certificate(ctx.get(), cert.get()) != 1 ||
      SSL_CTX_use_PrivateKey(ctx.get(), key.get()) != 1) {
    Die("server ctx");
  }
  static const unsigned char kSidCtx[] = "tsc-fuzz";
  SSL_CTX_set_session_id_context(ctx.get(), kSidCtx, sizeof(kSidCtx) - 1);
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  return ctx;
}

inline tsc::SslCtxPtr NewClientCtx(int max_version) {
  tsc::SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) Die("client ctx");
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set_max_proto_version(ctx.get(), max_version);
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  return ctx;
}

// A client and a server SSL joined by an in-memory BIO pair.
struct Pair {
  SslPtr client;
  SslPtr server;
};

inline Pair NewPair(SSL_CTX* client_ctx, SSL_CTX* server_ctx) {
  Pair p{SslPtr(SSL_new(client_ctx)), SslPtr(SSL_new(server_ctx))};
  BIO* c = nullptr;
  BIO* s = nullptr;
  if (!p.client || !p.server || BIO_new_bio_pair(&c, 0, &s, 0) != 1) Die("pair");
  SSL_set_bio(p.client.get(), c, c);
  SSL_set_bio(p.server.get(), s, s);
  SSL_set_connect_state(p.client.get());
  SSL_set_accept_state(p.server.get());
  return p;
}

// Runs the handshake for at most `rounds` client+server steps. True if both sides finished.
inline bool Handshake(Pair& p, int rounds) {
  for (int i = 0; i < rounds; i++) {
    const int c = SSL_do_handshake(p.client.get());
    const int s = SSL_do_handshake(p.server.get());
    if (c == 1 && s == 1) return true;
    const int ce = SSL_get_error(p.client.get(), c), se = SSL_get_error(p.server.get(), s);
    const bool c_ok = c == 1 || ce == SSL_ERROR_WANT_READ || ce == SSL_ERROR_WANT_WRITE;
    const bool s_ok = s == 1 || se == SSL_ERROR_WANT_READ || se == SSL_ERROR_WANT_WRITE;
    if (!c_ok || !s_ok) return false;
  }
  return false;
}

// Moves any session tickets / post-handshake messages across (TLS 1.3 sends them after the
// handshake): a read on each side processes what is buffered (no application data is sent).
inline void Drain(Pair& p) {
  unsigned char buf[1];
  for (int i = 0; i < 3; i++) {
    SSL_read(p.server.get(), buf, sizeof(buf));
    SSL_read(p.client.get(), buf, sizeof(buf));
  }
}

// DER length octets for `len`.
inline void PutDerLength(std::vector<unsigned char>* out, size_t len) {
  if (len < 0x80) {
    out->push_back(static_cast<unsigned char>(len));
    return;
  }
  unsigned char bytes[8];
  int n = 0;
  for (size_t v = len; v != 0; v >>= 8) bytes[n++] = static_cast<unsigned char>(v & 0xff);
  out->push_back(static_cast<unsigned char>(0x80 | n));
  while (n > 0) out->push_back(bytes[--n]);
}

// Reads one DER tag+length at `p` (single-byte tags only, as in SSL_SESSION_ASN1). Returns the
// header size and sets *len, or 0 when malformed.
inline size_t GetDerHeader(const unsigned char* p, size_t avail, size_t* len) {
  if (avail < 2) return 0;
  if ((p[1] & 0x80) == 0) {
    *len = p[1];
    return 2;
  }
  const size_t n = p[1] & 0x7f;
  if (n == 0 || n > 4 || avail < 2 + n) return 0;
  size_t v = 0;
  for (size_t i = 0; i < n; i++) v = (v << 8) | p[2 + i];
  *len = v;
  return 2 + n;
}

// A copy of an SSL_SESSION DER whose session ticket ([10] EXPLICIT OCTET STRING) is `tick`: how
// the ticket_ring target makes a TLS 1.3 client offer a hostile PSK identity (OpenSSL has no
// setter for a client session's ticket). Empty on a malformed template.
inline std::vector<unsigned char> WithTicket(const std::vector<unsigned char>& der, const unsigned char* tick,
                                             size_t tick_len) {
  size_t body_len = 0;
  const size_t hdr = GetDerHeader(der.data(), der.size(), &body_len);
  if (hdr == 0 || der[0] != 0x30 || hdr + body_len != der.size()) return {};
  std::vector<unsigned char> body;
  size_t at = hdr;
  bool placed = false;
  auto put_ticket = [&] {
    std::vector<unsigned char> octets{0x04};
    PutDerLength(&octets, tick_len);
    octets.insert(octets.end(), tick, tick + tick_len);
    body.push_back(0xaa);
    PutDerLength(&body, octets.size());
    body.insert(body.end(), octets.begin(), octets.end());
    placed = true;
  };
  while (at < der.size()) {
    size_t len = 0;
    const size_t h = GetDerHeader(&der[at], der.size() - at, &len);
    if (h == 0 || at + h + len > der.size()) return {};
    const unsigned char tag = der[at];
    if (!placed && tag >= 0xaa && (tag & 0xe0) == 0xa0) put_ticket();
    if (tag != 0xaa) body.insert(body.end(), der.begin() + at, der.begin() + at + h + len);
    at += h + len;
  }
  if (!placed) put_ticket();
  std::vector<unsigned char> out{0x30};
  PutDerLength(&out, body.size());
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

// The ticket_ring target's ring always starts with these two keys, the 80-byte one encrypting;
// the seeds are tickets issued under them.
inline std::vector<unsigned char> FixedKey(size_t len, unsigned char salt) {
  std::vector<unsigned char> k(len);
  for (size_t i = 0; i < len; i++) k[i] = static_cast<unsigned char>(salt + 7 * i);
  return k;
}
inline std::vector<unsigned char> FixedKey80() { return FixedKey(80, 0x40); }
inline std::vector<unsigned char> FixedKey48() { return FixedKey(48, 0x90); }

// ---- Shared store: the real layout (native/common/shared_store_layout.h), plus file helpers ----
namespace store {
using tsc::layout::Geometry;
using tsc::layout::kSlotChecksum;
using tsc::layout::kSlotDerLen;
using tsc::layout::kSlotExpires;
using tsc::layout::kSlotHash;
using tsc::layout::kSlotId;
using tsc::layout::kSlotIdLen;
using tsc::layout::kSlotScope;
using tsc::layout::kSlotScopeLen;
using tsc::layout::kWays;
constexpr size_t kSlotHeaderBytes = sizeof(tsc::layout::SlotHeader);

// A lookup scope given outright (the handshake computes it from the connection: ConnectionScope).
class FixedScope final : public tsc::ScopeSource {
 public:
  FixedScope(const unsigned char* bytes, size_t len) : scope_{bytes, len} {}
  bool Get(tsc::StoreScope* out) const noexcept override {
    *out = scope_;
    return true;
  }

 private:
  tsc::StoreScope scope_;
};

// A geometry of exactly `sets` sets of slots of `slot_bytes` (one stripe per set).
inline Geometry Sets(uint32_t slot_bytes, uint32_t sets) {
  const uint64_t total = tsc::layout::kHeaderBytes +
                         static_cast<uint64_t>(sets) *
                             (tsc::layout::kStripeBytes + kWays * (slot_bytes + sizeof(tsc::layout::IndexEntry)));
  Geometry g = Geometry::For(total, slot_bytes);
  if (g.sets() != sets) Die("fuzz geometry");
  return g;
}

template <typename T>
inline T Load(const unsigned char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}
template <typename T>
inline void Store(unsigned char* p, T v) {
  std::memcpy(p, &v, sizeof(T));
}

// The checksum the store expects for the slot at `slot` holding `der_len` DER bytes after it.
inline uint64_t SlotChecksum(const unsigned char* slot, size_t der_len) {
  tsc::layout::SlotHeader h;
  std::memcpy(&h, slot, sizeof(h));
  return tsc::layout::SlotChecksum(h, slot + kSlotHeaderBytes, der_len);
}

// A fresh path for this process's store file (libFuzzer -jobs runs one process per job).
inline std::string TempStorePath(const char* tag) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") + "/tsc-fuzz-" + tag + "-" +
         std::to_string(getpid()) + ".store";
}

inline tsc::StoreLocation At(const std::string& path) {
  tsc::StoreLocation where;
  where.path = path;
  return where;
}

// Reads the whole file at `path`.
inline std::vector<unsigned char> ReadFile(const std::string& path) {
  std::vector<unsigned char> out;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return out;
  unsigned char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out.insert(out.end(), buf, buf + n);
  std::fclose(f);
  return out;
}

// Replaces the file at `path` with `data` (mode 0600, as the store requires).
inline bool WriteFile(const std::string& path, const unsigned char* data, size_t len) {
  unlink(path.c_str());
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  size_t done = 0;
  while (done < len) {
    ssize_t w = write(fd, data + done, len - done);
    if (w <= 0) break;
    done += static_cast<size_t>(w);
  }
  close(fd);
  return done == len;
}

}  // namespace store
}  // namespace fuzz
