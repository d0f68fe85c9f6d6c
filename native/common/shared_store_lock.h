// Shared store locking: one robust, process-shared mutex per stripe, taken with a bound. A
// holder that is alive but not running (SIGSTOP, a debugger, a core dump being written, a paused
// container sharing /dev/shm) must not stop the other workers' handshakes: after kLockWaitNs the
// caller gives up and the operation is a miss, counted in lockTimeouts. A holder that died is
// detected by the kernel (EOWNERDEAD): the slot it was writing is dropped and the mutex repaired.
#pragma once

#include <cstdint>

#include "common/shared_store_file.h"

namespace tsc {

// A few milliseconds: several times the longest a live holder keeps a stripe (one slot copy, or
// one stripe's share of a flush), far below what a stalled handshake would cost.
constexpr int64_t kLockWaitNs = 2 * 1000 * 1000;

// Takes one of the store's robust mutexes within kLockWaitNs. Returns 0, EOWNERDEAD (taken: the
// caller repairs what the dead holder guarded, then calls pthread_mutex_consistent), ETIMEDOUT,
// or another error. `waited` is set when the mutex was busy at first.
int LockWithin(pthread_mutex_t* m, bool* waited) noexcept;

class StripeLock {
 public:
  StripeLock(StoreFile& f, uint32_t stripe) noexcept;
  ~StripeLock();
  StripeLock(const StripeLock&) = delete;
  StripeLock& operator=(const StripeLock&) = delete;
  bool held() const { return held_; }
  layout::Stripe& stripe() const { return *s_; }
  // Keeps the lock past this object's life (the test target's hooks only).
  void Leak() { held_ = false; }

 private:
  layout::Stripe* s_;
  bool held_ = false;
};

}  // namespace tsc
