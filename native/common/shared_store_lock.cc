#include "common/shared_store_lock.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>

namespace tsc {

using namespace layout;

int LockWithin(pthread_mutex_t* m, bool* waited) noexcept {
  int r = pthread_mutex_trylock(m);
  *waited = r == EBUSY;
  if (r != EBUSY) return r;
  struct timespec deadline;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_nsec += kLockWaitNs;
  if (deadline.tv_nsec >= 1000000000L) {
    deadline.tv_sec += deadline.tv_nsec / 1000000000L;
    deadline.tv_nsec %= 1000000000L;
  }
  return pthread_mutex_clocklock(m, CLOCK_MONOTONIC, &deadline);
}

StripeLock::StripeLock(StoreFile& f, uint32_t stripe) noexcept : s_(f.stripe(stripe)) {
  bool waited = false;
  int r = LockWithin(&s_->lock, &waited);
  if (waited) s_->counters[kLockWaits].fetch_add(1, std::memory_order_relaxed);
  if (r == ETIMEDOUT) {
    s_->counters[kLockTimeouts].fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (r == EOWNERDEAD) {
    // Only a slot of this stripe's sets can have been in the dead holder's hands; a value
    // pointing elsewhere is corruption, and another stripe's slot is not ours to touch.
    const uint32_t t = s_->touching;
    const Geometry& g = f.geometry();
    if (t != kNone && t < g.slot_count && g.stripe_of_slot(t) == stripe) f.Invalidate(t);
    s_->touching = kNone;
    s_->entries.store(f.Recount(stripe), std::memory_order_relaxed);
    s_->counters[kRecoveries].fetch_add(1, std::memory_order_relaxed);
    r = pthread_mutex_consistent(&s_->lock);
  }
  held_ = r == 0;
}

StripeLock::~StripeLock() {
  if (held_) pthread_mutex_unlock(&s_->lock);
}

}  // namespace tsc
