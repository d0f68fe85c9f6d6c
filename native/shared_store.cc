#include "shared_store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <map>
#include <mutex>

namespace tsc {
namespace {

// File layout (all offsets from the start of the file):
//   [0, kHeaderBytes)                 StoreHeader (magic, layout, geometry, counters, lock)
//   [kHeaderBytes, +16*slot_count)    IndexEntry[slot_count]: hash, expiry, age; 0 hash = empty
//   [.., +slot_bytes*slot_count)      slots: SlotHeader + DER bytes
// Slots are grouped in sets of kWays consecutive entries; a key lives in set hash % sets, so a
// lookup or insert reads one set: O(1) whatever the size. A full set evicts its oldest entry.
// Nothing in the file is a pointer, so a process that dies mid-write can corrupt at most the one
// slot it was writing, which the header names (`touching`) for the next locker to drop.
constexpr char kMagic[8] = {'T', 'S', 'C', 'S', 'H', 'M', 'v', '1'};
constexpr uint32_t kLayoutVersion = 1;
constexpr uint32_t kHeaderBytes = 4096;
constexpr uint32_t kWays = 16;
constexpr uint32_t kNone = 0xffffffffu;
constexpr size_t kMaxIdLen = 32;

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
  std::atomic<uint32_t> ready;   // 1 once the creator finished; checked under flock
  std::atomic<uint32_t> seq;     // insertion counter: the oldest entry of a set has the lowest age
  uint32_t touching;             // slot being written under the lock, kNone otherwise
  std::atomic<uint64_t> entries;
  std::atomic<uint64_t> counters[kCounterCount];
  alignas(64) pthread_mutex_t lock;
};
static_assert(sizeof(StoreHeader) <= kHeaderBytes, "header must fit its page");

struct IndexEntry {
  uint64_t hash;        // 0: empty
  uint32_t expires_at;  // seconds since the epoch (unsigned: good until 2106)
  uint32_t seq;
};
static_assert(sizeof(IndexEntry) == 16, "index entries are 16 bytes");

struct SlotHeader {
  uint64_t checksum;  // over everything after this field up to the end of the DER bytes
  uint64_t hash;
  int64_t expires_at;
  uint32_t der_len;
  uint8_t sid_ctx_len;
  uint8_t id_len;
  uint16_t reserved;
  unsigned char sid_ctx[kMaxIdLen];
  unsigned char id[kMaxIdLen];
};
static_assert(sizeof(SlotHeader) == 96, "slot header is 96 bytes");

// FNV-1a, 64 bit: the data is small (a few hundred bytes) and the check only has to catch torn
// or overwritten slots, not an adversary (the file is 0600 and owned by the user).
uint64_t Fnv1a(uint64_t h, const void* data, size_t len) {
  const unsigned char* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < len; i++) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}
constexpr uint64_t kFnvBasis = 0xcbf29ce484222325ULL;

uint64_t KeyHash(const SessionKey& k) {
  uint64_t h = kFnvBasis;
  unsigned char len = static_cast<unsigned char>(k.sid_ctx_len);
  h = Fnv1a(h, &len, 1);
  h = Fnv1a(h, k.sid_ctx, k.sid_ctx_len);
  len = static_cast<unsigned char>(k.id_len);
  h = Fnv1a(h, &len, 1);
  h = Fnv1a(h, k.id, k.id_len);
  return h | 1;  // never 0, which marks an empty index entry
}

uint64_t SlotChecksum(const SlotHeader* s) {
  const unsigned char* start = reinterpret_cast<const unsigned char*>(s) + sizeof(uint64_t);
  return Fnv1a(kFnvBasis, start, sizeof(SlotHeader) - sizeof(uint64_t) + s->der_len);
}

struct FdCloser {
  int fd = -1;
  ~FdCloser() {
    if (fd >= 0) close(fd);
  }
};

std::string Describe(uint64_t total, uint32_t slot_bytes, uint32_t slot_count) {
  return std::to_string(total) + " bytes, " + std::to_string(slot_count) + " slots of " + std::to_string(slot_bytes) +
         " bytes";
}

}  // namespace

