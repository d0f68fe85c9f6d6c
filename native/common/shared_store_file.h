// Shared store file: opening, creating, validating and mapping one store file, and the in-use
// marker that tells a process whether it is alone with the file. Every check an opener makes on
// a file someone else may control (type, owner, mode, directory) comes before any lock, and no
// lock is waited for without a bound, so a hostile or stuck neighbour costs a clear error at
// attach(), never a hang. See shared_store_layout.h for what the bytes mean.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "common/shared_store_layout.h"

namespace tsc {

// How a caller names a store file.
struct StoreLocation {
  std::string path;
  // True for a named store: the file's directory is this user's private one (created 0700 when
  // missing) and must be owned by this user with no access for others.
  bool private_dir = false;
};

class StoreFile {
 public:
  // Opens or creates the store at `where`, with its space reserved on the filesystem. On failure
  // returns nullptr and sets `error` to a message naming the file and what did not match.
  static std::shared_ptr<StoreFile> Map(const StoreLocation& where, const layout::Geometry& g, std::string* error);
  ~StoreFile();
  StoreFile(const StoreFile&) = delete;
  StoreFile& operator=(const StoreFile&) = delete;

  layout::StoreHeader* header() const { return static_cast<layout::StoreHeader*>(base_); }
  layout::TicketKeyTable* ticket_keys() const {
    return reinterpret_cast<layout::TicketKeyTable*>(static_cast<char*>(base_) + layout::kTicketKeysOffset);
  }
  // Whether the file lives in memory (tmpfs or ramfs): only then may it hold ticket keys.
  bool in_memory() const { return in_memory_; }
  layout::Stripe* stripe(uint32_t i) const {
    return reinterpret_cast<layout::Stripe*>(static_cast<char*>(base_) + g_.stripe_at(i));
  }
  layout::IndexEntry* index() const {
    return reinterpret_cast<layout::IndexEntry*>(static_cast<char*>(base_) + g_.index_at(0));
  }
  layout::SlotHeader* slot(uint32_t i) const {
    return reinterpret_cast<layout::SlotHeader*>(static_cast<char*>(base_) + g_.slot_at(i));
  }
  unsigned char* der(uint32_t i) const {
    return reinterpret_cast<unsigned char*>(slot(i)) + sizeof(layout::SlotHeader);
  }
  const layout::Geometry& geometry() const { return g_; }
  const std::string& path() const { return path_; }

  // A SIGBUS hit the mapping (the file was truncated under us): the mapping now holds private
  // zeros (shared_store_fault.h) and every store call is a counted miss until Reopen().
  bool lost() const { return lost_.load(std::memory_order_relaxed); }
  // Maps the file at the same path again (laid out anew when it is empty) in place of the lost
  // mapping, or of the file that was replaced; every store of this process that shares this file
  // uses the new one. False, with `error` set, when the file cannot be opened or mapped (the
  // store stays lost, or on the replaced file).
  bool Reopen(std::string* error);
  // Times Reopen() succeeded in this process.
  uint64_t reopens() const { return reopens_; }
  // The path names another file than the one mapped: a new one was renamed over it (a removed
  // path is not: processes attached keep a removed store). One lstat and one fstat, for the 1 s
  // timers only, never a handshake. A file Reopen() refused is not reported again.
  bool Replaced() const;

  // Makes the index forget slot `i`. Caller holds the slot's stripe lock.
  void Invalidate(uint32_t i);
  // Entries of one stripe's sets, counted from the index. Caller holds that stripe (or is alone).
  int64_t Recount(uint32_t stripe) const;
  void Count(uint32_t stripe, layout::SharedCounter c, uint64_t n = 1) const {
    this->stripe(stripe)->counters[c].fetch_add(n, std::memory_order_relaxed);
  }

 private:
  StoreFile() = default;
  std::string path_;
  bool private_dir_ = false;
  layout::Geometry g_;
  void* base_ = nullptr;
  bool in_memory_ = false;
  int user_fd_ = -1;  // holds an OFD read lock on byte 0 while this process uses the store
  std::atomic<bool> lost_{false};
  uint64_t reopens_ = 0;
  // The last file found at the path that Reopen() refused (dev, inode).
  uint64_t refused_dev_ = 0, refused_ino_ = 0;
};

// What a look at a store file finds without opening it for use (`tls-resumption stores list`).
struct StoreFileFacts {
  bool is_store = false;  // a regular file of this user's with a finished store header
  uint32_t layout_version = 0;
  uint64_t total_bytes = 0;
  uint32_t slot_bytes = 0;
  uint32_t slot_count = 0;
  bool in_use = false;  // some process holds the "in use" lock (it has the store mapped)
};
// Reads the header and the in-use marker. False with `error` set when the file cannot be opened.
bool InspectStoreFile(const std::string& path, StoreFileFacts* facts, std::string* error);

// Initialises a robust, process-shared mutex in the file.
bool InitStripeMutex(pthread_mutex_t* m);

// Wipes every ticket key in the table (explicit_bzero). Caller holds the table's lock or is the
// store's only user.
void WipeTicketKeys(layout::TicketKeyTable* t);

}  // namespace tsc
