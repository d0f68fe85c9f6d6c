#include "server/shared_ticket_keys.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>

#include <cstring>

#include "common/shared_store_lock.h"

namespace tsc {
namespace {

using namespace layout;

std::string Hex(const unsigned char* data, size_t len) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < len; i++) {
    out.push_back(digits[data[i] >> 4]);
    out.push_back(digits[data[i] & 0xf]);
  }
  return out;
}

// The table's lock, taken with the stripes' bound: a stopped holder costs this process a ticket
// it cannot look up (a full handshake), never a stalled one. A holder that died may have left a
// key half-written: the table is wiped, and the next sync starts it again.
class TableLock {
 public:
  explicit TableLock(TicketKeyTable* t) noexcept : t_(t) {
    bool waited = false;
    int r = LockWithin(&t_->lock, &waited);
    if (r == EOWNERDEAD) {
      WipeTicketKeys(t_);
      r = pthread_mutex_consistent(&t_->lock);
    }
    held_ = r == 0;
  }
  ~TableLock() {
    if (held_) pthread_mutex_unlock(&t_->lock);
  }
  TableLock(const TableLock&) = delete;
  TableLock& operator=(const TableLock&) = delete;
  bool held() const { return held_; }

 private:
  TicketKeyTable* t_;
  bool held_ = false;
};

// Keys copied out of the table under its lock, added to the ring after it (AddKey allocates).
struct KeyCopies {
  unsigned char bytes[kMaxSharedTicketKeys][kTicketKeyBytes];
  int64_t created_ms[kMaxSharedTicketKeys];
  uint32_t count = 0;
  ~KeyCopies() { OPENSSL_cleanse(bytes, sizeof(bytes)); }
};

}  // namespace

SharedTicketKeys::SyncResult SharedTicketKeys::Sync(TicketRing& ring, int64_t now_ms, int64_t rotate_every_ms,
                                                    uint32_t keep, bool rotate, std::vector<KeyInfo>* keys) {
  TicketKeyTable* t = store_->file().ticket_keys();
  if (keep > kMaxSharedTicketKeys) keep = kMaxSharedTicketKeys;
  if (keep == 0) keep = 1;
  KeyCopies copies;
  uint32_t generation;
  {
    TableLock lock(t);
    if (!lock.held()) return SyncResult::kLockTimeout;
    if (t->count > kMaxSharedTicketKeys) WipeTicketKeys(t);  // a corrupt count: start over
    const bool due = t->count == 0 || rotate || now_ms >= t->keys[0].created_ms + rotate_every_ms;
    bool changed = false;
    if (due) {
      unsigned char fresh[kTicketKeyBytes];
      if (RAND_bytes(fresh, sizeof(fresh)) == 1) {
        // Newest first: the oldest slides out of the end (wiped below when past `keep`).
        if (t->count == kMaxSharedTicketKeys) t->count--;
        std::memmove(&t->keys[1], &t->keys[0], sizeof(SharedTicketKey) * t->count);
        std::memcpy(t->keys[0].bytes, fresh, sizeof(fresh));
        t->keys[0].created_ms = now_ms;
        t->count++;
        changed = true;
      }
      OPENSSL_cleanse(fresh, sizeof(fresh));
    }
    while (t->count > keep) {
      t->count--;
      OPENSSL_cleanse(&t->keys[t->count], sizeof(SharedTicketKey));
      changed = true;
    }
    if (changed) t->generation.fetch_add(1, std::memory_order_release);
    generation = t->generation.load(std::memory_order_acquire);
    copies.count = t->count;
    for (uint32_t i = 0; i < t->count; i++) {
      std::memcpy(copies.bytes[i], t->keys[i].bytes, kTicketKeyBytes);
      copies.created_ms[i] = t->keys[i].created_ms;
    }
  }
  keys->clear();
  for (uint32_t i = 0; i < copies.count; i++) {
    KeyInfo info;
    info.id = ring.AddKey(copies.bytes[i], kTicketKeyBytes);
    info.created_ms = copies.created_ms[i];
    keys->push_back(std::move(info));
  }
  ring.SetEncrypting(keys->empty() ? std::string() : keys->front().id);
  synced_generation_.store(generation, std::memory_order_release);
  return SyncResult::kSynced;
}

bool SharedTicketKeys::Remove(const std::string& id) {
  TicketKeyTable* t = store_->file().ticket_keys();
  TableLock lock(t);
  if (!lock.held() || t->count > kMaxSharedTicketKeys) return false;
  for (uint32_t i = 0; i < t->count; i++) {
    if (Hex(t->keys[i].bytes, TicketRing::kNameBytes) != id) continue;
    std::memmove(&t->keys[i], &t->keys[i + 1], sizeof(SharedTicketKey) * (t->count - i - 1));
    t->count--;
    OPENSSL_cleanse(&t->keys[t->count], sizeof(SharedTicketKey));
    t->generation.fetch_add(1, std::memory_order_release);
    return true;
  }
  return false;
}

bool SharedTicketKeys::Find(const unsigned char* name, unsigned char* key) noexcept {
  TicketKeyTable* t = store_->file().ticket_keys();
  if (t->generation.load(std::memory_order_acquire) == synced_generation_.load(std::memory_order_acquire)) {
    return false;
  }
  TableLock lock(t);
  if (!lock.held()) return false;
  const uint32_t count = t->count <= kMaxSharedTicketKeys ? t->count : 0;
  for (uint32_t i = 0; i < count; i++) {
    if (std::memcmp(t->keys[i].bytes, name, TicketRing::kNameBytes) == 0) {
      std::memcpy(key, t->keys[i].bytes, kTicketKeyBytes);
      return true;
    }
  }
  return false;
}

}  // namespace tsc