// The mapping of one store file in this process.
class StoreFile {
 public:
  static std::shared_ptr<StoreFile> Map(const std::string& path, const StoreGeometry& g, std::string* error);
  ~StoreFile() {
    if (base_ != nullptr) munmap(base_, size_);
    if (user_fd_ >= 0) close(user_fd_);  // drops this process's "in use" lock (see Map)
  }

  StoreHeader* header() const { return static_cast<StoreHeader*>(base_); }
  IndexEntry* index() const { return reinterpret_cast<IndexEntry*>(static_cast<char*>(base_) + kHeaderBytes); }
  SlotHeader* slot(uint32_t i) const {
    char* slots = static_cast<char*>(base_) + kHeaderBytes + sizeof(IndexEntry) * static_cast<size_t>(slot_count_);
    return reinterpret_cast<SlotHeader*>(slots + static_cast<size_t>(slot_bytes_) * i);
  }
  uint32_t slot_count() const { return slot_count_; }
  uint32_t slot_bytes() const { return slot_bytes_; }
  uint32_t max_der() const { return slot_bytes_ - static_cast<uint32_t>(sizeof(SlotHeader)); }
  uint64_t total_bytes() const { return size_; }
  const std::string& path() const { return path_; }
  const StoreGeometry& geometry() const { return geometry_; }

  // Writes nothing but the fields that make the index forget the slot.
  void Invalidate(uint32_t i) {
    IndexEntry& e = index()[i];
    if (e.hash != 0) header()->entries.fetch_sub(1, std::memory_order_relaxed);
    e.hash = 0;
    slot(i)->checksum = 0;
  }
  uint64_t Recount() const {
    uint64_t n = 0;
    for (uint32_t i = 0; i < slot_count_; i++) n += index()[i].hash != 0;
    return n;
  }

 private:
  std::string path_;
  StoreGeometry geometry_;
  void* base_ = nullptr;
  size_t size_ = 0;
  uint32_t slot_bytes_ = 0;
  uint32_t slot_count_ = 0;
  int user_fd_ = -1;  // holds an OFD read lock on byte 0 while this process uses the store
};

namespace {

// Slots that fit in `total` bytes after the header, a whole number of sets.
uint32_t SlotCountFor(const StoreGeometry& g) {
  if (g.total_bytes <= kHeaderBytes || g.slot_bytes < sizeof(SlotHeader) + 64) return 0;
  uint64_t n = (g.total_bytes - kHeaderBytes) / (g.slot_bytes + sizeof(IndexEntry));
  n -= n % kWays;
  if (n > 0xfffffff0ULL) n = 0xfffffff0ULL - (0xfffffff0ULL % kWays);
  return static_cast<uint32_t>(n);
}

bool InitMutex(pthread_mutex_t* m) {
  pthread_mutexattr_t attr;
  if (pthread_mutexattr_init(&attr) != 0) return false;
  bool ok = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED) == 0 &&
            pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST) == 0 && pthread_mutex_init(m, &attr) == 0;
  pthread_mutexattr_destroy(&attr);
  return ok;
}

// "In use" marker: every process that maps the store holds an OFD read lock on byte 0 of the
// file for as long as it does (OFD locks are independent of the flock below, belong to the open
// file description, and go away when the process dies, whatever the way). A process that can
// take the write lock under the flock is therefore alone: no live process can hold the store's
// mutex, so whatever the lock word says is stale. That happens after a machine crash with a
// persistent `path` store (the kernel never ran the robust-futex cleanup that turns a dead
// owner into EOWNERDEAD) or with a corrupt file, and pthread_mutex_lock would wait forever.
bool OfdLock(int fd, short type) {
  struct flock fl;
  std::memset(&fl, 0, sizeof(fl));
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 1;
  return fcntl(fd, F_OFD_SETLK, &fl) == 0;
}

// The exclusive flock is held only while a process creates or checks the header, so a creator
// killed half-way leaves `ready` at 0 and the next opener initialises the file itself.
struct FlockGuard {
  int fd;
  explicit FlockGuard(int f) : fd(f) {}
  ~FlockGuard() { flock(fd, LOCK_UN); }
};

}  // namespace

