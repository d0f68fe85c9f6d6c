// Seed corpus generator: `fuzz/build/seeds fuzz/corpus` writes a few valid inputs per target,
// made by real in-memory TLS handshakes and the real store code, plus hand-made edge cases.
// Run by fuzz/build.sh --seeds; the output is committed (fuzz/corpus/, well under 1 MB).
#include <sys/stat.h>

#include <cstdio>
#include <ctime>
#include <functional>
#include <string>
#include <vector>

#include "common/session_der.h"
#include "fuzz_support.h"
#include "server/ticket_ring.h"

namespace {

namespace st = fuzz::store;
using Bytes = std::vector<unsigned char>;

std::string g_out;

void Write(const std::string& target, const std::string& name, const Bytes& data) {
  const std::string dir = g_out + "/" + target;
  mkdir(g_out.c_str(), 0755);
  mkdir(dir.c_str(), 0755);
  FILE* f = std::fopen((dir + "/" + name).c_str(), "wb");
  if (f == nullptr) fuzz::Die("cannot write a seed");
  if (!data.empty()) std::fwrite(data.data(), 1, data.size(), f);
  std::fclose(f);
}

Bytes Der(SSL_SESSION* sess) {
  const int n = i2d_SSL_SESSION(sess, nullptr);
  if (n <= 0) fuzz::Die("i2d");
  Bytes out(static_cast<size_t>(n));
  unsigned char* p = out.data();
  i2d_SSL_SESSION(sess, &p);
  return out;
}

// Sessions the new-session callbacks see, server side and client side.
std::vector<Bytes>* g_server_sessions = nullptr;
std::vector<Bytes>* g_client_sessions = nullptr;
std::vector<Bytes>* g_tickets = nullptr;

int ServerNew(SSL*, SSL_SESSION* sess) {
  // Long-lived, so the seeds still decode as live sessions years from now.
  SSL_SESSION_set_timeout(sess, 20L * 365 * 24 * 3600);
  g_server_sessions->push_back(Der(sess));
  return 0;
}

int ClientNew(SSL*, SSL_SESSION* sess) {
  g_client_sessions->push_back(Der(sess));
  const unsigned char* tick = nullptr;
  size_t len = 0;
  SSL_SESSION_get0_ticket(sess, &tick, &len);
  if (len > 0) g_tickets->push_back(Bytes(tick, tick + len));
  return 0;
}

tsc::TicketRing* g_ring = nullptr;
int EvpCb(SSL* ssl, unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* c, EVP_MAC_CTX* h, int enc) {
  return g_ring->OnTicketKey(ssl, name, iv, c, h, enc);
}

struct Captured {
  std::vector<Bytes> server, client, tickets;
};

// One handshake at `version`; `stateful`: SSL_OP_NO_TICKET on the server (session IDs, or TLS 1.3
// stateful tickets backed by the server cache), else tickets from `ring`.
Captured Handshake(int version, bool stateful, tsc::TicketRing* ring) {
  Captured out;
  g_server_sessions = &out.server;
  g_client_sessions = &out.client;
  g_tickets = &out.tickets;
  g_ring = ring;
  tsc::SslCtxPtr server = fuzz::NewServerCtx();
  tsc::SslCtxPtr client = fuzz::NewClientCtx(version);
  SSL_CTX_set_min_proto_version(client.get(), version);
  SSL_CTX_set_session_cache_mode(server.get(), SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_INTERNAL);
  SSL_CTX_sess_set_new_cb(server.get(), ServerNew);
  SSL_CTX_sess_set_new_cb(client.get(), ClientNew);
  if (stateful) SSL_CTX_set_options(server.get(), SSL_OP_NO_TICKET);
  if (ring != nullptr) SSL_CTX_set_tlsext_ticket_key_evp_cb(server.get(), EvpCb);
  fuzz::Pair p = fuzz::NewPair(client.get(), server.get());
  if (!fuzz::Handshake(p, 8)) fuzz::Die("seed handshake");
  fuzz::Drain(p);
  return out;
}

Bytes Cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& b : parts) out.insert(out.end(), b.begin(), b.end());
  return out;
}

Bytes Op(unsigned char kind, const Bytes& bytes) {
  Bytes out{kind, static_cast<unsigned char>(bytes.size())};
  out.insert(out.end(), bytes.begin(), bytes.end());
  return out;
}

