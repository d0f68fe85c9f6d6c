#include "common/shared_store_file.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "common/shared_store_fault.h"

namespace tsc {
namespace {

using namespace layout;

// How long attach() waits for another opener that is creating or checking the header (that
// takes microseconds; a holder that keeps the flock longer is stuck or hostile).
constexpr int kFlockWaitMs = 2000;

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

std::string Mode(mode_t m) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%03o", static_cast<unsigned>(m & 0777));
  return buf;
}

std::string Describe(uint64_t total, uint32_t slot_bytes, uint32_t slot_count) {
  return std::to_string(total) + " bytes, " + std::to_string(slot_count) + " slots of " + std::to_string(slot_bytes) +
         " bytes";
}

// Owner and mode of something another user may have planted, checked on the open descriptor
// (no race with a rename) before anything waits on it.
bool OwnedPrivately(int fd, const std::string& what, const std::string& path, bool directory, std::string* error) {
  struct stat st;
  if (fstat(fd, &st) != 0) {
    *error = "shared store: cannot stat " + path + ": " + std::strerror(errno);
    return false;
  }
  if (directory ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) {
    *error = "shared store: " + path + " is not a " + (directory ? "directory" : "regular file");
    return false;
  }
  if (st.st_uid != geteuid()) {
    *error = "shared store: " + what + " " + path + " is owned by uid " + std::to_string(st.st_uid) +
             ", not by this process (uid " + std::to_string(geteuid()) +
             "); refusing to share sessions with another user";
    return false;
  }
  if ((st.st_mode & 077) != 0) {
    *error = "shared store: " + what + " " + path + " is accessible to other users (mode " + Mode(st.st_mode) +
             "); it must be " + (directory ? "0700" : "0600");
    return false;
  }
  return true;
}

// The private directory of a named store: created 0700 if missing, then checked like the file.
int OpenPrivateDir(const std::string& dir, std::string* error) {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    *error = "shared store: cannot create the directory " + dir + ": " + std::strerror(errno);
    return -1;
  }
  Fd fd;
  fd.fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd.fd < 0) {
    *error = "shared store: cannot open the directory " + dir + ": " + std::strerror(errno) +
             (errno == ELOOP || errno == ENOTDIR ? " (it must be a real directory, not a symbolic link)" : "");
    return -1;
  }
  if (!OwnedPrivately(fd.fd, "directory", dir, true, error)) return -1;
  const int out = fd.fd;
  fd.fd = -1;
  return out;
}

// "In use" marker: every process that maps the store holds an OFD read lock on byte 0 of the
// file for as long as it does (OFD locks are independent of the flock, belong to the open file
// description, and go away when the process dies, whatever the way). A process that can take
// the write lock under the flock is therefore alone: no live process can hold a stripe mutex, so
// whatever the lock words say is stale (a machine crash with a persistent `path` store, where the
// kernel never ran the robust-futex cleanup, or a corrupt file).
struct flock FirstByte(short type) {
  struct flock fl;
  std::memset(&fl, 0, sizeof(fl));
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 1;
  return fl;
}

bool OfdLock(int fd, short type) {
  struct flock fl = FirstByte(type);
  return fcntl(fd, F_OFD_SETLK, &fl) == 0;
}

// The exclusive flock is held only while a process creates or checks the header, so a creator
// killed half-way leaves `ready` at 0 and the next opener lays the file out itself. Waited for
// with a bound: a neighbour that holds it (flock -x on our file) gets an error, not a hang.
bool FlockBounded(int fd, const std::string& path, std::string* error) {
  for (int waited = 0;; waited++) {
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) return true;
    if (errno != EWOULDBLOCK && errno != EINTR) {
      *error = "shared store: cannot lock " + path + ": " + std::strerror(errno);
      return false;
    }
    if (waited >= kFlockWaitMs) {
      *error = "shared store: " + path + " stayed locked (flock) by another process for " +
               std::to_string(kFlockWaitMs) +
               " ms; a process that creates or checks a store holds it for microseconds: find the holder (fuser " +
               path + ") or use another name";
      return false;
    }
    struct timespec ms = {0, 1000000};
    nanosleep(&ms, nullptr);
  }
}

struct FlockGuard {
  int fd;
  ~FlockGuard() { flock(fd, LOCK_UN); }
};

