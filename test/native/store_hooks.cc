// Test hooks for the shared store, built only into the test addon (build/Release/
// tls_resumption_test.node, binding.gyp target tls_resumption_test): the library's binary carries
// none of them. They open a store file the way the library does and then misbehave on purpose,
// as a faulty or stopped worker would, so tests can check what the other processes see.
#include <napi.h>
#include <openssl/ssl.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common/context_access.h"
#include "common/shared_store.h"
#include "common/shared_store_lock.h"

namespace tsc {
namespace {

using namespace layout;

// Stores stay mapped (and their locks held) until the process exits.
std::vector<std::shared_ptr<SharedStore>>& Held() {
  static auto* held = new std::vector<std::shared_ptr<SharedStore>>();
  return *held;
}

std::shared_ptr<SharedStore> OpenFrom(const Napi::CallbackInfo& info) {
  StoreLocation where;
  where.path = info[0].As<Napi::String>().Utf8Value();
  where.private_dir = info[3].ToBoolean();
  std::string error;
  auto store = SharedStore::Open(where, static_cast<uint64_t>(info[1].As<Napi::Number>().Int64Value()),
                                 info[2].As<Napi::Number>().Uint32Value(), &error);
  if (!store) throw Napi::Error::New(info.Env(), error);
  Held().push_back(store);
  return store;
}

// lockAllStripes(path, sizeBytes, slotBytes, privateDir): takes every stripe's lock and returns
// holding them, alive: what a worker stopped (SIGSTOP) inside the store looks like to the others.
Napi::Value LockAllStripes(const Napi::CallbackInfo& info) {
  auto store = OpenFrom(info);
  StoreFile& f = store->file();
  uint32_t held = 0;
  for (uint32_t i = 0; i < f.geometry().stripe_count; i++) {
    StripeLock lock(f, i);
    if (lock.held()) held++;
    lock.Leak();
  }
  return Napi::Number::New(info.Env(), held);
}

// dieWriting(path, sizeBytes, slotBytes, privateDir): takes the lock of the first live slot's
// stripe, names that slot as being written and half-overwrites its DER bytes (never past the
// slot, whatever its header says), then returns holding the lock: SIGKILL the process next and
// the store holds exactly what a writer killed mid-copy leaves. Returns the slot, or -1.
Napi::Value DieWriting(const Napi::CallbackInfo& info) {
  auto store = OpenFrom(info);
  StoreFile& f = store->file();
  const Geometry& g = f.geometry();
  for (uint32_t i = 0; i < g.slot_count; i++) {
    if (f.index()[i].hash == 0) continue;
    StripeLock lock(f, g.stripe_of_slot(i));
    if (!lock.held() || f.index()[i].hash == 0) continue;
    lock.stripe().touching = i;
    const uint32_t len = f.slot(i)->der_len <= g.max_der() ? f.slot(i)->der_len : g.max_der();
    std::memset(f.der(i), 0xAB, len / 2);
    lock.Leak();
    return Napi::Number::New(info.Env(), i);
  }
  return Napi::Number::New(info.Env(), -1);
}

// layout(sizeBytes, slotBytes): where layout 2 puts things in a file of that geometry, so tests
// that plant bytes in a store file use the store's own arithmetic instead of a copy of it.
Napi::Value Layout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Geometry g = Geometry::For(static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value()),
                                   info[1].As<Napi::Number>().Uint32Value());
  Napi::Object out = Napi::Object::New(env);
  auto put = [&](const char* name, double v) { out.Set(name, Napi::Number::New(env, v)); };
  put("slotCount", g.slot_count);
  put("stripeCount", g.stripe_count);
  put("ways", kWays);
  put("stripesAt", static_cast<double>(g.stripe_at(0)));
  put("stripeBytes", static_cast<double>(kStripeBytes));
  put("lockOffset", static_cast<double>(offsetof(Stripe, lock)));
  put("touchingOffset", static_cast<double>(offsetof(Stripe, touching)));
  put("indexAt", static_cast<double>(g.index_at(0)));
  put("indexEntryBytes", static_cast<double>(sizeof(IndexEntry)));
  put("slotsAt", static_cast<double>(g.slot_at(0)));
  put("slotHeaderBytes", static_cast<double>(sizeof(SlotHeader)));
  put("layoutVersionOffset", static_cast<double>(offsetof(StoreHeader, layout_version)));
  return out;
}

// switchContextOnHello(fromExternal, toExternal): an OpenSSL-level SNI switch, as a C server or
// another addon does it: a ClientHello callback on `from` that moves every connection to `to`
// with SSL_set_SSL_CTX (OpenSSL then still runs the session callbacks of `from`, the SSL's
// session_ctx). Node's own SNICallback copies the certificate into the SSL instead and never
// switches contexts. The contexts must outlive the server (the test keeps them).
int SwitchOnHello(SSL* ssl, int* /*alert*/, void* arg) {
  SSL_set_SSL_CTX(ssl, static_cast<SSL_CTX*>(arg));
  return SSL_CLIENT_HELLO_SUCCESS;
}

Napi::Value SwitchContextOnHello(const Napi::CallbackInfo& info) {
  SSL_CTX* from = SslCtxFromExternal(info.Env(), info[0]);
  SSL_CTX* to = SslCtxFromExternal(info.Env(), info[1]);
  if (from == nullptr || to == nullptr) throw Napi::TypeError::New(info.Env(), "expected two SecureContext externals");
  SSL_CTX_set_client_hello_cb(from, SwitchOnHello, to);
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("switchContextOnHello", Napi::Function::New(env, SwitchContextOnHello, "switchContextOnHello"));
  exports.Set("layout", Napi::Function::New(env, Layout, "layout"));
  exports.Set("lockAllStripes", Napi::Function::New(env, LockAllStripes, "lockAllStripes"));
  exports.Set("dieWriting", Napi::Function::New(env, DieWriting, "dieWriting"));
  return exports;
}

}  // namespace
}  // namespace tsc

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return tsc::Init(env, exports); }

NODE_API_MODULE(tls_resumption_test, InitModule)
