// Shared store: a fixed-budget session table in a memory-mapped file that every process opening
// the same file shares (a named store in the user's private directory under /dev/shm, or a
// persistent file at a user path). This file is the table: insert, lookup, expiry, flush and
// stats over the slots of shared_store_layout.h; the file itself is shared_store_file.cc and its
// locks shared_store_lock.cc. It knows nothing about SSL objects: session_callbacks.cc turns
// sessions into bytes and back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/key_memory.h"
#include "common/shared_store_file.h"
#include "common/shared_store_layout.h"

namespace tsc {

using layout::kCounterCount;
using layout::SharedCounter;

struct SharedStoreStats {
  uint64_t entries = 0;
  uint64_t capacity = 0;
  uint64_t bytes_per_session = 0;  // slot + index entry: what one session costs in the file
  uint64_t max_session_bytes = 0;  // largest DER session a slot holds
  uint64_t total_bytes = 0;
  uint64_t stripes = 0;
  bool lost = false;         // the file was truncated under this process and is not reopened yet
  uint64_t reopens = 0;      // times this process reopened the file after that
  uint64_t ticket_keys = 0;  // keys in the store's table for generated rings (shared_ticket_keys.cc)
  uint64_t counters[kCounterCount] = {};
};

// Why a lookup missed, for the resumption reasons: the operator must tell a store that failed to
// answer (a lock not taken within its bound, bytes that fail their checks: storeError) from one
// that holds nothing (notFound) or holds a session past its lifetime (expired).
// kOtherContext: the store holds the ID only under another scope (session-ID context); nothing of
// that entry was copied or decoded.
enum class StoreMiss { kAbsent, kExpired, kFailed, kOtherContext };

// What an entry is keyed by besides its ID: the session-ID context of the session it holds, at
// most 32 bytes (empty in the client cache, which keys by upstream instead).
struct StoreScope {
  const unsigned char* bytes = nullptr;
  size_t len = 0;
};

// The scope of a lookup, asked for only once the store holds the ID at all, so an ID the store
// has never seen (most lookups of a busy server) costs nothing to scope. Runs outside any lock.
// False when it cannot be known: the lookup then fails (storeError), a full handshake.
class ScopeSource {
 public:
  virtual bool Get(StoreScope* out) const noexcept = 0;

 protected:
  ~ScopeSource() = default;
};

class SharedStore {
 public:
  // Opens or creates the store (one mapping per file and process, shared by every context that
  // names it). On failure returns nullptr and sets `error` to a message naming the file.
  static std::shared_ptr<SharedStore> Open(const StoreLocation& where, uint64_t total_bytes, uint32_t slot_bytes,
                                           std::string* error);

  enum class InsertResult { kStored, kTooLarge, kFailed, kPresent };
  // `der` is the encoded session; the checksum is computed before any lock is taken. With
  // `replace` false a live entry under the same key stays and the result is kPresent (the client
  // cache files TLS 1.3 tickets in the first free one of an upstream's keys).
  InsertResult Insert(const unsigned char* id, size_t id_len, const unsigned char* der, size_t der_len,
                      int64_t expires_at, bool replace = true) noexcept {
    return Insert(StoreScope{}, id, id_len, der, der_len, expires_at, replace);
  }
  // The same under `scope`: an entry of the same ID under another scope is another entry. A scope
  // longer than 32 bytes is not stored (kFailed).
  InsertResult Insert(StoreScope scope, const unsigned char* id, size_t id_len, const unsigned char* der,
                      size_t der_len, int64_t expires_at, bool replace = true) noexcept;
  // Copies the DER bytes of a live, checksum-verified entry into `out` (resized to the slot
  // size before the lock: nothing allocates under it) and sets `*len`. False on a miss, with
  // `*why` set when given. An ID no slot's index hash names is a miss without taking any lock.
  bool Lookup(const unsigned char* id, size_t id_len, int64_t now, KeyBytes* out, size_t* len,
              StoreMiss* why = nullptr) noexcept {
    return Copy(nullptr, id, id_len, now, out, len, why, false);
  }
  // Lookup of the entry under the scope `scope` gives; an entry of the ID under another scope is a
  // miss (kOtherContext, counted contextMisses) found by comparing the scopes under the lock.
  bool Lookup(const ScopeSource& scope, const unsigned char* id, size_t id_len, int64_t now, KeyBytes* out, size_t* len,
              StoreMiss* why) noexcept {
    return Copy(&scope, id, id_len, now, out, len, why, false);
  }
  // Lookup that also removes the entry, under the same lock: of all the processes taking the same
  // key at once, exactly one gets it (a TLS 1.3 ticket is offered once, RFC 8446 C.4).
  bool Take(const unsigned char* id, size_t id_len, int64_t now, KeyBytes* out, size_t* len) noexcept {
    return Copy(nullptr, id, id_len, now, out, len, nullptr, true);
  }
  // Drops every expired entry (all = false) or every entry (all = true), one stripe at a time so
  // no lock is held for more than a stripe's share of the table. Returns how many went.
  size_t Flush(int64_t now, bool all) noexcept;
  void Count(SharedCounter counter) noexcept;
  SharedStoreStats Stats() noexcept;

  // After a truncated (StoreFile::lost) or replaced (StoreFile::Replaced) file: maps the file at
  // the path. True when the store is usable.
  bool ReopenIfLost(std::string* error) { return file_->Reopen(error); }

  const std::string& path() const { return file_->path(); }
  StoreFile& file() { return *file_; }

 private:
  explicit SharedStore(std::shared_ptr<StoreFile> file) : file_(std::move(file)) {}
  bool Copy(const ScopeSource* scope, const unsigned char* id, size_t id_len, int64_t now, KeyBytes* out, size_t* len,
            StoreMiss* why, bool take) noexcept;
  std::shared_ptr<StoreFile> file_;
};

}  // namespace tsc