// Reserves every byte of the file on its filesystem. A sparse file on a full tmpfs maps fine and
// then raises SIGBUS at the first write to a page the filesystem cannot back, inside a handshake.
bool Reserve(int fd, const std::string& path, uint64_t total, std::string* error) {
  const int r = posix_fallocate(fd, 0, static_cast<off_t>(total));
  if (r == 0) return true;
  std::string free_space;
  struct statvfs vfs;
  if (fstatvfs(fd, &vfs) == 0) {
    free_space =
        " (the filesystem has " + std::to_string(static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize) + " bytes free)";
  }
  *error = "shared store: cannot reserve " + std::to_string(total) + " bytes for " + path + ": " + std::strerror(r) +
           free_space + "; free space there, give a smaller sizeBytes, or use another path";
  return false;
}

}  // namespace

bool InitStripeMutex(pthread_mutex_t* m) {
  pthread_mutexattr_t attr;
  if (pthread_mutexattr_init(&attr) != 0) return false;
  bool ok = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED) == 0 &&
            pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST) == 0 && pthread_mutex_init(m, &attr) == 0;
  pthread_mutexattr_destroy(&attr);
  return ok;
}

void WipeTicketKeys(TicketKeyTable* t) {
  // explicit_bzero, which no optimiser removes, as OPENSSL_cleanse: the store code links no
  // OpenSSL (tools/native/store_bench.cc builds it alone).
  explicit_bzero(t->keys, sizeof(t->keys));
  t->count = 0;
  t->generation.fetch_add(1, std::memory_order_release);
}

