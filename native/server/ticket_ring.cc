// Ticket key ring: the pure C++ half (no Node-API): keys, secrets, HKDF derivation and the evp
// ticket callback body. The JS functions and the SSL_CTX hook live in ticket_ring_addon.cc, so
// the fuzz targets (fuzz/) can build this file against plain libssl without Node's headers.
#include "server/ticket_ring.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>

#include "common/openssl_ptr.h"

namespace tsc {
namespace {

// Domain separation for everything derived from a ring secret. Changing these changes every
// derived key, so they are part of the wire contract between processes sharing a secret.
constexpr char kKeySalt[] = "tls-resumption/ticket-key/v1";
constexpr char kSecretIdInfo[] = "tls-resumption/secret-id/v1";

using EvpKdfPtr = std::unique_ptr<EVP_KDF, OpenSslDeleter<EVP_KDF, EVP_KDF_free>>;
using EvpKdfCtxPtr = std::unique_ptr<EVP_KDF_CTX, OpenSslDeleter<EVP_KDF_CTX, EVP_KDF_CTX_free>>;

std::string Hex(const unsigned char* data, size_t len) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (size_t i = 0; i < len; i++) {
    out.push_back(digits[data[i] >> 4]);
    out.push_back(digits[data[i] & 0xf]);
  }
  return out;
}

// HKDF-SHA256 (extract and expand) through the EVP_KDF that Node's OpenSSL provides.
bool Hkdf(const KeyBytes& secret, const unsigned char* info, size_t info_len, unsigned char* out, size_t out_len) {
  EvpKdfPtr kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  if (!kdf) return false;
  EvpKdfCtxPtr kctx(EVP_KDF_CTX_new(kdf.get()));
  if (!kctx) return false;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>("SHA256"), 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<unsigned char*>(secret.data()), secret.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<char*>(kKeySalt), sizeof(kKeySalt) - 1),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<unsigned char*>(info), info_len),
      OSSL_PARAM_construct_end(),
  };
  return EVP_KDF_derive(kctx.get(), out, out_len, params) == 1;
}

// Points the MAC context at this key's HMAC-SHA256 key (OpenSSL 3 evp callback contract).
bool SetHmacKey(EVP_MAC_CTX* hctx, const TicketRing::Key& key) {
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, const_cast<unsigned char*>(key.hmac.data()),
                                        key.secret_len),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>("SHA256"), 0),
      OSSL_PARAM_construct_end(),
  };
  return EVP_MAC_CTX_set_params(hctx, params) == 1;
}

// Removes what a failed OpenSSL call in the ticket callback queued, and only that: a left-over
// error would be reported against the connection's next unrelated SSL call.
class ErrorMark {
 public:
  ErrorMark() { ERR_set_mark(); }
  ~ErrorMark() { ERR_pop_to_mark(); }
  ErrorMark(const ErrorMark&) = delete;
  ErrorMark& operator=(const ErrorMark&) = delete;
};

}  // namespace

TicketRing::Key::~Key() {
  OPENSSL_cleanse(name.data(), name.size());
  OPENSSL_cleanse(hmac.data(), hmac.size());
  OPENSSL_cleanse(aes.data(), aes.size());
}

TicketRing::Secret::~Secret() {
  if (!bytes.empty()) OPENSSL_cleanse(bytes.data(), bytes.size());
}

TicketRing::TicketRing()
    : snapshot_(std::make_shared<const Snapshot>()),
      aes128_(EVP_CIPHER_fetch(nullptr, "AES-128-CBC", nullptr), EVP_CIPHER_free),
      aes256_(EVP_CIPHER_fetch(nullptr, "AES-256-CBC", nullptr), EVP_CIPHER_free) {
  published_.store(snapshot_.get(), std::memory_order_seq_cst);
}

TicketRing::~TicketRing() = default;

std::shared_ptr<const TicketRing::Snapshot> TicketRing::Current() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return snapshot_;
}

void TicketRing::PublishLocked(std::shared_ptr<const Snapshot> next) {
  published_.store(next.get(), std::memory_order_seq_cst);
  retired_.push_back(std::move(snapshot_));
  snapshot_ = std::move(next);
  ReclaimLocked();
}

