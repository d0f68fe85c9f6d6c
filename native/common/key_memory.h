// Key memory: where the addon keeps secrets it holds for longer than one call (ticket keys and
// ring secrets in server/ticket_ring.cc, the session bytes the shared store copies out for a
// lookup). Each block is its own page-aligned anonymous mapping, advised MADV_DONTDUMP (left
// out of core dumps: `dd` in /proc/<pid>/smaps VmFlags) and MADV_WIPEONFORK (a forked child
// sees zeros), and wiped before it is unmapped.
//
// Why not OpenSSL's secure heap: CRYPTO_secure_malloc_init is process-global, sized once, and
// Node owns it (`node --secure-heap=n`, off by default: crypto.secureHeapUsed().total is 0);
// without it OPENSSL_secure_malloc is plain malloc, so keys would silently be dumped, and an
// addon that initialised it would change Node's own behaviour. These blocks work whatever flags
// Node runs with.
//
// Wiped with explicit_bzero (which no optimiser removes, as OPENSSL_cleanse): the shared store
// uses these blocks and links no OpenSSL (tools/native/store_bench.cc builds it alone).
#pragma once

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

namespace tsc {

// Bytes mapped for a block of `n` bytes: whole pages.
inline size_t KeyMemoryBytes(size_t n) {
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return (n + page - 1) / page * page;
}

// A fresh zeroed block of at least `n` bytes; std::bad_alloc when the kernel refuses a mapping.
inline void* AllocateKeyMemory(size_t n) {
  const size_t bytes = KeyMemoryBytes(n == 0 ? 1 : n);
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  // Either advice fails only on kernels that predate it (3.4, 4.14): the block still works and
  // is still wiped on release.
  madvise(p, bytes, MADV_DONTDUMP);
#ifdef MADV_WIPEONFORK
  madvise(p, bytes, MADV_WIPEONFORK);
#endif
  return p;
}

inline void ReleaseKeyMemory(void* p, size_t n) noexcept {
  if (p == nullptr) return;
  const size_t bytes = KeyMemoryBytes(n == 0 ? 1 : n);
  explicit_bzero(p, bytes);
  munmap(p, bytes);
}

// An allocator over key memory: std::allocate_shared<T>(KeyAllocator<T>()) puts an object and its
// control block in one such block; KeyBytes is a byte vector kept there.
template <typename T>
struct KeyAllocator {
  using value_type = T;
  KeyAllocator() = default;
  template <typename U>
  KeyAllocator(const KeyAllocator<U>&) noexcept {}  // NOLINT: allocators convert implicitly
  T* allocate(size_t n) {
    if (n > SIZE_MAX / sizeof(T)) throw std::bad_alloc();
    return static_cast<T*>(AllocateKeyMemory(n * sizeof(T)));
  }
  void deallocate(T* p, size_t n) noexcept { ReleaseKeyMemory(p, n * sizeof(T)); }
  template <typename U>
  bool operator==(const KeyAllocator<U>&) const noexcept {
    return true;
  }
  template <typename U>
  bool operator!=(const KeyAllocator<U>&) const noexcept {
    return false;
  }
};

using KeyBytes = std::vector<unsigned char, KeyAllocator<unsigned char>>;

}  // namespace tsc
