// Fuzz target: the shared store's get path on a hostile entry: SharedStore::Lookup's entry
// checks (index hash, slot key, length, checksum, expiry), then LookupSession's
// d2i_SSL_SESSION of the stored bytes and its identity checks (native/common/session_der.cc), i.e.
// exactly what the get-session callback runs inside a handshake. The input is one slot, written
// into a valid store through a second mapping of the file. Flags in the first byte choose which
// fields the harness makes consistent (so mutated DER gets past the checksum to d2i) and which
// it leaves as the input says (so the entry checks themselves are attacked).
//
// Input: [u8 flags][96-byte slot header as in the file (layout 4)][DER bytes]. flags: bit0 slot
// hash = hash of the key, bit1 index entry names the slot, bit2 checksum recomputed, bit3 the
// lookup's scope is the one the slot states (else the seeds' server context), bit4 expiry in the
// future, bit5 der_len = the DER's length, bits 6-7 which of the set's first 4 ways holds the slot.
#include <openssl/err.h>

#include <algorithm>
#include <cstdint>
#include <ctime>
#include <string>
#include <vector>

#include "common/session_der.h"
#include "fuzz_support.h"

namespace {

namespace st = fuzz::store;

const st::Geometry kGeometry = st::Sets(512, 2);                           // 448-byte sessions: every seed session fits
const unsigned char kSidCtx[] = {'t', 's', 'c', '-', 'f', 'u', 'z', 'z'};  // the seeds' server context

struct Store {
  std::string path = st::TempStorePath("entry");
  std::shared_ptr<tsc::SharedStore> store;
  unsigned char* base = nullptr;  // our own view of the same file, to plant the slot

  Store() {
    unlink(path.c_str());
    std::string error;
    store = tsc::SharedStore::Open(st::At(path), kGeometry.total_bytes, kGeometry.slot_bytes, &error);
    if (!store) fuzz::Die(error.c_str());
    const int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) fuzz::Die("open store");
    void* p = mmap(nullptr, kGeometry.total_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) fuzz::Die("mmap store");
    base = static_cast<unsigned char*>(p);
    unlink(path.c_str());  // both mappings stay valid; nothing is left behind in /tmp
  }
};

Store& TheStore() {
  static Store* s = new Store();
  return *s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Store& s = TheStore();
  s.store->Flush(0, true);
  if (size < 1 + st::kSlotHeaderBytes) return 0;
  const uint8_t flags = data[0];
  const uint8_t* header = data + 1;
  const uint8_t* der = header + st::kSlotHeaderBytes;
  size_t der_len = size - 1 - st::kSlotHeaderBytes;
  if (der_len > kGeometry.max_der()) der_len = kGeometry.max_der();

  // The key a client would offer: the slot's stated ID (1..32 bytes).
  const size_t id_len = 1 + (header[st::kSlotIdLen] + 31u) % 32u;
  const unsigned char* id = header + st::kSlotId;
  const uint64_t hash = tsc::layout::KeyHash(id, id_len);
  const size_t index = kGeometry.set_start(hash) + ((flags >> 6) & 3);

  unsigned char* slot = s.base + kGeometry.slot_at(index);
  std::memcpy(slot, header, st::kSlotHeaderBytes);
  std::memcpy(slot + st::kSlotHeaderBytes, der, der_len);
  if (flags & 1) st::Store<uint64_t>(slot + st::kSlotHash, hash);
  if (flags & 16) st::Store<int64_t>(slot + st::kSlotExpires, static_cast<int64_t>(std::time(nullptr)) + 3600);
  if (flags & 32) {
    st::Store<uint32_t>(slot + st::kSlotDerLen, static_cast<uint32_t>(der_len));
    slot[st::kSlotIdLen] = static_cast<unsigned char>(id_len);
  }
  if (flags & 4) {
    const uint32_t stated = st::Load<uint32_t>(slot + st::kSlotDerLen);
    if (stated <= kGeometry.max_der()) st::Store<uint64_t>(slot + st::kSlotChecksum, st::SlotChecksum(slot, stated));
  }
  unsigned char* entry = s.base + kGeometry.index_at(index);
  st::Store<uint64_t>(entry, (flags & 2) ? hash : st::Load<uint64_t>(header + st::kSlotHash));
  st::Store<uint32_t>(entry + 8, 0xffffffffu);

  // The scope a connection would look up under: the slot's own (so mutated DER reaches d2i) or
  // the seeds' server context (so a slot of another scope is attacked).
  const size_t scope_len = (flags & 8) ? std::min<size_t>(slot[st::kSlotScopeLen], 32) : sizeof(kSidCtx);
  const st::FixedScope scope((flags & 8) ? slot + st::kSlotScope : kSidCtx, scope_len);
  tsc::StoreMiss why = tsc::StoreMiss::kAbsent;
  SSL_SESSION* sess = tsc::LookupSession(*s.store, scope, id, static_cast<int>(id_len), &why);
  if (std::getenv("TSC_FUZZ_VERBOSE") != nullptr) std::fprintf(stderr, "entry: %s\n", sess != nullptr ? "hit" : "miss");
  if (sess != nullptr) {
    // Only the session with this ID and the lookup's scope as its context may come back.
    unsigned int got_ctx_len = 0, got_id_len = 0;
    const unsigned char* got_ctx = SSL_SESSION_get0_id_context(sess, &got_ctx_len);
    const unsigned char* got_id = SSL_SESSION_get_id(sess, &got_id_len);
    if (got_id_len != id_len || std::memcmp(got_id, id, id_len) != 0 || got_ctx_len != scope_len ||
        (scope_len > 0 && std::memcmp(got_ctx, (flags & 8) ? slot + st::kSlotScope : kSidCtx, scope_len) != 0)) {
      __builtin_trap();
    }
    SSL_SESSION_free(sess);
  }
  if (ERR_peek_error() != 0) __builtin_trap();  // the callback leaves OpenSSL's error queue as it found it
  // A second ID that differs in its last byte must miss.
  unsigned char other[32];
  std::memcpy(other, id, id_len);
  other[id_len - 1] ^= 0x80;
  if (SSL_SESSION* wrong = tsc::LookupSession(*s.store, scope, other, static_cast<int>(id_len), &why)) {
    unsigned int got_id_len = 0;
    const unsigned char* got_id = SSL_SESSION_get_id(wrong, &got_id_len);
    if (got_id_len != id_len || std::memcmp(got_id, other, id_len) != 0) __builtin_trap();
    SSL_SESSION_free(wrong);
  }
  ERR_clear_error();
  return 0;
}
