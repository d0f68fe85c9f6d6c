// Shared ticket keys: the keys of TicketKeyRing.generate() rings attached with a shared store,
// held in the store file's key table (shared_store_layout.h) so that every process using the
// store (the workers of a cluster) encrypts and decrypts tickets with the same keys and rotates
// them together. Each process's ring keeps its own copy of the keys (the callback reads only
// that); Sync() brings it in line with the table, and a ticket under a name the ring does not
// hold yet is looked up in the table (Find) before it counts as unknown.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/shared_store.h"
#include "server/ticket_ring.h"

namespace tsc {

class SharedTicketKeys : public TicketRing::KeyFallback {
 public:
  struct KeyInfo {
    std::string id;  // hex of the public key name
    int64_t created_ms = 0;
  };
  enum class SyncResult { kSynced, kLockTimeout };

  explicit SharedTicketKeys(std::shared_ptr<SharedStore> store) : store_(std::move(store)) {}

  // Under the table's lock: a new random key when the table has none, when `rotate`, or when its
  // newest key is `rotate_every_ms` old; keys beyond `keep` dropped and wiped. Then every key of
  // the table is copied into `ring` and the newest encrypts there. `keys` gets the table's keys,
  // newest first.
  SyncResult Sync(TicketRing& ring, int64_t now_ms, int64_t rotate_every_ms, uint32_t keep, bool rotate,
                  std::vector<KeyInfo>* keys);
  // Drops (and wipes) the key with this id from the table, so no process takes it back.
  bool Remove(const std::string& id);
  bool Find(const unsigned char* name, unsigned char* key) noexcept override;

  const std::string& path() const { return store_->path(); }
  SharedStore& store() { return *store_; }

 private:
  std::shared_ptr<SharedStore> store_;
  // The table's generation when this process last synced: a ticket under an unknown name while
  // it has not changed is unknown everywhere, and costs no lock.
  std::atomic<uint32_t> synced_generation_{0xffffffffu};
};

}  // namespace tsc