void TicketSeeds() {
  tsc::TicketRing ring;
  const auto k80 = fuzz::FixedKey80(), k48 = fuzz::FixedKey48();
  const std::string id80 = ring.AddKey(k80.data(), k80.size());
  const std::string id48 = ring.AddKey(k48.data(), k48.size());
  ring.SetEncrypting(id80);
  Captured under80 = Handshake(TLS1_2_VERSION, false, &ring);
  ring.SetEncrypting(id48);
  Captured under48 = Handshake(TLS1_2_VERSION, false, &ring);
  if (under80.tickets.empty() || under48.tickets.empty()) fuzz::Die("no ticket issued");
  const Bytes& t80 = under80.tickets[0];
  const Bytes& t48 = under48.tickets[0];
  const Bytes no_ops{0};
  Write("ticket_ring", "valid-80", Cat({no_ops, {0}, t80}));
  Write("ticket_ring", "valid-80-full-handshake", Cat({no_ops, {1}, t80}));
  Write("ticket_ring", "valid-48-renewed", Cat({no_ops, {0}, t48}));
  Bytes unknown = t80;
  unknown[0] ^= 0xff;
  Write("ticket_ring", "unknown-key-name", Cat({no_ops, {0}, unknown}));
  Bytes bad_mac = t80;
  bad_mac.back() ^= 0x01;
  Write("ticket_ring", "bad-hmac", Cat({no_ops, {0}, bad_mac}));
  Write("ticket_ring", "short-31", Cat({no_ops, {0}, Bytes(t80.begin(), t80.begin() + 31)}));
  Write("ticket_ring", "name-and-iv-only", Cat({no_ops, {0}, Bytes(t80.begin(), t80.begin() + 32)}));
  Write("ticket_ring", "empty-ticket", Cat({no_ops, {1}}));
  Write("ticket_ring", "no-extension", Cat({no_ops, {3}}));
  // Key operations: a new 80-byte key made encrypting (the old ticket then renews), bad lengths,
  // removing the encrypting key, a secret and a derived key.
  Bytes fresh80 = fuzz::FixedKey(80, 0x11);
  Write("ticket_ring", "add-encrypting-key", Cat({{2}, Op(0, fresh80), Op(2, {}), {1}, t80}));
  Write("ticket_ring", "bad-key-lengths",
        Cat({{3}, Op(0, fuzz::FixedKey(47, 1)), Op(0, fuzz::FixedKey(81, 2)), Op(0, {}), {0}, t80}));
  Write("ticket_ring", "remove-encrypting", Cat({{1}, Op(1, Bytes(id80.begin(), id80.end())), {1}, t80}));
  Bytes epoch{0x39, 0x30, 0, 0, 0, 0, 0, 0};
  // TLS 1.3: the same fixed keys, the ticket offered as a PSK identity (mode bit 2).
  ring.SetEncrypting(id80);
  Captured v13 = Handshake(TLS1_3_VERSION, false, &ring);
  if (v13.tickets.empty()) fuzz::Die("no TLS 1.3 ticket issued");
  Write("ticket_ring", "tls13-valid-80", Cat({no_ops, {4}, v13.tickets[0]}));
  Write("ticket_ring", "tls13-valid-80-full-handshake", Cat({no_ops, {5}, v13.tickets[0]}));
  Bytes unknown13 = v13.tickets[0];
  unknown13[0] ^= 0xff;
  Write("ticket_ring", "tls13-unknown-key-name", Cat({no_ops, {4}, unknown13}));
  Write("ticket_ring", "tls13-renewed-after-new-key", Cat({{2}, Op(0, fresh80), Op(2, {}), {5}, v13.tickets[0]}));
  Write("ticket_ring", "secret-derive",
        Cat({{4}, Op(3, fuzz::FixedKey(32, 3)), Op(4, epoch), Op(2, {}), Op(5, {}), {1}, t48}));
}

// A real store (geometry `g`) holding `sessions`; returns its bytes.
Bytes StoreImage(const st::Geometry& g, const std::vector<Bytes>& sessions, std::vector<size_t>* slots = nullptr) {
  const std::string path = st::TempStorePath("seed");
  unlink(path.c_str());
  std::string error;
  {
    auto store = tsc::SharedStore::Open(st::At(path), g.total_bytes, g.slot_bytes, &error);
    if (!store) fuzz::Die(error.c_str());
    for (const Bytes& der : sessions) {
      const unsigned char* p = der.data();
      tsc::SslSessionPtr sess(d2i_SSL_SESSION(nullptr, &p, static_cast<long>(der.size())));
      unsigned int id_len = 0;
      const unsigned char* id = SSL_SESSION_get_id(sess.get(), &id_len);
      unsigned int ctx_len = 0;
      const unsigned char* ctx = SSL_SESSION_get0_id_context(sess.get(), &ctx_len);
      if (store->Insert(tsc::StoreScope{ctx, ctx_len}, id, id_len, der.data(), der.size(),
                        tsc::ExpiresAt(sess.get())) != tsc::SharedStore::InsertResult::kStored) {
        fuzz::Die("seed session does not fit the store");
      }
      // The real get path must hand it back, or the seed is useless.
      tsc::StoreMiss why;
      const st::FixedScope scope(ctx, ctx_len);
      SSL_SESSION* back = tsc::LookupSession(*store, scope, id, static_cast<int>(id_len), &why);
      if (back == nullptr) fuzz::Die("seed session does not come back through LookupSession");
      SSL_SESSION_free(back);
      if (slots != nullptr) slots->push_back(g.set_start(tsc::layout::KeyHash(id, id_len)));
    }
  }
  Bytes img = st::ReadFile(path);
  unlink(path.c_str());
  return img;
}