void TicketRing::ReclaimLocked() {
  // A callback announces itself in readers_ before it loads published_ (both seq_cst): once the
  // count reads 0 after the store above, no callback holds a retired pointer.
  if (readers_.load(std::memory_order_seq_cst) == 0) retired_.clear();
}

std::string TicketRing::AddKey(const unsigned char* data, size_t len) {
  if (len != 48 && len != 80) return std::string();
  // Key memory: out of core dumps and forked children, wiped when unmapped (common/key_memory.h).
  auto key = std::allocate_shared<Key>(KeyAllocator<Key>());
  key->secret_len = (len - kNameBytes) / 2;
  std::memcpy(key->name.data(), data, kNameBytes);
  std::memcpy(key->hmac.data(), data + kNameBytes, key->secret_len);
  std::memcpy(key->aes.data(), data + kNameBytes + key->secret_len, key->secret_len);
  key->id = Hex(key->name.data(), kNameBytes);
  // Writers are JS calls on one thread at a time per ring, but worker_threads could share a ring
  // in future: copy-modify-publish keeps readers lock-free apart from the pointer copy.
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& existing : snapshot_->keys) {
    if (existing->id == key->id) return key->id;
  }
  auto next = std::make_shared<Snapshot>(*snapshot_);
  next->keys.push_back(key);
  PublishLocked(std::move(next));
  return key->id;
}

bool TicketRing::RemoveKey(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto next = std::make_shared<Snapshot>(*snapshot_);
  auto it = std::find_if(next->keys.begin(), next->keys.end(), [&](const auto& k) { return k->id == id; });
  if (it == next->keys.end()) return false;
  if (next->encrypting == *it) next->encrypting.reset();
  next->keys.erase(it);
  PublishLocked(std::move(next));
  return true;
}

bool TicketRing::SetEncrypting(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto next = std::make_shared<Snapshot>(*snapshot_);
  if (id.empty()) {
    next->encrypting.reset();
  } else {
    auto it = std::find_if(next->keys.begin(), next->keys.end(), [&](const auto& k) { return k->id == id; });
    if (it == next->keys.end()) return false;
    next->encrypting = *it;
  }
  PublishLocked(std::move(next));
  return true;
}

void TicketRing::SetFallback(std::shared_ptr<KeyFallback> fallback) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto next = std::make_shared<Snapshot>(*snapshot_);
  next->fallback = std::move(fallback);
  PublishLocked(std::move(next));
}

const TicketRing::Snapshot* TicketRing::AdoptFromFallback(KeyFallback& fallback, const unsigned char* name,
                                                          Key** key) noexcept {
  *key = nullptr;
  unsigned char bytes[80];
  if (!fallback.Find(name, bytes)) return nullptr;
  try {
    AddKey(bytes, sizeof(bytes));
  } catch (...) {
    // Out of memory: the ticket is a miss, as any internal failure in the callback.
  }
  OPENSSL_cleanse(bytes, sizeof(bytes));
  const Snapshot* snap = published_.load(std::memory_order_seq_cst);
  for (const auto& k : snap->keys) {
    if (std::memcmp(k->name.data(), name, kNameBytes) == 0) *key = k.get();
  }
  return snap;
}

std::string TicketRing::AddSecret(const unsigned char* data, size_t len) {
  auto secret = std::allocate_shared<Secret>(KeyAllocator<Secret>());
  secret->bytes.assign(data, data + len);
  unsigned char fingerprint[8];
  if (!Hkdf(secret->bytes, reinterpret_cast<const unsigned char*>(kSecretIdInfo), sizeof(kSecretIdInfo) - 1,
            fingerprint, sizeof(fingerprint))) {
    return std::string();
  }
  secret->id = Hex(fingerprint, sizeof(fingerprint));
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& existing : secrets_) {
    if (existing->id == secret->id) return secret->id;
  }
  secrets_.push_back(secret);
  return secret->id;
}

bool TicketRing::RemoveSecret(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = std::find_if(secrets_.begin(), secrets_.end(), [&](const auto& s) { return s->id == id; });
  if (it == secrets_.end()) return false;
  secrets_.erase(it);
  return true;
}

