#include "server/client_hello_offers.h"

#include <openssl/ssl.h>
#include <openssl/tls1.h>

namespace tsc {
namespace {

class Reader {
 public:
  Reader(const unsigned char* p, size_t n) : p_(p), n_(n) {}
  bool Skip(size_t k) {
    if (k > n_) return false;
    p_ += k;
    n_ -= k;
    return true;
  }
  bool Read(size_t bytes, size_t* v) {
    if (bytes > n_) return false;
    size_t out = 0;
    for (size_t i = 0; i < bytes; i++) out = (out << 8) | p_[i];
    *v = out;
    p_ += bytes;
    n_ -= bytes;
    return true;
  }
  // A length-prefixed vector: its body as a Reader of its own.
  bool Sub(size_t prefix, Reader* body) {
    size_t len = 0;
    if (!Read(prefix, &len) || len > n_) return false;
    *body = Reader(p_, len);
    p_ += len;
    n_ -= len;
    return true;
  }
  const unsigned char* data() const { return p_; }
  size_t size() const { return n_; }

 private:
  const unsigned char* p_;
  size_t n_;
};

}  // namespace

bool ParseClientHello(const unsigned char* msg, size_t len, ClientHelloOffers* out) {
  Reader r(msg, len);
  size_t type = 0, body_len = 0;
  if (!r.Read(1, &type) || type != SSL3_MT_CLIENT_HELLO || !r.Read(3, &body_len) || body_len > r.size()) return false;
  Reader body(r.data(), body_len);
  Reader sid(nullptr, 0), suites(nullptr, 0), compression(nullptr, 0), exts(nullptr, 0);
  if (!body.Skip(2 + 32) || !body.Sub(1, &sid) || !body.Sub(2, &suites) || !body.Sub(1, &compression)) return false;
  if (sid.size() > SSL_MAX_SSL_SESSION_ID_LENGTH) return false;
  out->sid = sid.data();
  out->sid_len = sid.size();
  if (out->sid_len > 0) out->offers |= kOfferSessionId;
  if (body.size() == 0) return true;  // no extensions
  if (!body.Sub(2, &exts)) return false;
  while (exts.size() > 0) {
    size_t ext_type = 0;
    Reader ext(nullptr, 0);
    if (!exts.Read(2, &ext_type) || !exts.Sub(2, &ext)) return false;
    if (ext_type == TLSEXT_TYPE_session_ticket && ext.size() > 0) out->offers |= kOfferTicket;
    if (ext_type == TLSEXT_TYPE_psk) out->offers |= kOfferPsk;
    if (ext_type == TLSEXT_TYPE_supported_versions) {
      Reader versions(nullptr, 0);
      if (!ext.Sub(1, &versions)) return false;
      size_t v = 0;
      while (versions.Read(2, &v)) {
        if (v == TLS1_3_VERSION) out->offers |= kClientTls13;
      }
    }
  }
  return true;
}

}  // namespace tsc