std::shared_ptr<StoreFile> StoreFile::Map(const std::string& path, const StoreGeometry& g, std::string* error) {
  const uint32_t slot_count = SlotCountFor(g);
  if (slot_count < kWays) {
    *error = "shared store: " + std::to_string(g.total_bytes) + " bytes is too small for slots of " +
             std::to_string(g.slot_bytes) + " bytes";
    return nullptr;
  }
  FdCloser fd;
  fd.fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd.fd >= 0) {
    fchmod(fd.fd, 0600);  // the umask may have taken bits away, never added: be exact anyway
  } else if (errno == EEXIST) {
    fd.fd = open(path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
  }
  if (fd.fd < 0) {
    *error = "shared store: cannot open " + path + ": " + std::strerror(errno);
    return nullptr;
  }
  if (flock(fd.fd, LOCK_EX) != 0) {
    *error = "shared store: cannot lock " + path + ": " + std::strerror(errno);
    return nullptr;
  }
  FlockGuard unlock(fd.fd);
  struct stat st;
  if (fstat(fd.fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    *error = "shared store: " + path + " is not a regular file";
    return nullptr;
  }
  if (st.st_uid != geteuid()) {
    *error = "shared store: " + path + " is owned by uid " + std::to_string(st.st_uid) + ", not by this process (uid " +
             std::to_string(geteuid()) + "); refusing to share sessions with another user";
    return nullptr;
  }
  if ((st.st_mode & 077) != 0) {
    *error = "shared store: " + path + " is readable or writable by other users (mode " +
             std::to_string((st.st_mode >> 6) & 7) + std::to_string((st.st_mode >> 3) & 7) +
             std::to_string(st.st_mode & 7) + "); it must be 0600";
    return nullptr;
  }
  // Decided under the flock, not by who created the file: a process that opened the file just
  // after our O_EXCL may have taken the flock first and laid the store out already.
  const bool fresh = st.st_size == 0;
  const bool alone = OfdLock(fd.fd, F_WRLCK);  // no other live process uses the store
  if (!fresh && static_cast<uint64_t>(st.st_size) != g.total_bytes) {
    *error = "shared store: " + path + " is " + std::to_string(st.st_size) + " bytes but this process asked for " +
             std::to_string(g.total_bytes) + " bytes; attach with the same sizeBytes or use another name";
    return nullptr;
  }
  if (fresh && ftruncate(fd.fd, static_cast<off_t>(g.total_bytes)) != 0) {
    *error = "shared store: cannot size " + path + ": " + std::strerror(errno);
    return nullptr;
  }
  void* base = mmap(nullptr, g.total_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd.fd, 0);
  if (base == MAP_FAILED) {
    *error = "shared store: cannot map " + path + ": " + std::strerror(errno);
    return nullptr;
  }
  auto file = std::shared_ptr<StoreFile>(new StoreFile());
  file->path_ = path;
  file->geometry_ = g;
  file->base_ = base;
  file->size_ = g.total_bytes;
  file->slot_bytes_ = g.slot_bytes;
  file->slot_count_ = slot_count;
  // On success the file keeps the descriptor, with a read lock: ours downgraded, or one more
  // reader. Taken before the flock is released, so the next opener sees us.
  auto in_use = [&]() -> std::shared_ptr<StoreFile> {
    if (!OfdLock(fd.fd, F_RDLCK)) {
      *error = "shared store: cannot lock " + path + ": " + std::strerror(errno);
      return nullptr;
    }
    file->user_fd_ = fd.fd;
    fd.fd = -1;
    return file;
  };
  StoreHeader* h = file->header();
  // Lay out an empty store in a new file, or in one whose creator died before writing the magic
  // (all-zero header). Anything else that is not a finished store is someone else's file.
  static const char kZeros[sizeof(kMagic)] = {};
  const bool unfinished = h->ready.load(std::memory_order_acquire) != 1 && std::memcmp(h->magic, kZeros, sizeof(kMagic)) == 0;
  if (fresh || unfinished) {
    std::memset(base, 0, kHeaderBytes + sizeof(IndexEntry) * static_cast<size_t>(slot_count));
    h->layout_version = kLayoutVersion;
    h->header_bytes = kHeaderBytes;
    h->slot_bytes = g.slot_bytes;
    h->slot_count = slot_count;
    h->total_bytes = g.total_bytes;
    h->ways = kWays;
    h->touching = kNone;
    if (!InitMutex(&h->lock)) {
      *error = "shared store: cannot initialise the process-shared mutex in " + path;
      return nullptr;
    }
    std::memcpy(h->magic, kMagic, sizeof(kMagic));
    h->ready.store(1, std::memory_order_release);
    msync(base, kHeaderBytes, MS_ASYNC);
    return in_use();
  }
  if (std::memcmp(h->magic, kMagic, sizeof(kMagic)) != 0 || h->ready.load(std::memory_order_acquire) != 1) {
    *error = "shared store: " + path + " is not a tls-resumption store (no valid header); remove it or use another name";
    return nullptr;
  }
  if (h->layout_version != kLayoutVersion ||
      h->header_bytes != kHeaderBytes || h->ways != kWays) {
    *error = "shared store: " + path + " is not a tls-resumption store of layout version " +
             std::to_string(kLayoutVersion) + " (found layout " + std::to_string(h->layout_version) +
             "); remove it or use another name";
    return nullptr;
  }
  if (h->slot_bytes != g.slot_bytes || h->slot_count != slot_count || h->total_bytes != g.total_bytes) {
    *error = "shared store: " + path + " holds " + Describe(h->total_bytes, h->slot_bytes, h->slot_count) +
             " but this process asked for " + Describe(g.total_bytes, g.slot_bytes, slot_count) +
             "; attach with the same sizeBytes and slotBytes, or use another name";
    return nullptr;
  }
  if (alone) {
    // Nobody else is using the store: a fresh mutex, and the slot a dead writer named dropped,
    // exactly as the EOWNERDEAD recovery in StoreLock would do.
    if (!InitMutex(&h->lock)) {
      *error = "shared store: cannot initialise the process-shared mutex in " + path;
      return nullptr;
    }
    if (h->touching != kNone) {
      if (h->touching < slot_count) file->Invalidate(h->touching);
      h->touching = kNone;
      h->counters[kRecoveries].fetch_add(1, std::memory_order_relaxed);
    }
    h->entries.store(file->Recount(), std::memory_order_relaxed);
  }
  return in_use();
}

namespace {

std::mutex registry_mutex;
std::map<std::string, std::weak_ptr<StoreFile>>& Registry() {
  static auto* registry = new std::map<std::string, std::weak_ptr<StoreFile>>();
  return *registry;
}

// The lock around every read or write of the index and slots. Counts contended acquisitions;
// on EOWNERDEAD (the holder died) drops the slot it was writing and makes the mutex usable again.
class StoreLock {
 public:
  explicit StoreLock(StoreFile& f) : f_(f) {
    StoreHeader* h = f.header();
    int r = pthread_mutex_trylock(&h->lock);
    if (r == EBUSY) {
      h->counters[kLockWaits].fetch_add(1, std::memory_order_relaxed);
      r = pthread_mutex_lock(&h->lock);
    }
    if (r == EOWNERDEAD) {
      if (h->touching != kNone && h->touching < f.slot_count()) f.Invalidate(h->touching);
      h->touching = kNone;
      h->entries.store(f.Recount(), std::memory_order_relaxed);
      h->counters[kRecoveries].fetch_add(1, std::memory_order_relaxed);
      r = pthread_mutex_consistent(&h->lock);
    }
    held_ = r == 0;
  }
  ~StoreLock() {
    if (held_) pthread_mutex_unlock(&f_.header()->lock);
  }
  // Keeps the lock past this object's life (test hook only).
  void Leak() { held_ = false; }
  bool held() const { return held_; }

 private:
  StoreFile& f_;
  bool held_ = false;
};

bool KeyMatches(const SlotHeader* s, const SessionKey& k) {
  return s->sid_ctx_len == k.sid_ctx_len && s->id_len == k.id_len &&
         std::memcmp(s->sid_ctx, k.sid_ctx, k.sid_ctx_len) == 0 && std::memcmp(s->id, k.id, k.id_len) == 0;
}

bool KeyFits(const SessionKey& k) { return k.sid_ctx_len <= kMaxIdLen && k.id_len <= kMaxIdLen && k.id_len > 0; }

uint32_t SetStart(const StoreFile& f, uint64_t hash) {
  const uint32_t sets = f.slot_count() / kWays;
  return static_cast<uint32_t>((hash >> 1) % sets) * kWays;
}

// Finds the slot holding `key`, or kNone. Caller holds the lock.
uint32_t FindSlot(StoreFile& f, const SessionKey& key, uint64_t hash) {
  const uint32_t start = SetStart(f, hash);
  IndexEntry* index = f.index();
  for (uint32_t i = start; i < start + kWays; i++) {
    if (index[i].hash == hash && KeyMatches(f.slot(i), key)) return i;
  }
  return kNone;
}

}  // namespace

std::shared_ptr<SharedStore> SharedStore::Open(const std::string& path, const StoreGeometry& geometry,
                                               std::vector<unsigned char> sid_ctx, std::string* error) {
  if (sid_ctx.size() > kMaxIdLen) {
    *error = "shared store: session-ID context longer than 32 bytes";
    return nullptr;
  }
  std::lock_guard<std::mutex> guard(registry_mutex);
  std::shared_ptr<StoreFile> file = Registry()[path].lock();
  if (file) {
    const StoreGeometry& have = file->geometry();
    if (have.total_bytes != geometry.total_bytes || have.slot_bytes != geometry.slot_bytes) {
      *error = "shared store: " + path + " is already open in this process with " +
               Describe(have.total_bytes, have.slot_bytes, file->slot_count()) +
               "; attach with the same sizeBytes and slotBytes";
      return nullptr;
    }
  } else {
    file = StoreFile::Map(path, geometry, error);
    if (!file) return nullptr;
    Registry()[path] = file;
  }
  return std::shared_ptr<SharedStore>(new SharedStore(std::move(file), std::move(sid_ctx)));
}

const std::string& SharedStore::path() const { return file_->path(); }

SharedStore::InsertResult SharedStore::Insert(const SessionKey& key, const unsigned char* der, size_t der_len,
                                              int64_t expires_at) noexcept {
  StoreFile& f = *file_;
  StoreHeader* h = f.header();
  if (der_len > f.max_der()) {
    h->counters[kTooLarge].fetch_add(1, std::memory_order_relaxed);
    return InsertResult::kTooLarge;
  }
  if (!KeyFits(key) || expires_at <= 0) return InsertResult::kFailed;
  const uint64_t hash = KeyHash(key);
  const int64_t now = static_cast<int64_t>(time(nullptr));
  StoreLock lock(f);
  if (!lock.held()) return InsertResult::kFailed;
  IndexEntry* index = f.index();
  const uint32_t start = SetStart(f, hash);
  const uint32_t seq = h->seq.fetch_add(1, std::memory_order_relaxed);
  // Same key, else an empty slot, else an expired one, else the oldest of the set.
  uint32_t target = FindSlot(f, key, hash);
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
      h->counters[kExpiries].fetch_add(1, std::memory_order_relaxed);
    } else {
      target = oldest;
      h->counters[kEvictions].fetch_add(1, std::memory_order_relaxed);
    }
  }
  h->touching = target;
  f.Invalidate(target);
  SlotHeader* s = f.slot(target);
  s->hash = hash;
  s->expires_at = expires_at;
  s->der_len = static_cast<uint32_t>(der_len);
  s->sid_ctx_len = static_cast<uint8_t>(key.sid_ctx_len);
  s->id_len = static_cast<uint8_t>(key.id_len);
  s->reserved = 0;
  std::memset(s->sid_ctx, 0, sizeof(s->sid_ctx));
  std::memset(s->id, 0, sizeof(s->id));
  std::memcpy(s->sid_ctx, key.sid_ctx, key.sid_ctx_len);
  std::memcpy(s->id, key.id, key.id_len);
  std::memcpy(reinterpret_cast<unsigned char*>(s) + sizeof(SlotHeader), der, der_len);
  s->checksum = SlotChecksum(s);
  const uint64_t clamp = expires_at > 0xffffffffLL ? 0xffffffffULL : static_cast<uint64_t>(expires_at);
  index[target].expires_at = static_cast<uint32_t>(clamp);
  index[target].seq = seq;
  index[target].hash = hash;
  h->entries.fetch_add(1, std::memory_order_relaxed);
  h->touching = kNone;
  h->counters[kStores].fetch_add(1, std::memory_order_relaxed);
  return InsertResult::kStored;
}

