// Shared store: a fixed-budget session table in a memory-mapped file that every process opening
// the same file shares (a named store under /dev/shm, or a persistent file at a user path).
// Owns: the file and its mapping, the versioned header and its validation, the process-shared
// robust mutex and its recovery, and the slot format (key, expiry, DER bytes, checksum).
// It knows nothing about SSL objects: session_callbacks.cc turns sessions into bytes and back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tsc {

// Counters kept in the shared header, so every process reports the store's totals.
enum SharedCounter : int {
  kEvictions = 0,
  kExpiries,
  kTooLarge,
  kLockWaits,
  kRecoveries,
  kCorrupt,
  kHits,
  kMisses,
  kStores,
  kDeletes,
  kCounterCount
};

struct SharedStoreStats {
  uint64_t entries = 0;
  uint64_t capacity = 0;
  uint64_t bytes_per_session = 0;   // slot + index entry: what one session costs in the file
  uint64_t max_session_bytes = 0;   // largest DER session a slot holds
  uint64_t total_bytes = 0;
  uint64_t counters[kCounterCount] = {};
};

// What identifies a session in the store: the session-ID context and the session ID.
// Entries are keyed by session ID alone. The session-ID context is not part of the key: OpenSSL
// offers no getter for a connection's context, Node 22 and 24 set it to SHA-256 of the JS string
// (20 and 26 to the string itself), so any context the store computed would be a guess. OpenSSL
// compares the returned session's context with the connection's and treats a mismatch as a miss.
struct SessionKey {
  const unsigned char* sid_ctx;
  size_t sid_ctx_len;
  const unsigned char* id;
  size_t id_len;
};

// Geometry asked for by a caller; the header must match it exactly.
struct StoreGeometry {
  uint64_t total_bytes = 0;
  uint32_t slot_bytes = 0;
};

class StoreFile;

// One context's view of a store file: the file (shared by every context in the process that
// names it, unmapped when the last one lets go) plus the session-ID context of that context.
inline SessionKey KeyOf(const unsigned char* id, size_t id_len) {
  static const unsigned char kNoContext[1] = {0};  // never nullptr: memcpy/memcmp take it with length 0
  return SessionKey{kNoContext, 0, id, id_len};
}

class SharedStore {
 public:
  // Opens or creates the store at `path`. On failure returns nullptr and sets `error` to a
  // message naming the file and what did not match.
  static std::shared_ptr<SharedStore> Open(const std::string& path, const StoreGeometry& geometry,
                                           std::vector<unsigned char> sid_ctx, std::string* error);

  enum class InsertResult { kStored, kTooLarge, kFailed };
  InsertResult Insert(const SessionKey& key, const unsigned char* der, size_t der_len, int64_t expires_at) noexcept;
  // Copies the DER bytes of a live, checksum-verified entry into `out`. False on a miss.
  bool Lookup(const SessionKey& key, int64_t now, std::vector<unsigned char>* out) noexcept;
  // Drops the entry; `expired` only chooses which counter is bumped.
  void Remove(const SessionKey& key, bool expired) noexcept;
  size_t FlushExpired(int64_t now) noexcept;
  size_t Clear() noexcept;
  void Count(SharedCounter counter) noexcept;
  SharedStoreStats Stats() noexcept;
  // Test hook: takes the lock, marks a live slot as being written, and returns holding it, so a
  // test can SIGKILL the process and check that the next locker recovers. Returns the slot.
  int64_t LockAndHangForTest() noexcept;

  const std::vector<unsigned char>& sid_ctx() const { return sid_ctx_; }
  const std::string& path() const;

 private:
  SharedStore(std::shared_ptr<StoreFile> file, std::vector<unsigned char> sid_ctx)
      : file_(std::move(file)), sid_ctx_(std::move(sid_ctx)) {}
  std::shared_ptr<StoreFile> file_;
  std::vector<unsigned char> sid_ctx_;
};

}  // namespace tsc
