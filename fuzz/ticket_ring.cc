// Fuzz target: the ticket key ring (native/server/ticket_ring.cc). Hostile key and secret bytes go
// through AddKey / RemoveKey / SetEncrypting / AddSecret / DeriveKey, then a hostile session
// ticket is sent by a TLS 1.2 client (SSL_set_session_ticket_ext) to a server whose evp ticket
// callback is the ring's OnTicketKey: the decrypt path sees an attacker-chosen key name and IV,
// OpenSSL checks the HMAC and decrypts with what the ring set up, and a ticket that decrypts
// (the seeds are real tickets under the ring's fixed keys) exercises renewal (enc = 1). With
// mode bit 2 the ticket is a TLS 1.3 PSK identity instead: a real TLS 1.3 client session (made
// at start-up) re-encoded with the hostile ticket, which the client then offers.
//
// Input: [ops: u8 count (low 3 bits)] then count x [u8 kind][u8 len][len bytes], then [u8 mode],
// then the ticket (the rest). mode bit 0: finish the handshake; bit 1: no ticket extension;
// bit 2: TLS 1.3.
#include "server/ticket_ring.h"

#include <openssl/err.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "fuzz_support.h"

namespace {

tsc::TicketRing* g_ring = nullptr;  // the ring of the current input; the callback has no argument

int EvpCb(SSL* ssl, unsigned char* key_name, unsigned char* iv, EVP_CIPHER_CTX* cctx, EVP_MAC_CTX* hctx, int enc) {
  return g_ring != nullptr ? g_ring->OnTicketKey(ssl, key_name, iv, cctx, hctx, enc) : 0;
}

std::vector<unsigned char>* g_captured = nullptr;
int CaptureSession(SSL*, SSL_SESSION* sess) {
  const int n = i2d_SSL_SESSION(sess, nullptr);
  if (g_captured != nullptr && g_captured->empty() && n > 0) {
    g_captured->resize(static_cast<size_t>(n));
    unsigned char* p = g_captured->data();
    i2d_SSL_SESSION(sess, &p);
  }
  return 0;
}

struct Contexts {
  tsc::SslCtxPtr server = fuzz::NewServerCtx();
  tsc::SslCtxPtr client = fuzz::NewClientCtx(TLS1_2_VERSION);
  tsc::SslCtxPtr client13 = fuzz::NewClientCtx(TLS1_3_VERSION);
  std::vector<unsigned char> session13;  // a TLS 1.3 client session: the PSK template
  Contexts() {
    SSL_CTX_set_tlsext_ticket_key_evp_cb(server.get(), EvpCb);
    SSL_CTX_set_min_proto_version(client13.get(), TLS1_3_VERSION);
    // One real TLS 1.3 handshake under the fixed keys gives the template.
    tsc::TicketRing ring;
    const auto k80 = fuzz::FixedKey80();
    ring.SetEncrypting(ring.AddKey(k80.data(), k80.size()));
    g_ring = &ring;
    g_captured = &session13;
    SSL_CTX_sess_set_new_cb(client13.get(), CaptureSession);
    fuzz::Pair p = fuzz::NewPair(client13.get(), server.get());
    if (!fuzz::Handshake(p, 8)) fuzz::Die("TLS 1.3 template handshake");
    fuzz::Drain(p);
    SSL_CTX_sess_set_new_cb(client13.get(), nullptr);
    g_captured = nullptr;
    g_ring = nullptr;
    if (session13.empty()) fuzz::Die("no TLS 1.3 session");
  }
};

Contexts& Ctx() {
  static Contexts* c = new Contexts();
  return *c;
}

struct Reader {
  const uint8_t* p;
  size_t n;
  bool Byte(uint8_t* out) {
    if (n == 0) return false;
    *out = *p++;
    n--;
    return true;
  }
  size_t Take(size_t want, const uint8_t** out) {
    const size_t got = want < n ? want : n;
    *out = p;
    p += got;
    n -= got;
    return got;
  }
};

bool IsHex(const std::string& s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Contexts& ctx = Ctx();
  tsc::TicketRing ring;
  const auto k80 = fuzz::FixedKey80();
  const auto k48 = fuzz::FixedKey48();
  const std::string id80 = ring.AddKey(k80.data(), k80.size());
  ring.AddKey(k48.data(), k48.size());
  ring.SetEncrypting(id80);

  Reader in{data, size};
  uint8_t count = 0;
  in.Byte(&count);
  std::string last_key, last_secret;
  for (int op = 0; op < (count & 7); op++) {
    uint8_t kind = 0, len = 0;
    if (!in.Byte(&kind) || !in.Byte(&len)) break;
    const uint8_t* bytes = nullptr;
    const size_t got = in.Take(len, &bytes);
    const std::string text(reinterpret_cast<const char*>(bytes), got);
    switch (kind % 6) {
      case 0: {  // a key file's bytes: only 48 or 80 bytes are a key
        const std::string id = ring.AddKey(bytes, got);
        if ((got == 48 || got == 80) != !id.empty()) __builtin_trap();
        if (!id.empty() && (id.size() != 32 || !IsHex(id))) __builtin_trap();
        if (!id.empty()) last_key = id;
        break;
      }
      case 1:
        ring.RemoveKey(got == 0 ? last_key : text);
        break;
      case 2:
        ring.SetEncrypting(got == 0 ? last_key : text);
        break;
      case 3:
        last_secret = ring.AddSecret(bytes, got);
        break;
      case 4: {  // derive from the last secret at an epoch taken from the bytes
        int64_t epoch = 0;
        std::memcpy(&epoch, bytes, got < sizeof(epoch) ? got : sizeof(epoch));
        const std::string id = ring.DeriveKey(got > 8 ? text.substr(8) : last_secret, epoch);
        if (!id.empty()) last_key = id;
        break;
      }
      case 5:
        ring.RemoveSecret(got == 0 ? last_secret : text);
        break;
    }
  }
  uint8_t mode = 0;
  in.Byte(&mode);

  g_ring = &ring;
  const bool tls13 = (mode & 4) != 0;
  fuzz::Pair pair = fuzz::NewPair(tls13 ? ctx.client13.get() : ctx.client.get(), ctx.server.get());
  if (tls13) {
    const std::vector<unsigned char> der = fuzz::WithTicket(ctx.session13, in.p, in.n);
    const unsigned char* p = der.data();
    tsc::SslSessionPtr sess(der.empty() ? nullptr : d2i_SSL_SESSION(nullptr, &p, static_cast<long>(der.size())));
    if (sess && (mode & 2) == 0) SSL_set_session(pair.client.get(), sess.get());
  } else if ((mode & 2) == 0) {
    // The bytes become the SessionTicket extension as they are; the server hands the first 16
    // to the callback as the key name and the next 16 as the IV (when there are 32 or more).
    SSL_set_session_ticket_ext(pair.client.get(), const_cast<uint8_t*>(in.p), static_cast<int>(in.n));
  }
  fuzz::Handshake(pair, (mode & 1) != 0 ? 4 : 1);
  g_ring = nullptr;
  ERR_clear_error();
  // Whatever the ring saw, its counters add up: each decrypt attempt is counted exactly once.
  auto& c = ring.counters();
  // (`resumed` waits for OpenSSL's verdict, counted outside the ring: compare with decryptions.)
  uint64_t decrypted = 0;
  for (const auto& k : ring.Current()->keys) decrypted += k->decrypted.load();
  if (c.renewed.load() > decrypted) __builtin_trap();
  if (std::getenv("TSC_FUZZ_VERBOSE") != nullptr) {  // to check what a seed reaches
    std::fprintf(stderr, "ring: issued=%llu resumed=%llu renewed=%llu unknownKey=%llu failed=%llu\n",
                 (unsigned long long)c.issued.load(), (unsigned long long)c.resumed.load(),
                 (unsigned long long)c.renewed.load(), (unsigned long long)c.unknown_key.load(),
                 (unsigned long long)c.failed.load());
  }
  return 0;
}
