#include "common/shared_store_fault.h"

#include <signal.h>
#include <sys/mman.h>

#include <cstdint>
#include <mutex>

namespace tsc {

namespace {

// Fixed slots, read by the signal handler without a lock: a store per name per process, so a
// process rarely has more than a few.
constexpr int kWatchSlots = 64;

struct Watch {
  std::atomic<uintptr_t> begin{0};
  std::atomic<uintptr_t> end{0};
  std::atomic<std::atomic<bool>*> lost{nullptr};
};

Watch watches[kWatchSlots];
std::mutex watch_mutex;  // writers only; the handler reads the atomics
struct sigaction previous_action;
bool installed = false;

void OnSigbus(int sig, siginfo_t* info, void* ucontext) {
  const uintptr_t addr = reinterpret_cast<uintptr_t>(info->si_addr);
  for (Watch& w : watches) {
    const uintptr_t begin = w.begin.load(std::memory_order_acquire);
    const uintptr_t end = w.end.load(std::memory_order_acquire);
    if (begin == 0 || addr < begin || addr >= end) continue;
    // mmap is a plain system call: safe in a handler. The whole range, so no later access of
    // this process touches the file again through the old mapping.
    void* zeros = mmap(reinterpret_cast<void*>(begin), end - begin, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (zeros == MAP_FAILED) break;
    if (std::atomic<bool>* lost = w.lost.load(std::memory_order_acquire)) lost->store(true, std::memory_order_release);
    return;  // the faulting instruction runs again, on zeros
  }
  if (previous_action.sa_flags & SA_SIGINFO) {
    if (previous_action.sa_sigaction != nullptr) return previous_action.sa_sigaction(sig, info, ucontext);
  } else if (previous_action.sa_handler != SIG_DFL && previous_action.sa_handler != SIG_IGN) {
    return previous_action.sa_handler(sig);
  }
  // Not ours and nobody else's: die of it as the process would have without us.
  signal(SIGBUS, SIG_DFL);
  raise(SIGBUS);
}

bool InstallOnce() {
  if (installed) return true;
  struct sigaction action = {};
  action.sa_sigaction = OnSigbus;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&action.sa_mask);
  if (sigaction(SIGBUS, &action, &previous_action) != 0) return false;
  installed = true;
  return true;
}

}  // namespace

bool WatchStoreMapping(void* base, size_t len, std::atomic<bool>* lost) noexcept {
  std::lock_guard<std::mutex> guard(watch_mutex);
  if (!InstallOnce()) return false;
  for (Watch& w : watches) {
    if (w.begin.load(std::memory_order_relaxed) != 0) continue;
    w.lost.store(lost, std::memory_order_relaxed);
    w.end.store(reinterpret_cast<uintptr_t>(base) + len, std::memory_order_relaxed);
    w.begin.store(reinterpret_cast<uintptr_t>(base), std::memory_order_release);
    return true;
  }
  return false;
}

void ForgetStoreMapping(void* base) noexcept {
  std::lock_guard<std::mutex> guard(watch_mutex);
  for (Watch& w : watches) {
    if (w.begin.load(std::memory_order_relaxed) != reinterpret_cast<uintptr_t>(base)) continue;
    w.begin.store(0, std::memory_order_release);
    w.end.store(0, std::memory_order_relaxed);
    w.lost.store(nullptr, std::memory_order_relaxed);
  }
}

}  // namespace tsc
