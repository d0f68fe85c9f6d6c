// Fuzz target: a corrupt or hostile shared-store file (native/shared_store.cc). The input is the
// whole file: it is written (0600) where a store would be, SharedStore::Open validates the
// header against the geometry the process asks for, and when it accepts the file, every
// operation a worker can run on it is run: Lookup of every key the file's slots claim to hold
// and of a key it does not hold, Insert, Remove, FlushExpired, Stats, Clear. Nothing may read or
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

const st::Geometry kGeometry{384, 32};  // 2 sets of 16 ways; 288-byte sessions
const unsigned char kSidCtx[] = {'t', 's', 'c', '-', 'f', 'u', 'z', 'z'};

const std::string& Path() {
  static const std::string* path = [] {
    st::CheckStoreLayout(kGeometry);
    return new std::string(st::TempStorePath("header"));
  }();
  return *path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = Path();
  const std::vector<unsigned char> image(data, data + size);
  if (!st::WriteFile(path, image.data(), image.size())) fuzz::Die("cannot write the store image");

  std::string error;
  auto store = tsc::SharedStore::Open(path, tsc::StoreGeometry{kGeometry.total(), static_cast<uint32_t>(kGeometry.slot_bytes)},
                                      std::vector<unsigned char>(kSidCtx, kSidCtx + sizeof(kSidCtx)), &error);
  if (!store) {
    if (error.empty()) __builtin_trap();  // a refusal always says why
    unlink(path.c_str());
    return 0;
  }
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  std::vector<unsigned char> out;
  // Keys as the file's slots state them (lengths clipped to what a key can be).
  if (image.size() == kGeometry.total()) {
    for (size_t i = 0; i < kGeometry.slot_count; i++) {
      const unsigned char* slot = &image[kGeometry.slot_at(i)];
      const size_t ctx_len = slot[st::kSlotSidCtxLen] % 33, id_len = slot[st::kSlotIdLen] % 33;
      const tsc::SessionKey key{slot + st::kSlotSidCtx, ctx_len, slot + st::kSlotId, id_len};
      if (store->Lookup(key, now, &out) && out.size() > kGeometry.max_der()) __builtin_trap();
      if (i % 5 == 0) store->Remove(key, i % 2 == 0);
    }
  }
  const unsigned char id[] = {9, 8, 7, 6, 5, 4, 3, 2, 1};
  const tsc::SessionKey mine{kSidCtx, sizeof(kSidCtx), id, sizeof(id)};
  const unsigned char der[] = {0x30, 0x03, 0x02, 0x01, 0x01};
  store->Insert(mine, der, sizeof(der), now + 60);
  if (!store->Lookup(mine, now, &out) || out.size() != sizeof(der)) __builtin_trap();  // just stored
  store->FlushExpired(now);
  tsc::SharedStoreStats stats = store->Stats();
  if (stats.capacity != kGeometry.slot_count) __builtin_trap();
  store->Clear();
  store.reset();
  unlink(path.c_str());
  return 0;
}
