// The outbound cache over the shared store: the JS side names an upstream's entries by 32-byte
// keys (src/client/shared-store.ts derives them: one per TLS 1.3 ticket place, one for the TLS
// 1.2 session), and this class takes, copies, files and removes them. A TLS 1.3 ticket is taken
// under its stripe's lock (SharedStore::Take), so two workers never get the same one. Every call
// is bounded by the store's lock timeout; a failure is a miss (a full handshake), never a throw
// on the connection path.
#include "client/client_store.h"

#include <openssl/crypto.h>

#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "common/shared_store.h"
#include "common/shared_store_napi.h"

namespace tsc {
namespace {

constexpr size_t kKeyBytes = 32;

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

class ClientStore : public Napi::ObjectWrap<ClientStore> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ClientStore",
                       {InstanceMethod("take", &ClientStore::Take), InstanceMethod("put", &ClientStore::Put),
                        InstanceMethod("remove", &ClientStore::Remove), InstanceMethod("stats", &ClientStore::Stats),
                        InstanceMethod("flush", &ClientStore::Flush), InstanceMethod("close", &ClientStore::Close)});
  }

  // new ClientStore(path, sizeBytes, slotBytes, privateDir): opens or creates the store file
  // (0600, owner and symlink checks: shared_store_file.cc); throws naming the file on failure.
  explicit ClientStore(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<ClientStore>(info), store_(OpenSharedStore(info, 0)) {}

 private:
  // take(keys: Buffer, remove: boolean) -> Buffer | null: the first live entry among the keys
  // (32 bytes each), removed with it when `remove` (TLS 1.3 tickets), copied otherwise.
  Napi::Value Take(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!store_ || !info[0].IsBuffer()) return env.Null();
    auto keys = info[0].As<Napi::Buffer<unsigned char>>();
    const bool remove = info[1].ToBoolean();
    const int64_t now = Now();
    ReopenIfLost(now);
    for (size_t at = 0; at + kKeyBytes <= keys.Length(); at += kKeyBytes) {
      size_t len = 0;
      const bool found = remove ? store_->Take(keys.Data() + at, kKeyBytes, now, &scratch_, &len)
                                : store_->Lookup(keys.Data() + at, kKeyBytes, now, &scratch_, &len);
      if (!found) continue;
      Napi::Buffer<unsigned char> out = Napi::Buffer<unsigned char>::Copy(env, scratch_.data(), len);
      OPENSSL_cleanse(scratch_.data(), len);
      return out;
    }
    return env.Null();
  }

  // put(keys: Buffer, der: Buffer, expiresAtSeconds, firstFree: boolean) -> boolean. With
  // firstFree the session goes under the first key with no live entry, else over the first key.
  Napi::Value Put(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!store_ || !info[0].IsBuffer() || !info[1].IsBuffer()) return Napi::Boolean::New(env, false);
    auto keys = info[0].As<Napi::Buffer<unsigned char>>();
    auto der = info[1].As<Napi::Buffer<unsigned char>>();
    const int64_t expires_at = info[2].As<Napi::Number>().Int64Value();
    const bool first_free = info[3].ToBoolean();
    if (keys.Length() < kKeyBytes) return Napi::Boolean::New(env, false);
    if (first_free) {
      for (size_t at = 0; at + kKeyBytes <= keys.Length(); at += kKeyBytes) {
        auto r = store_->Insert(keys.Data() + at, kKeyBytes, der.Data(), der.Length(), expires_at, false);
        if (r != SharedStore::InsertResult::kPresent)
          return Napi::Boolean::New(env, r == SharedStore::InsertResult::kStored);
      }
    }
    auto r = store_->Insert(keys.Data(), kKeyBytes, der.Data(), der.Length(), expires_at, true);
    return Napi::Boolean::New(env, r == SharedStore::InsertResult::kStored);
  }

  // remove(key: Buffer) -> boolean: drops (and wipes) the entry under one key.
  Napi::Value Remove(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!store_ || !info[0].IsBuffer()) return Napi::Boolean::New(env, false);
    auto key = info[0].As<Napi::Buffer<unsigned char>>();
    if (key.Length() != kKeyBytes) return Napi::Boolean::New(env, false);
    size_t len = 0;
    const bool found = store_->Take(key.Data(), kKeyBytes, Now(), &scratch_, &len);
    if (found) OPENSSL_cleanse(scratch_.data(), len);
    return Napi::Boolean::New(env, found);
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    if (!store_) throw Napi::Error::New(info.Env(), "the client session store is closed");
    return SharedStatsObject(info.Env(), store_->Stats());
  }

  // flush(all) -> number: the expired entries, or all of them (every process's).
  Napi::Value Flush(const Napi::CallbackInfo& info) {
    if (!store_) return Napi::Number::New(info.Env(), 0);
    return Napi::Number::New(info.Env(), static_cast<double>(store_->Flush(Now(), info[0].ToBoolean())));
  }

  // close(): this process lets go of the file (unmapped with its last user); the entries stay.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    store_.reset();
    return info.Env().Undefined();
  }

  // A store file truncated under this process (shared_store_fault.h) or replaced (renamed over)
  // is mapped again from the next take(), on the JavaScript thread before a connection starts:
  // checked at most once a second (a replacement costs an lstat and an fstat to see).
  void ReopenIfLost(int64_t now) {
    if (now == last_reopen_try_) return;
    last_reopen_try_ = now;
    if (!store_->file().lost() && !store_->file().Replaced()) return;
    std::string ignored;
    store_->ReopenIfLost(&ignored);
  }

  std::shared_ptr<SharedStore> store_;
  KeyBytes scratch_;  // key memory (common/key_memory.h): decoded sessions pass through it
  int64_t last_reopen_try_ = 0;
};

}  // namespace

void InitClientStore(Napi::Env env, Napi::Object exports) { exports.Set("ClientStore", ClientStore::Define(env)); }

}  // namespace tsc