bool SharedStore::Lookup(const SessionKey& key, int64_t now, std::vector<unsigned char>* out) noexcept {
  StoreFile& f = *file_;
  StoreHeader* h = f.header();
  auto miss = [&] {
    h->counters[kMisses].fetch_add(1, std::memory_order_relaxed);
    return false;
  };
  if (!KeyFits(key)) return miss();
  const uint64_t hash = KeyHash(key);
  StoreLock lock(f);
  if (!lock.held()) return miss();
  const uint32_t i = FindSlot(f, key, hash);
  if (i == kNone) return miss();
  const SlotHeader* s = f.slot(i);
  if (s->der_len > f.max_der() || s->hash != hash || SlotChecksum(s) != s->checksum) {
    h->counters[kCorrupt].fetch_add(1, std::memory_order_relaxed);
    f.Invalidate(i);
    return miss();
  }
  if (s->expires_at <= now) {
    h->counters[kExpiries].fetch_add(1, std::memory_order_relaxed);
    f.Invalidate(i);
    return miss();
  }
  try {
    const unsigned char* der = reinterpret_cast<const unsigned char*>(s) + sizeof(SlotHeader);
    out->assign(der, der + s->der_len);
  } catch (...) {
    return miss();
  }
  h->counters[kHits].fetch_add(1, std::memory_order_relaxed);
  return true;
}

