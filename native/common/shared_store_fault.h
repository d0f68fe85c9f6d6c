// A store file someone truncated: the kernel answers a touch of a mapped page past the new end
// of the file with SIGBUS, which kills the process (an operator's `: > /dev/shm/...` took every
// attached worker down). A SIGBUS whose address lies in a store mapping is answered instead by
// mapping private zero pages over the whole mapping, so the faulting access (and every later
// one) reads zeros that fail the store's checks, and the mapping is marked lost: the store then
// answers every call as a counted miss until the owner reopens the file. Any other SIGBUS goes to
// the handler that was there before (or kills the process, as it would have).
//
// Nothing is checked on the handshake path but one relaxed atomic load: no syscall per handshake.
#pragma once

#include <atomic>
#include <cstddef>

namespace tsc {

// Watches [base, base + len) until ForgetStoreMapping(base). `lost` is set (never cleared here)
// when a SIGBUS hit the range. False when every watch slot is taken (the mapping then is not
// protected, as before).
bool WatchStoreMapping(void* base, size_t len, std::atomic<bool>* lost) noexcept;
void ForgetStoreMapping(void* base) noexcept;

}  // namespace tsc
