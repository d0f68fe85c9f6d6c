// Fuzz target: a corrupt or hostile shared-store file (native/common/shared_store.cc). The input is the
// whole file: it is written (0600) where a store would be, SharedStore::Open validates the
// header against the geometry the process asks for, and when it accepts the file, every
// operation a worker can run on it is run: Lookup of every key the file's slots claim to hold
// and of a key it does not hold, Insert, Flush (expired, then all), Stats. Nothing may read or
// write outside the mapping, whatever the header, index and slots say.
// The lock bytes come from the input too: the harness is the only user of the file, so Open
// must re-initialise whatever lock the file holds (before that fix, a lock word naming an owner
// that is not running made the first lookup wait forever; see docs/fuzzing.md).
#include <cstdint>
#include <ctime>
#include <string>
#include <vector>

#include "fuzz_support.h"

namespace {

namespace st = fuzz::store;

const st::Geometry kGeometry = st::Sets(384, 2);  // 2 sets of 16 ways, 2 stripes; 320-byte sessions

const std::string& Path() {
  static const std::string* path = new std::string(st::TempStorePath("header"));
  return *path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = Path();
  const std::vector<unsigned char> image(data, data + size);
  if (!st::WriteFile(path, image.data(), image.size())) fuzz::Die("cannot write the store image");

  std::string error;
  auto store = tsc::SharedStore::Open(st::At(path), kGeometry.total_bytes, kGeometry.slot_bytes, &error);
  if (!store) {
    if (error.empty()) __builtin_trap();  // a refusal always says why
    unlink(path.c_str());
    return 0;
  }
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  tsc::KeyBytes out;
  size_t len = 0;
  // Keys as the file's slots state them (lengths clipped to what a key can be).
  if (image.size() == kGeometry.total_bytes) {
    for (uint32_t i = 0; i < kGeometry.slot_count; i++) {
      const unsigned char* slot = &image[kGeometry.slot_at(i)];
      const size_t id_len = slot[st::kSlotIdLen] % 33;
      if (store->Lookup(slot + st::kSlotId, id_len, now, &out, &len) && len > kGeometry.max_der()) __builtin_trap();
    }
  }
  const unsigned char id[] = {9, 8, 7, 6, 5, 4, 3, 2, 1};
  const unsigned char der[] = {0x30, 0x03, 0x02, 0x01, 0x01};
  store->Insert(id, sizeof(id), der, sizeof(der), now + 60);
  // Just stored: it comes back, unless its stripe's lock word in the file names a live holder
  // that is not us (then the lookup gives up after its bound, a counted miss).
  if (!store->Lookup(id, sizeof(id), now, &out, &len)) {
    if (store->Stats().counters[tsc::layout::kLockTimeouts] == 0) __builtin_trap();
  } else if (len != sizeof(der)) {
    __builtin_trap();
  }
  store->Flush(now, false);
  tsc::SharedStoreStats stats = store->Stats();
  if (stats.capacity != kGeometry.slot_count) __builtin_trap();
  store->Flush(now, true);
  store.reset();
  unlink(path.c_str());
  return 0;
}