void SharedStore::Remove(const SessionKey& key, bool expired) noexcept {
  if (!KeyFits(key)) return;
  StoreFile& f = *file_;
  const uint64_t hash = KeyHash(key);
  StoreLock lock(f);
  if (!lock.held()) return;
  const uint32_t i = FindSlot(f, key, hash);
  if (i == kNone) return;
  f.Invalidate(i);
  f.header()->counters[expired ? kExpiries : kDeletes].fetch_add(1, std::memory_order_relaxed);
}

size_t SharedStore::FlushExpired(int64_t now) noexcept {
  StoreFile& f = *file_;
  StoreLock lock(f);
  if (!lock.held()) return 0;
  size_t n = 0;
  IndexEntry* index = f.index();
  for (uint32_t i = 0; i < f.slot_count(); i++) {
    if (index[i].hash != 0 && static_cast<int64_t>(index[i].expires_at) <= now) {
      f.Invalidate(i);
      n++;
    }
  }
  f.header()->counters[kExpiries].fetch_add(n, std::memory_order_relaxed);
  return n;
}

size_t SharedStore::Clear() noexcept {
  StoreFile& f = *file_;
  StoreLock lock(f);
  if (!lock.held()) return 0;
  size_t n = 0;
  IndexEntry* index = f.index();
  for (uint32_t i = 0; i < f.slot_count(); i++) {
    if (index[i].hash != 0) {
      f.Invalidate(i);
      n++;
    }
  }
  f.header()->entries.store(0, std::memory_order_relaxed);
  return n;
}