std::string TicketRing::DeriveKey(const std::string& secret_id, int64_t epoch) {
  std::shared_ptr<Secret> secret;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& s : secrets_) {
      if (s->id == secret_id) secret = s;
    }
  }
  if (!secret) return std::string();
  // info = "epoch" || epoch as 8 bytes big-endian: the same (secret, epoch) gives the same key
  // in every process, whatever its language or word size.
  unsigned char info[5 + 8] = {'e', 'p', 'o', 'c', 'h'};
  for (int i = 0; i < 8; i++) info[5 + i] = static_cast<unsigned char>(static_cast<uint64_t>(epoch) >> (56 - 8 * i));
  unsigned char material[80];
  std::string id;
  if (Hkdf(secret->bytes, info, sizeof(info), material, sizeof(material))) id = AddKey(material, sizeof(material));
  OPENSSL_cleanse(material, sizeof(material));
  return id;
}

int TicketRing::OnTicketKey(SSL* ssl, unsigned char* key_name, unsigned char* iv, EVP_CIPHER_CTX* cctx,
                            EVP_MAC_CTX* hctx, int enc) noexcept {
  struct ReaderScope {
    std::atomic<uint32_t>& readers;
    explicit ReaderScope(std::atomic<uint32_t>& r) : readers(r) { readers.fetch_add(1, std::memory_order_seq_cst); }
    ~ReaderScope() { readers.fetch_sub(1, std::memory_order_release); }
  } reading(readers_);
  const Snapshot* snap = published_.load(std::memory_order_seq_cst);
  ErrorMark mark;
  if (enc == 1) {
    Key* key = snap->encrypting.get();
    if (key == nullptr) return 0;  // no encrypting key (revoked, not yet derived): no ticket, full handshake next time
    const EVP_CIPHER* cipher = key->secret_len == 32 ? aes256_.get() : aes128_.get();
    const int iv_len = cipher != nullptr ? EVP_CIPHER_get_iv_length(cipher) : 0;
    if (iv_len <= 0 || RAND_bytes(iv, iv_len) != 1 ||
        EVP_EncryptInit_ex(cctx, cipher, nullptr, key->aes.data(), iv) != 1 || !SetHmacKey(hctx, *key)) {
      counters_.failed.fetch_add(1, std::memory_order_relaxed);
      return 0;  // no ticket this time; -1 would make OpenSSL fail the handshake
    }
    std::memcpy(key_name, key->name.data(), kNameBytes);
    key->encrypted.fetch_add(1, std::memory_order_relaxed);
    counters_.issued.fetch_add(1, std::memory_order_relaxed);
    return 1;
  }
  Key* key = nullptr;
  for (const auto& k : snap->keys) {
    if (std::memcmp(k->name.data(), key_name, kNameBytes) == 0) {
      key = k.get();
      break;
    }
  }
  // A name this process does not hold yet may be a key another process of the same shared store
  // has just rotated to: taken from the store's table before it counts as unknown.
  if (key == nullptr && snap->fallback) {
    const Snapshot* adopted = AdoptFromFallback(*snap->fallback, key_name, &key);
    if (adopted != nullptr) snap = adopted;
  }
  if (key == nullptr) {
    counters_.unknown_key.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }
  const EVP_CIPHER* cipher = key->secret_len == 32 ? aes256_.get() : aes128_.get();
  if (cipher == nullptr || !SetHmacKey(hctx, *key) ||
      EVP_DecryptInit_ex(cctx, cipher, nullptr, key->aes.data(), iv) != 1) {
    counters_.failed.fetch_add(1, std::memory_order_relaxed);
    return 0;  // treated like an unknown ticket: full handshake
  }
  key->decrypted.fetch_add(1, std::memory_order_relaxed);
  // `resumed` is counted once OpenSSL has resumed (resumption_stats.cc): the HMAC is checked
  // after this returns, so a forged ticket under a public key name gets this far.
  const bool old_key = key != snap->encrypting.get();
  if (old_key) counters_.renewed.fetch_add(1, std::memory_order_relaxed);
  // 2 = "use it, and issue a fresh ticket": always for a key that no longer encrypts (so the
  // client moves to the current key), and always on TLS 1.3 so a client that uses each ticket
  // once keeps resuming (docs/internals.md#ticket-renewal).
  return old_key || SSL_version(ssl) == TLS1_3_VERSION ? 2 : 1;
}

}  // namespace tsc