void StoreSeeds(const std::vector<Bytes>& sessions) {
  const st::Geometry header_geo = st::Sets(384, 2);
  Bytes empty = StoreImage(header_geo, {});
  Bytes full = StoreImage(header_geo, sessions);
  Write("store_header", "empty-store", empty);
  Write("store_header", "store-with-sessions", full);
  Write("store_header", "all-zero", Bytes(header_geo.total_bytes, 0));
  Write("store_header", "truncated-header", Bytes(full.begin(), full.begin() + 4096));
  Write("store_header", "empty-file", Bytes());
  Bytes wrong_magic = full;
  wrong_magic[7] = '2';
  Write("store_header", "wrong-magic", wrong_magic);
  Bytes wrong_layout = full;
  wrong_layout[offsetof(tsc::layout::StoreHeader, layout_version)] = 1;  // the layout before stripes
  Write("store_header", "wrong-layout", wrong_layout);
  Bytes wrong_slots = full;
  wrong_slots[offsetof(tsc::layout::StoreHeader, slot_bytes)] = 0;  // slot_bytes low byte
  Write("store_header", "wrong-slot-bytes", wrong_slots);
  Bytes wrong_stripes = full;
  wrong_stripes[offsetof(tsc::layout::StoreHeader, stripe_count)] = 7;
  Write("store_header", "wrong-stripe-count", wrong_stripes);
  Bytes touching = full;
  // Stripe 1 names slot 3 as being written (only read on lock recovery): a slot of stripe 0's
  // set, which recovery of stripe 1 must leave alone; and stripe 0 a slot past the end.
  st::Store<uint32_t>(&touching[header_geo.stripe_at(1) + offsetof(tsc::layout::Stripe, touching)], 3);
  st::Store<uint32_t>(&touching[header_geo.stripe_at(0) + offsetof(tsc::layout::Stripe, touching)], 0x7fffffff);
  Write("store_header", "touching-slot", touching);
  Bytes held = full;
  // A lock word naming a thread that does not run (what a machine crash leaves).
  st::Store<uint32_t>(&held[header_geo.stripe_at(0) + offsetof(tsc::layout::Stripe, lock)], 4000000);
  Write("store_header", "stale-lock-word", held);

  const st::Geometry entry_geo = st::Sets(512, 2);
  std::vector<size_t> slots;
  Bytes img = StoreImage(entry_geo, sessions, &slots);
  for (size_t n = 0; n < sessions.size(); n++) {
    // Find the slot holding session n: the first live one of its set whose DER matches.
    for (size_t i = slots[n]; i < slots[n] + st::kWays; i++) {
      const unsigned char* slot = &img[entry_geo.slot_at(i)];
      const uint32_t len = st::Load<uint32_t>(slot + st::kSlotDerLen);
      if (len != sessions[n].size() || std::memcmp(slot + st::kSlotHeaderBytes, sessions[n].data(), len) != 0) continue;
      Bytes entry(slot, slot + st::kSlotHeaderBytes + len);
      Write("store_entry", "session-" + std::to_string(n) + "-consistent", Cat({{0x3f}, entry}));
      Write("store_entry", "session-" + std::to_string(n) + "-as-stored", Cat({{0x02}, entry}));
      Bytes flipped = entry;
      flipped[st::kSlotHeaderBytes + len / 2] ^= 0x20;
      Write("store_entry", "session-" + std::to_string(n) + "-flipped-der-rechecksummed", Cat({{0x3f}, flipped}));
      Write("store_entry", "session-" + std::to_string(n) + "-flipped-der", Cat({{0x3b}, flipped}));
      break;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: seeds <corpus-dir>\n");
    return 2;
  }
  g_out = argv[1];
  TicketSeeds();
  Captured v12 = Handshake(TLS1_2_VERSION, true, nullptr);
  Captured v13 = Handshake(TLS1_3_VERSION, true, nullptr);
  tsc::TicketRing ring;
  const auto k80 = fuzz::FixedKey80();
  ring.SetEncrypting(ring.AddKey(k80.data(), k80.size()));
  Captured v12t = Handshake(TLS1_2_VERSION, false, &ring);
  Captured v13t = Handshake(TLS1_3_VERSION, false, &ring);
  if (v12.server.empty() || v13.server.empty() || v12.client.empty() || v13t.client.empty()) fuzz::Die("no sessions");
  StoreSeeds({v12.server[0], v13.server[0]});
  Write("session_inspect", "tls12-session-id", v12.client[0]);
  Write("session_inspect", "tls12-ticket", v12t.client.at(0));
  Write("session_inspect", "tls13-stateful", v13.client.at(0));
  Write("session_inspect", "tls13-ticket", v13t.client.at(0));
  Write("session_inspect", "server-session", v12.server[0]);
  Write("session_inspect", "truncated",
        Bytes(v13t.client[0].begin(), v13t.client[0].begin() + v13t.client[0].size() / 2));
  Write("session_inspect", "empty", Bytes());
  std::printf("seeds written to %s\n", g_out.c_str());
  return 0;
}