bool InspectStoreFile(const std::string& path, StoreFileFacts* facts, std::string* error) {
  Fd fd;
  fd.fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd.fd < 0) {
    *error = "shared store: cannot open " + path + ": " + std::strerror(errno);
    return false;
  }
  struct stat st;
  StoreHeader h;
  if (fstat(fd.fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
      pread(fd.fd, &h, sizeof(h), 0) != static_cast<ssize_t>(sizeof(h)) ||
      std::memcmp(h.magic, kMagic, sizeof(kMagic)) != 0 || h.ready.load(std::memory_order_relaxed) != 1) {
    return true;  // not a store (or not ours): is_store stays false
  }
  facts->is_store = true;
  facts->layout_version = h.layout_version;
  facts->total_bytes = h.total_bytes;
  facts->slot_bytes = h.slot_bytes;
  facts->slot_count = h.slot_count;
  // Every process using the store holds a read lock on byte 0: a write lock would conflict.
  struct flock fl = FirstByte(F_WRLCK);
  facts->in_use = fcntl(fd.fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
  return true;
}

StoreFile::~StoreFile() {
  // The last process to let go of the store takes the ticket keys with it: they live only as
  // long as some process uses them (a process killed before this runs leaves them to the next
  // opener that finds itself alone, below). Our own read lock upgrades only when no other
  // process holds one. Still watched for a truncation while it writes (shared_store_fault.h).
  if (base_ != nullptr && user_fd_ >= 0 && OfdLock(user_fd_, F_WRLCK)) WipeTicketKeys(ticket_keys());
  if (base_ != nullptr) {
    ForgetStoreMapping(base_);
    munmap(base_, g_.total_bytes);
  }
  if (user_fd_ >= 0) close(user_fd_);  // drops this process's "in use" lock
}

bool StoreFile::Replaced() const {
  struct stat at_path, mapped;
  if (user_fd_ < 0 || lstat(path_.c_str(), &at_path) != 0 || fstat(user_fd_, &mapped) != 0) return false;
  if (at_path.st_dev == mapped.st_dev && at_path.st_ino == mapped.st_ino) return false;
  return !(at_path.st_dev == refused_dev_ && at_path.st_ino == refused_ino_);
}

bool StoreFile::Reopen(std::string* error) {
  if (!lost() && !Replaced()) return true;
  StoreLocation where;
  where.path = path_;
  where.private_dir = private_dir_;
  struct stat at_path;
  const bool seen = lstat(path_.c_str(), &at_path) == 0;
  std::shared_ptr<StoreFile> fresh = Map(where, g_, error);
  if (!fresh) {
    if (seen) {
      refused_dev_ = at_path.st_dev;
      refused_ino_ = at_path.st_ino;
    }
    return false;
  }
  // Take the fresh mapping and descriptor; `fresh` leaves with the zero pages and the old
  // descriptor (whose in-use lock goes with it).
  ForgetStoreMapping(base_);
  ForgetStoreMapping(fresh->base_);
  std::swap(base_, fresh->base_);
  std::swap(user_fd_, fresh->user_fd_);
  WatchStoreMapping(base_, g_.total_bytes, &lost_);
  lost_.store(false, std::memory_order_relaxed);
  reopens_++;
  return true;
}

void StoreFile::Invalidate(uint32_t i) {
  IndexEntry& e = index()[i];
  if (e.hash != 0) stripe(g_.stripe_of_slot(i))->entries.fetch_sub(1, std::memory_order_relaxed);
  SetAtomicHash(e, 0);
  slot(i)->checksum = 0;
  // A session's master secret must not outlive its entry in a file other processes map (and, for
  // a store at a path, on disk). Volatile writes: the compiler may not drop them as dead stores.
  const size_t n = std::min<size_t>(slot(i)->der_len, g_.max_der());
  volatile unsigned char* der_bytes = der(i);
  for (size_t k = 0; k < n; k++) der_bytes[k] = 0;
  slot(i)->der_len = 0;
}

int64_t StoreFile::Recount(uint32_t s) const {
  int64_t n = 0;
  for (uint32_t set = s; set < g_.sets(); set += g_.stripe_count) {
    for (uint32_t i = set * kWays; i < (set + 1) * kWays; i++) n += index()[i].hash != 0;
  }
  return n;
}

std::shared_ptr<StoreFile> StoreFile::Map(const StoreLocation& where, const Geometry& g, std::string* error) {
  const std::string& path = where.path;
  if (g.slot_count < kWays) {
    *error = "shared store: " + std::to_string(g.total_bytes) + " bytes is too small for slots of " +
             std::to_string(g.slot_bytes) + " bytes";
    return nullptr;
  }
  Fd dir;
  std::string base = path;
  if (where.private_dir) {
    const size_t slash = path.rfind('/');
    if (slash == std::string::npos || slash == 0) {
      *error = "shared store: " + path + " has no private directory";
      return nullptr;
    }
    dir.fd = OpenPrivateDir(path.substr(0, slash), error);
    if (dir.fd < 0) return nullptr;
    base = path.substr(slash + 1);
  }
  const int at = dir.fd >= 0 ? dir.fd : AT_FDCWD;
  // O_NONBLOCK: a FIFO planted at the path must not block the open; O_NOFOLLOW: nor a symlink
  // lead us to another file.
  const int flags = O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
  Fd fd;
  bool created = false;
  fd.fd = openat(at, base.c_str(), flags | O_CREAT | O_EXCL, 0600);
  if (fd.fd >= 0) {
    created = true;
    fchmod(fd.fd, 0600);  // the umask may have taken bits away, never added: be exact anyway
  } else if (errno == EEXIST) {
    fd.fd = openat(at, base.c_str(), flags);
  }
  if (fd.fd < 0) {
    *error = "shared store: cannot open " + path + ": " + std::strerror(errno) +
             (errno == ELOOP ? " (it is a symbolic link)" : "");
    return nullptr;
  }
  if (!OwnedPrivately(fd.fd, "file", path, false, error)) return nullptr;
  if (!FlockBounded(fd.fd, path, error)) return nullptr;
  FlockGuard unlock{fd.fd};
  struct stat st;
  if (fstat(fd.fd, &st) != 0) {
    *error = "shared store: cannot stat " + path + ": " + std::strerror(errno);
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
  // Also on an existing file: one a full disk left sparse (or an older layout made with
  // ftruncate) gets its holes backed now, or refused now.
  if (!Reserve(fd.fd, path, g.total_bytes, error)) {
    if (fresh) {
      if (ftruncate(fd.fd, 0) != 0) {
        // Nothing more to undo: an empty file is what the next opener lays out from scratch.
      }
      if (created) unlinkat(at, base.c_str(), 0);
    }
    return nullptr;
  }
  void* mapped = mmap(nullptr, g.total_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd.fd, 0);
  if (mapped == MAP_FAILED) {
    *error = "shared store: cannot map " + path + ": " + std::strerror(errno);
    return nullptr;
  }
  // The header page holds the ticket-key table: out of core dumps like every key (key_memory.h).
  // Refused only by kernels before 3.4; the table is still wiped by its last user.
  madvise(mapped, kHeaderBytes, MADV_DONTDUMP);
  auto file = std::shared_ptr<StoreFile>(new StoreFile());
  struct statfs fs;
  file->in_memory_ = fstatfs(fd.fd, &fs) == 0 && (fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC);
  file->path_ = path;
  file->private_dir_ = where.private_dir;
  file->g_ = g;
  file->base_ = mapped;
  WatchStoreMapping(mapped, g.total_bytes, &file->lost_);
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
  const bool unfinished =
      h->ready.load(std::memory_order_acquire) != 1 && std::memcmp(h->magic, kZeros, sizeof(kMagic)) == 0;
  if (fresh || unfinished) {
    std::memset(mapped, 0, g.slot_at(0));
    h->layout_version = kLayoutVersion;
    h->header_bytes = kHeaderBytes;
    h->slot_bytes = g.slot_bytes;
    h->slot_count = g.slot_count;
    h->total_bytes = g.total_bytes;
    h->ways = kWays;
    h->stripe_count = g.stripe_count;
    for (uint32_t i = 0; i < g.stripe_count; i++) {
      Stripe* s = file->stripe(i);
      s->touching = kNone;
      if (!InitStripeMutex(&s->lock)) {
        *error = "shared store: cannot initialise the process-shared mutexes in " + path;
        return nullptr;
      }
    }
    if (!InitStripeMutex(&file->ticket_keys()->lock)) {
      *error = "shared store: cannot initialise the process-shared mutexes in " + path;
      return nullptr;
    }
    std::memcpy(h->magic, kMagic, sizeof(kMagic));
    h->ready.store(1, std::memory_order_release);
    return in_use();
  }
  if (std::memcmp(h->magic, kMagic, sizeof(kMagic)) != 0 || h->ready.load(std::memory_order_acquire) != 1) {
    *error =
        "shared store: " + path + " is not a tls-resumption store (no valid header); remove it or use another name";
    return nullptr;
  }
  if (h->layout_version != kLayoutVersion || h->header_bytes != kHeaderBytes || h->ways != kWays) {
    *error = "shared store: " + path + " is not a tls-resumption store of layout version " +
             std::to_string(kLayoutVersion) + " (found layout " + std::to_string(h->layout_version) +
             "); remove it or use another name";
    return nullptr;
  }
  if (h->slot_bytes != g.slot_bytes || h->slot_count != g.slot_count || h->total_bytes != g.total_bytes ||
      h->stripe_count != g.stripe_count) {
    *error = "shared store: " + path + " holds " + Describe(h->total_bytes, h->slot_bytes, h->slot_count) +
             " but this process asked for " + Describe(g.total_bytes, g.slot_bytes, g.slot_count) +
             "; attach with the same sizeBytes and slotBytes, or use another name";
    return nullptr;
  }
  if (alone) {
    // Nobody else is using the store: fresh mutexes, the slot a dead writer named dropped,
    // exactly as the EOWNERDEAD recovery in StripeLock would do, and the ticket keys that
    // processes killed before they could wipe them left behind wiped now.
    if (!InitStripeMutex(&file->ticket_keys()->lock)) {
      *error = "shared store: cannot initialise the process-shared mutexes in " + path;
      return nullptr;
    }
    WipeTicketKeys(file->ticket_keys());
    for (uint32_t i = 0; i < g.stripe_count; i++) {
      Stripe* s = file->stripe(i);
      if (!InitStripeMutex(&s->lock)) {
        *error = "shared store: cannot initialise the process-shared mutexes in " + path;
        return nullptr;
      }
      if (s->touching != kNone) {
        if (s->touching < g.slot_count) file->Invalidate(s->touching);
        s->touching = kNone;
        s->counters[kRecoveries].fetch_add(1, std::memory_order_relaxed);
      }
    }
    for (uint32_t i = 0; i < g.stripe_count; i++)
      file->stripe(i)->entries.store(file->Recount(i), std::memory_order_relaxed);
  }
  return in_use();
}

}  // namespace tsc
