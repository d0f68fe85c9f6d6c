#include "common/shared_store_lock.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>

namespace tsc {

using namespace layout;

StripeLock::StripeLock(StoreFile& f, uint32_t stripe) noexcept : s_(f.stripe(stripe)) {
  int r = pthread_mutex_trylock(&s_->lock);
  if (r == EBUSY) {
    s_->counters[kLockWaits].fetch_add(1, std::memory_order_relaxed);
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_nsec += kLockWaitNs;
    if (deadline.tv_nsec >= 1000000000L) {
      deadline.tv_sec += deadline.tv_nsec / 1000000000L;
      deadline.tv_nsec %= 1000000000L;
    }
    r = pthread_mutex_clocklock(&s_->lock, CLOCK_MONOTONIC, &deadline);
    if (r == ETIMEDOUT) {
      s_->counters[kLockTimeouts].fetch_add(1, std::memory_order_relaxed);
      return;
    }
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
