// Ticket key ring: the keys a context encrypts and decrypts session tickets with, the secrets
// keys are derived from (HKDF-SHA256 per time epoch), the evp ticket callback that uses them,
// and the ring's counters. A ring is shared (shared_ptr) by every context it is attached to and
// by the JS handle; key material lives only here and is wiped with OPENSSL_cleanse on drop.
// Plain C++ over OpenSSL (no Node-API), so fuzz/ builds it too; the JS side is ticket_ring_addon.
#pragma once

#include <openssl/ssl.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/key_memory.h"

namespace tsc {

class TicketRing {
 public:
  static constexpr size_t kNameBytes = 16;

  // One ticket key. 80-byte keys: AES-256-CBC + HMAC-SHA256 with a 32-byte HMAC key; 48-byte
  // keys (Node, nginx 48-byte files): AES-128-CBC + HMAC-SHA256 with a 16-byte HMAC key.
  struct Key {
    std::array<unsigned char, kNameBytes> name{};
    std::array<unsigned char, 32> hmac{};
    std::array<unsigned char, 32> aes{};
    size_t secret_len = 0;  // 16 (48-byte key) or 32 (80-byte key): HMAC and AES key length
    std::string id;         // hex of the name: not secret, the name travels in clear in every ticket
    std::atomic<uint64_t> encrypted{0};
    std::atomic<uint64_t> decrypted{0};
    ~Key();
  };

  struct Secret {
    KeyBytes bytes;  // in key memory (common/key_memory.h), like every Key
    std::string id;  // HKDF-derived fingerprint: names the secret without revealing it
    ~Secret();
  };

  // Where the callback looks for a key whose name the ring does not hold: the shared store's
  // key table (shared_ticket_keys.cc), which another process may have rotated a moment ago.
  class KeyFallback {
   public:
    virtual ~KeyFallback() = default;
    // Copies the 80-byte key named `name` into `key` when there is one. Bounded, never throws.
    virtual bool Find(const unsigned char* name, unsigned char* key) noexcept = 0;
  };

  // What the callback reads: immutable once published. Writers copy, modify and publish a new
  // one; the callback reads the published pointer without a lock or a reference-count change.
  struct Snapshot {
    std::vector<std::shared_ptr<Key>> keys;
    std::shared_ptr<Key> encrypting;
    std::shared_ptr<KeyFallback> fallback;
  };

  struct Counters {
    std::atomic<uint64_t> issued{0};
    std::atomic<uint64_t> resumed{0};
    std::atomic<uint64_t> renewed{0};
    std::atomic<uint64_t> unknown_key{0};
    std::atomic<uint64_t> failed{0};
  };

  TicketRing();
  ~TicketRing();
  TicketRing(const TicketRing&) = delete;
  TicketRing& operator=(const TicketRing&) = delete;

  // Adds a key in nginx/Node layout (name | hmac | aes), 48 or 80 bytes. Returns its id;
  // a key whose name is already in the ring is left as it is. Empty id for a bad length.
  std::string AddKey(const unsigned char* data, size_t len);
  bool RemoveKey(const std::string& id);
  // The key that encrypts from now on; empty id: none (no tickets issued). False if unknown.
  bool SetEncrypting(const std::string& id);

  // Where unknown key names are looked up from now on (nullptr: nowhere).
  void SetFallback(std::shared_ptr<KeyFallback> fallback);

  std::string AddSecret(const unsigned char* data, size_t len);
  bool RemoveSecret(const std::string& id);
  // HKDF-SHA256(secret, epoch) -> 80-byte key, added to the ring. Empty id on failure.
  std::string DeriveKey(const std::string& secret_id, int64_t epoch);

  // A counted reference to the published snapshot, for readers outside the callback (stats).
  std::shared_ptr<const Snapshot> Current() const;
  Counters& counters() { return counters_; }

  // The SSL_CTX_set_tlsext_ticket_key_evp_cb body for this ring.
  int OnTicketKey(SSL* ssl, unsigned char* key_name, unsigned char* iv, EVP_CIPHER_CTX* cctx, EVP_MAC_CTX* hctx,
                  int enc) noexcept;

 private:
  // Makes `next` the snapshot callbacks read. Caller holds mutex_.
  void PublishLocked(std::shared_ptr<const Snapshot> next);
  // Frees retired snapshots once no callback can still be reading them. Caller holds mutex_.
  void ReclaimLocked();
  // Inside the callback: takes the key named `name` from the fallback into the ring. Returns the
  // snapshot that holds it (the callback is a reader, so it stays alive) and the key, or nulls.
  const Snapshot* AdoptFromFallback(KeyFallback& fallback, const unsigned char* name, Key** key) noexcept;

  mutable std::mutex mutex_;  // writers only: snapshot_, retired_ and secrets_
  std::shared_ptr<const Snapshot> snapshot_;
  // The callback's view of snapshot_: one load, no lock, no shared_ptr copy per ticket. A
  // replaced snapshot is retired and freed (its keys wiped) when no callback is inside the ring:
  // at once in practice, since callbacks run on the thread that owns the ring's JS handle.
  std::atomic<const Snapshot*> published_{nullptr};
  std::atomic<uint32_t> readers_{0};
  std::vector<std::shared_ptr<const Snapshot>> retired_;
  std::vector<std::shared_ptr<Secret>> secrets_;
  Counters counters_;
  // Fetched once: EVP_aes_*_cbc() passed to EVP_*Init_ex makes OpenSSL 3 fetch the
  // implementation from the provider store on every ticket.
  std::unique_ptr<EVP_CIPHER, void (*)(EVP_CIPHER*)> aes128_;
  std::unique_ptr<EVP_CIPHER, void (*)(EVP_CIPHER*)> aes256_;
};

}  // namespace tsc
