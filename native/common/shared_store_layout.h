// Shared store file layout, version 4: the one definition of what the bytes of a store file
// mean. shared_store_file.cc lays a file out and validates it, shared_store.cc reads and writes
// slots, and the fuzz targets (fuzz/) include this header to place hostile bytes exactly where
// the store reads them. Plain C++ (no OpenSSL, no Node-API).
//
// File (offsets from the start):
//   [0, kHeaderBytes)                    StoreHeader: magic, layout, geometry, ready flag;
//                                        TicketKeyTable at kTicketKeysOffset (layout 3)
//   [kHeaderBytes, +kStripeBytes*S)      Stripe[S]: one robust process-shared mutex per stripe,
//                                        the slot its holder is writing, its counters
//   [.., +16*slot_count)                 IndexEntry[slot_count]: hash, expiry, age; 0 hash = empty
//   [.., +slot_bytes*slot_count)         slots: SlotHeader + DER bytes
// Slots are grouped in sets of kWays consecutive entries; a key lives in set hash % sets, and set
// s is guarded by stripe s % S, so a lookup or insert reads one set under one stripe's lock:
// O(1) whatever the size, and processes working on different stripes never wait for each other.
// Nothing in the file is a pointer, so a process that dies mid-write corrupts at most the one
// slot it was writing, which its stripe names (`touching`) for the next locker to drop.
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace tsc {
namespace layout {

constexpr char kMagic[8] = {'T', 'S', 'C', 'S', 'H', 'M', 'v', '1'};
constexpr uint32_t kLayoutVersion = 4;
constexpr uint32_t kHeaderBytes = 4096;
constexpr uint32_t kWays = 16;
constexpr uint32_t kMaxStripes = 1024;
constexpr uint32_t kNone = 0xffffffffu;
constexpr size_t kMaxIdLen = 32;
constexpr size_t kMaxScopeLen = 32;  // SSL_MAX_SID_CTX_LENGTH

// Counters live in the stripes (summed for stats), so two processes working on different
// stripes never write the same cache line.
enum SharedCounter : int {
  kEvictions = 0,
  kExpiries,
  kTooLarge,
  kLockWaits,
  kLockTimeouts,
  kRecoveries,
  kCorrupt,
  kHits,
  kMisses,
  kStores,
  kContextMisses,
  kCounterCount
};

static_assert(std::atomic<uint64_t>::is_always_lock_free, "shared counters need lock-free 64-bit atomics");
static_assert(std::atomic<uint32_t>::is_always_lock_free, "shared flags need lock-free 32-bit atomics");

struct StoreHeader {
  char magic[8];
  uint32_t layout_version;
  uint32_t header_bytes;
  uint32_t slot_bytes;
  uint32_t slot_count;
  uint64_t total_bytes;
  uint32_t ways;
  uint32_t stripe_count;
  std::atomic<uint32_t> ready;  // 1 once the creator finished; checked under flock
};
static_assert(sizeof(StoreHeader) <= kHeaderBytes, "header must fit its page");

// The ticket keys of every TicketKeyRing.generate() ring attached with this store
// (shared_ticket_keys.cc), so the workers of a cluster encrypt and decrypt with the same keys and
// rotate them together, as nginx keeps its keys in shared memory. Only a store in memory (tmpfs,
// ramfs) holds keys: a key never goes to disk in clear. Newest first; the newest encrypts.
// Layout 2 had zeros here, hence the version change.
constexpr uint32_t kMaxSharedTicketKeys = 32;
constexpr size_t kTicketKeyBytes = 80;  // name | HMAC-SHA256 key | AES-256 key
constexpr size_t kTicketKeysOffset = 512;

struct SharedTicketKey {
  unsigned char bytes[kTicketKeyBytes];
  int64_t created_ms;  // wall clock of the process that made it (all processes rotate by it)
  uint64_t reserved;
};

struct alignas(64) TicketKeyTable {
  pthread_mutex_t lock;              // robust, process-shared; taken with a bound like a stripe's
  std::atomic<uint32_t> generation;  // changes whenever the keys do: a lock-free "nothing new"
  uint32_t count;
  SharedTicketKey keys[kMaxSharedTicketKeys];
};
static_assert(kTicketKeysOffset >= sizeof(StoreHeader), "the key table follows the header");
static_assert(kTicketKeysOffset + sizeof(TicketKeyTable) <= kHeaderBytes, "the key table must fit the header page");

struct alignas(64) Stripe {
  pthread_mutex_t lock;
  uint32_t touching;  // slot being written under the lock, kNone otherwise
  uint32_t seq;       // insertion counter of this stripe's sets: the oldest entry has the lowest
  std::atomic<int64_t> entries;
  std::atomic<uint64_t> counters[kCounterCount];
};
constexpr size_t kStripeBytes = sizeof(Stripe);
static_assert(kStripeBytes % 64 == 0, "stripes are whole cache lines");

struct IndexEntry {
  uint64_t hash;        // 0: empty. Read without the lock (a hint only) through AtomicHash().
  uint32_t expires_at;  // seconds since the epoch (unsigned: good until 2106)
  uint32_t seq;
};
static_assert(sizeof(IndexEntry) == 16, "index entries are 16 bytes");

// Layout 4 added the scope: a slot is keyed by (scope, ID), the scope being the session-ID
// context of the session it holds (empty in the client cache's slots). Layout 3 keyed by ID alone.
struct SlotHeader {
  uint64_t checksum;  // over the rest of this header and the DER bytes
  uint64_t hash;
  int64_t expires_at;
  uint32_t der_len;
  uint8_t id_len;
  uint8_t scope_len;
  uint8_t reserved[2];
  unsigned char id[kMaxIdLen];
  unsigned char scope[kMaxScopeLen];
};
static_assert(sizeof(SlotHeader) == 96, "slot header is 96 bytes");
constexpr size_t kSlotChecksum = offsetof(SlotHeader, checksum), kSlotHash = offsetof(SlotHeader, hash),
                 kSlotExpires = offsetof(SlotHeader, expires_at), kSlotDerLen = offsetof(SlotHeader, der_len),
                 kSlotIdLen = offsetof(SlotHeader, id_len), kSlotId = offsetof(SlotHeader, id),
                 kSlotScopeLen = offsetof(SlotHeader, scope_len), kSlotScope = offsetof(SlotHeader, scope);

// Where everything is for a given file size and slot size; a pure function of the two, so every
// process (and the fuzz harnesses) computes the same layout.
struct Geometry {
  uint64_t total_bytes = 0;
  uint32_t slot_bytes = 0;
  uint32_t slot_count = 0;    // a whole number of sets; 0 when the sizes do not fit one set
  uint32_t stripe_count = 0;  // min(sets, kMaxStripes)

  static Geometry For(uint64_t total_bytes, uint32_t slot_bytes) {
    Geometry g;
    g.total_bytes = total_bytes;
    g.slot_bytes = slot_bytes;
    if (total_bytes <= kHeaderBytes || slot_bytes < sizeof(SlotHeader) + 64) return g;
    const uint64_t per_slot = slot_bytes + sizeof(IndexEntry);
    const uint64_t per_set = per_slot * kWays + kStripeBytes;  // at most one stripe per set
    uint64_t sets = (total_bytes - kHeaderBytes) / per_set;
    if (sets > kMaxStripes) {
      // Past kMaxStripes sets the stripes stop growing: the rest of the file is all slots.
      sets = (total_bytes - kHeaderBytes - kMaxStripes * kStripeBytes) / (per_slot * kWays);
    }
    if (sets > 0xfffffff0ULL / kWays) sets = 0xfffffff0ULL / kWays;
    g.slot_count = static_cast<uint32_t>(sets * kWays);
    g.stripe_count = static_cast<uint32_t>(sets < kMaxStripes ? sets : kMaxStripes);
    return g;
  }
  uint32_t sets() const { return slot_count / kWays; }
  uint32_t max_der() const { return slot_bytes - static_cast<uint32_t>(sizeof(SlotHeader)); }
  size_t stripe_at(uint32_t i) const { return kHeaderBytes + kStripeBytes * i; }
  size_t index_at(uint32_t i) const { return stripe_at(stripe_count) + sizeof(IndexEntry) * i; }
  size_t slot_at(uint32_t i) const { return index_at(slot_count) + static_cast<size_t>(slot_bytes) * i; }
  uint32_t set_start(uint64_t hash) const { return static_cast<uint32_t>((hash >> 1) % sets()) * kWays; }
  uint32_t stripe_of_slot(uint32_t slot) const { return (slot / kWays) % stripe_count; }
};

// A 64-bit hash that eats 8 bytes a step (the slot checksum runs over every stored byte on each
// insert and hit; the byte-wise FNV of layout 1 was the larger part of the store's cost). It only
// has to catch torn or overwritten slots, not an adversary: the file is 0600 and the user's own.
inline uint64_t Mix(uint64_t h, uint64_t w) {
  h ^= w * 0x9e3779b97f4a7c15ULL;
  h = (h << 31) | (h >> 33);
  return h * 0xbf58476d1ce4e5b9ULL;
}
// Absorbs `len` bytes; `len` must be a multiple of 8 except in the last call of a chain.
inline uint64_t Absorb(uint64_t h, const void* data, size_t len) {
  const unsigned char* p = static_cast<const unsigned char*>(data);
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = Mix(h, w);
  }
  if (i < len) {
    uint64_t w = 0;
    std::memcpy(&w, p + i, len - i);
    h = Mix(h, w ^ (static_cast<uint64_t>(len - i) << 56));
  }
  return h;
}
inline uint64_t Finish(uint64_t h, uint64_t len) {
  h ^= len;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return h;
}
constexpr uint64_t kSeed = 0xcbf29ce484222325ULL;

// The index hash is of the session ID alone, so the entries of one ID under every scope share a
// set: a lookup from another scope finds the ID there and is told apart (a context miss) by a
// memcmp of the scopes under the lock, before any byte of the session is copied or decoded.
inline uint64_t KeyHash(const unsigned char* id, size_t id_len) {
  return Finish(Absorb(kSeed, id, id_len), id_len) | 1;  // never 0, which marks an empty entry
}

// Over the slot header after its checksum field (56 bytes, whole words) and then the DER.
inline uint64_t SlotChecksum(const SlotHeader& s, const unsigned char* der, size_t der_len) {
  const unsigned char* fields = reinterpret_cast<const unsigned char*>(&s) + sizeof(uint64_t);
  return Finish(Absorb(Absorb(kSeed, fields, sizeof(SlotHeader) - sizeof(uint64_t)), der, der_len), der_len);
}

// The index hash as a lock-free reader sees it: a hint that the slot may hold the key, always
// confirmed under the stripe's lock.
inline uint64_t AtomicHash(const IndexEntry& e) { return __atomic_load_n(&e.hash, __ATOMIC_RELAXED); }
inline void SetAtomicHash(IndexEntry& e, uint64_t h) { __atomic_store_n(&e.hash, h, __ATOMIC_RELAXED); }

}  // namespace layout
}  // namespace tsc
