#include "common/shared_store.h"

#include <time.h>

#include <cstring>
#include <map>
#include <mutex>

#include "common/shared_store_lock.h"

namespace tsc {
namespace {

using namespace layout;

std::mutex registry_mutex;
std::map<std::string, std::weak_ptr<StoreFile>>& Registry() {
  static auto* registry = new std::map<std::string, std::weak_ptr<StoreFile>>();
  return *registry;
}

bool KeyFits(size_t id_len) { return id_len > 0 && id_len <= kMaxIdLen; }

bool IdMatches(const SlotHeader* s, const unsigned char* id, size_t id_len) {
  return s->id_len == id_len && std::memcmp(s->id, id, id_len) == 0;
}

bool ScopeMatches(const SlotHeader* s, StoreScope scope) {
  return s->scope_len == scope.len && (scope.len == 0 || std::memcmp(s->scope, scope.bytes, scope.len) == 0);
}

// Finds the slot holding (scope, ID), or kNone; sets `*other_scope` when the set holds the ID only
// under other scopes. Caller holds the set's stripe.
uint32_t FindSlot(StoreFile& f, uint32_t start, uint64_t hash, StoreScope scope, const unsigned char* id, size_t id_len,
                  bool* other_scope = nullptr) {
  IndexEntry* index = f.index();
  for (uint32_t i = start; i < start + kWays; i++) {
    if (index[i].hash != hash) continue;
    const SlotHeader* s = f.slot(i);
    if (!IdMatches(s, id, id_len)) continue;
    if (ScopeMatches(s, scope)) return i;
    if (other_scope != nullptr) *other_scope = true;
  }
  return kNone;
}

// Without a lock: does any entry of the set carry this hash? A "no" is final (a racing insert of
// the same key is a miss either way); a "yes" is confirmed under the lock. Spares every unknown
// ID a client offers (stale, forged, or a session from another server) the lock.
bool MayHold(StoreFile& f, uint32_t start, uint64_t hash) {
  const IndexEntry* index = f.index();
  for (uint32_t i = start; i < start + kWays; i++) {
    if (AtomicHash(index[i]) == hash) return true;
  }
  return false;
}

}  // namespace

std::shared_ptr<SharedStore> SharedStore::Open(const StoreLocation& where, uint64_t total_bytes, uint32_t slot_bytes,
                                               std::string* error) {
  const Geometry g = Geometry::For(total_bytes, slot_bytes);
  std::lock_guard<std::mutex> guard(registry_mutex);
  std::shared_ptr<StoreFile> file = Registry()[where.path].lock();
  if (file) {
    const Geometry& have = file->geometry();
    if (have.total_bytes != total_bytes || have.slot_bytes != slot_bytes) {
      *error = "shared store: " + where.path + " is already open in this process with " +
               std::to_string(have.total_bytes) + " bytes, " + std::to_string(have.slot_count) + " slots of " +
               std::to_string(have.slot_bytes) + " bytes; attach with the same sizeBytes and slotBytes";
      return nullptr;
    }
  } else {
    file = StoreFile::Map(where, g, error);
    if (!file) return nullptr;
    Registry()[where.path] = file;
  }
  return std::shared_ptr<SharedStore>(new SharedStore(std::move(file)));
}

SharedStore::InsertResult SharedStore::Insert(StoreScope scope, const unsigned char* id, size_t id_len,
                                              const unsigned char* der, size_t der_len, int64_t expires_at,
                                              bool replace) noexcept {
  StoreFile& f = *file_;
  const Geometry& g = f.geometry();
  const uint64_t hash = KeyHash(id, KeyFits(id_len) ? id_len : 0);
  const uint32_t start = g.set_start(hash);
  const uint32_t stripe = g.stripe_of_slot(start);
  if (f.lost()) return InsertResult::kFailed;
  if (der_len > g.max_der()) {
    f.Count(stripe, kTooLarge);
    return InsertResult::kTooLarge;
  }
  if (!KeyFits(id_len) || expires_at <= 0 || scope.len > kMaxScopeLen) return InsertResult::kFailed;
  // The slot header and its checksum are built here, outside the lock; under it only copies.
  SlotHeader header;
  std::memset(&header, 0, sizeof(header));
  header.hash = hash;
  header.expires_at = expires_at;
  header.der_len = static_cast<uint32_t>(der_len);
  header.id_len = static_cast<uint8_t>(id_len);
  std::memcpy(header.id, id, id_len);
  header.scope_len = static_cast<uint8_t>(scope.len);
  if (scope.len > 0) std::memcpy(header.scope, scope.bytes, scope.len);
  header.checksum = SlotChecksum(header, der, der_len);
  const uint64_t clamp = expires_at > 0xffffffffLL ? 0xffffffffULL : static_cast<uint64_t>(expires_at);
  const int64_t now = static_cast<int64_t>(time(nullptr));

  StripeLock lock(f, stripe);
  if (!lock.held()) return InsertResult::kFailed;
  Stripe& s = lock.stripe();
  IndexEntry* index = f.index();
  const uint32_t seq = s.seq++;
  // Same key, else an empty slot, else an expired one, else the oldest of the set.
  uint32_t target = FindSlot(f, start, hash, scope, id, id_len);
  if (target != kNone && !replace && static_cast<int64_t>(index[target].expires_at) > now)
    return InsertResult::kPresent;
  if (target == kNone) {
    uint32_t empty = kNone, expired = kNone, oldest = start;
    uint32_t oldest_age = 0;
    for (uint32_t i = start; i < start + kWays; i++) {
      if (index[i].hash == 0) {
        if (empty == kNone) empty = i;
        continue;
      }
      if (static_cast<int64_t>(index[i].expires_at) <= now) {
        if (expired == kNone) expired = i;
        continue;
      }
      const uint32_t age = seq - index[i].seq;
      if (age >= oldest_age) {
        oldest_age = age;
        oldest = i;
      }
    }
    if (empty != kNone) {
      target = empty;
    } else if (expired != kNone) {
      target = expired;
      s.counters[kExpiries].fetch_add(1, std::memory_order_relaxed);
    } else {
      target = oldest;
      s.counters[kEvictions].fetch_add(1, std::memory_order_relaxed);
    }
  }
  s.touching = target;
  f.Invalidate(target);
  std::memcpy(f.slot(target), &header, sizeof(header));
  std::memcpy(f.der(target), der, der_len);
  index[target].expires_at = static_cast<uint32_t>(clamp);
  index[target].seq = seq;
  SetAtomicHash(index[target], hash);
  s.entries.fetch_add(1, std::memory_order_relaxed);
  s.touching = kNone;
  s.counters[kStores].fetch_add(1, std::memory_order_relaxed);
  return InsertResult::kStored;
}

bool SharedStore::Copy(const ScopeSource* source, const unsigned char* id, size_t id_len, int64_t now, KeyBytes* out,
                       size_t* len, StoreMiss* why, bool take) noexcept {
  StoreFile& f = *file_;
  const Geometry& g = f.geometry();
  const uint64_t hash = KeyHash(id, KeyFits(id_len) ? id_len : 0);
  const uint32_t start = g.set_start(hash);
  const uint32_t stripe = g.stripe_of_slot(start);
  auto miss = [&](StoreMiss reason = StoreMiss::kAbsent) {
    f.Count(stripe, kMisses);
    if (why != nullptr) *why = reason;
    return false;
  };
  if (f.lost()) {
    if (why != nullptr) *why = StoreMiss::kFailed;
    return false;
  }
  if (!KeyFits(id_len) || !MayHold(f, start, hash)) return miss();
  // The scope only now that the ID may be here (computing it may hash: session_callbacks.cc).
  StoreScope scope;
  if (source != nullptr && (!source->Get(&scope) || scope.len > kMaxScopeLen)) return miss(StoreMiss::kFailed);
  try {
    if (out->size() < g.max_der()) out->resize(g.max_der());
  } catch (...) {
    return miss(StoreMiss::kFailed);
  }
  SlotHeader header;
  uint32_t i;
  {
    StripeLock lock(f, stripe);
    if (!lock.held()) return miss(StoreMiss::kFailed);
    bool other_scope = false;
    i = FindSlot(f, start, hash, scope, id, id_len, &other_scope);
    if (i == kNone && other_scope) {
      f.Count(stripe, kContextMisses);
      return miss(StoreMiss::kOtherContext);
    }
    if (i == kNone) return miss();
    std::memcpy(&header, f.slot(i), sizeof(header));
    if (header.der_len > g.max_der() || header.hash != hash) {
      f.Invalidate(i);
      f.Count(stripe, kCorrupt);
      return miss(StoreMiss::kFailed);
    }
    if (header.expires_at <= now) {
      f.Invalidate(i);
      f.Count(stripe, kExpiries);
      return miss(StoreMiss::kExpired);
    }
    std::memcpy(out->data(), f.der(i), header.der_len);
    if (take) f.Invalidate(i);
  }
  // Verified on our copy, after the lock: a slot that fails is dropped if it is still the same
  // bytes (a writer may have replaced it meanwhile, with a good entry).
  if (SlotChecksum(header, out->data(), header.der_len) != header.checksum) {
    if (take) {
      f.Count(stripe, kCorrupt);
      return miss(StoreMiss::kFailed);
    }
    StripeLock lock(f, stripe);
    if (lock.held() && f.slot(i)->checksum == header.checksum && f.index()[i].hash == hash) f.Invalidate(i);
    f.Count(stripe, kCorrupt);
    return miss(StoreMiss::kFailed);
  }
  *len = header.der_len;
  f.Count(stripe, kHits);
  return true;
}

size_t SharedStore::Flush(int64_t now, bool all) noexcept {
  StoreFile& f = *file_;
  const Geometry& g = f.geometry();
  size_t n = 0;
  if (f.lost()) return 0;
  for (uint32_t stripe = 0; stripe < g.stripe_count; stripe++) {
    StripeLock lock(f, stripe);
    if (!lock.held()) continue;  // counted as a lock timeout; the next flush gets it
    size_t here = 0;
    IndexEntry* index = f.index();
    for (uint32_t set = stripe; set < g.sets(); set += g.stripe_count) {
      for (uint32_t i = set * kWays; i < (set + 1) * kWays; i++) {
        if (index[i].hash != 0 && (all || static_cast<int64_t>(index[i].expires_at) <= now)) {
          f.Invalidate(i);
          here++;
        }
      }
    }
    if (!all) lock.stripe().counters[kExpiries].fetch_add(here, std::memory_order_relaxed);
    n += here;
  }
  return n;
}

void SharedStore::Count(SharedCounter counter) noexcept { file_->Count(0, counter); }

SharedStoreStats SharedStore::Stats() noexcept {
  StoreFile& f = *file_;
  const Geometry& g = f.geometry();
  SharedStoreStats out;
  int64_t entries = 0;
  for (uint32_t i = 0; i < g.stripe_count; i++) {
    const Stripe* s = f.stripe(i);
    entries += s->entries.load(std::memory_order_relaxed);
    for (int c = 0; c < kCounterCount; c++) out.counters[c] += s->counters[c].load(std::memory_order_relaxed);
  }
  out.entries = entries > 0 ? static_cast<uint64_t>(entries) : 0;
  out.capacity = g.slot_count;
  out.bytes_per_session = g.slot_bytes + sizeof(IndexEntry);
  out.max_session_bytes = g.max_der();
  out.total_bytes = g.total_bytes;
  out.stripes = g.stripe_count;
  out.lost = f.lost();
  out.reopens = f.reopens();
  // Read without the table's lock: a figure for stats, bounded like every reader of the table.
  const uint32_t keys = f.ticket_keys()->count;
  out.ticket_keys = keys <= layout::kMaxSharedTicketKeys ? keys : 0;
  return out;
}

}  // namespace tsc