void SharedStore::Count(SharedCounter counter) noexcept {
  file_->header()->counters[counter].fetch_add(1, std::memory_order_relaxed);
}

SharedStoreStats SharedStore::Stats() noexcept {
  StoreFile& f = *file_;
  SharedStoreStats out;
  StoreHeader* h = f.header();
  out.entries = h->entries.load(std::memory_order_relaxed);
  out.capacity = f.slot_count();
  out.bytes_per_session = f.slot_bytes() + sizeof(IndexEntry);
  out.max_session_bytes = f.max_der();
  out.total_bytes = f.total_bytes();
  for (int i = 0; i < kCounterCount; i++) out.counters[i] = h->counters[i].load(std::memory_order_relaxed);
  return out;
}

int64_t SharedStore::LockAndHangForTest() noexcept {
  StoreFile& f = *file_;
  StoreLock lock(f);
  if (!lock.held()) return -1;
  int64_t victim = -1;
  for (uint32_t i = 0; i < f.slot_count(); i++) {
    if (f.index()[i].hash != 0) {
      victim = i;
      break;
    }
  }
  if (victim >= 0) {
    // Look exactly like a writer killed mid-copy: slot named, its bytes half-overwritten.
    f.header()->touching = static_cast<uint32_t>(victim);
    SlotHeader* s = f.slot(static_cast<uint32_t>(victim));
    std::memset(reinterpret_cast<unsigned char*>(s) + sizeof(SlotHeader), 0xAB, s->der_len / 2);
  }
  lock.Leak();
  return victim;
}

}  // namespace tsc
