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
    std::vector<unsigned char> bytes;
    std::string id;  // HKDF-derived fingerprint: names the secret without revealing it
    ~Secret();
  };

  // What the callback reads: immutable once published, swapped whole under the mutex.
  struct Snapshot {
    std::vector<std::shared_ptr<Key>> keys;
    std::shared_ptr<Key> encrypting;
  };

  struct Counters {
    std::atomic<uint64_t> issued{0};
    std::atomic<uint64_t> resumed{0};
    std::atomic<uint64_t> renewed{0};
    std::atomic<uint64_t> unknown_key{0};
    std::atomic<uint64_t> failed{0};
  };

  TicketRing();

  // Adds a key in nginx/Node layout (name | hmac | aes), 48 or 80 bytes. Returns its id;
  // a key whose name is already in the ring is left as it is. Empty id for a bad length.
  std::string AddKey(const unsigned char* data, size_t len);
  bool RemoveKey(const std::string& id);
  // The key that encrypts from now on; empty id: none (no tickets issued). False if unknown.
  bool SetEncrypting(const std::string& id);

  std::string AddSecret(const unsigned char* data, size_t len);
  bool RemoveSecret(const std::string& id);
  // HKDF-SHA256(secret, epoch) -> 80-byte key, added to the ring. Empty id on failure.
  std::string DeriveKey(const std::string& secret_id, int64_t epoch);

  std::shared_ptr<const Snapshot> Current() const;
  Counters& counters() { return counters_; }

  // The SSL_CTX_set_tlsext_ticket_key_evp_cb body for this ring.
  int OnTicketKey(SSL* ssl, unsigned char* key_name, unsigned char* iv, EVP_CIPHER_CTX* cctx, EVP_MAC_CTX* hctx,
                  int enc) noexcept;

 private:
  void Publish(std::shared_ptr<const Snapshot> next);

  mutable std::mutex mutex_;  // guards snapshot_ (the pointer swap) and secrets_
  std::shared_ptr<const Snapshot> snapshot_;
  std::vector<std::shared_ptr<Secret>> secrets_;
  Counters counters_;
};

}  // namespace tsc
