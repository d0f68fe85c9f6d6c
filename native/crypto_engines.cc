// Crypto engines: lists the OpenSSL ENGINEs Node's OpenSSL knows (built-in ones such as
// "dynamic" and "rdrand", and any added to the list by crypto.setEngine or a config file).
// ENGINE is deprecated since OpenSSL 3.0, and binding.gyp builds the addon with
// OPENSSL_NO_DEPRECATED, so this one file asks for the 1.1.1 API before any OpenSSL header.
// Providers (crypto_providers.cc) are the supported way to add hardware crypto on 3.x.
#undef OPENSSL_NO_DEPRECATED
#undef OPENSSL_API_COMPAT
#define OPENSSL_API_COMPAT 10101
#define OPENSSL_SUPPRESS_DEPRECATED

#include <openssl/crypto.h>
#include <openssl/engine.h>

#include <memory>

#include "crypto_providers.h"

namespace tsc {
namespace {

struct EngineFree {
  void operator()(ENGINE* e) const noexcept { ENGINE_free(e); }
};
using EnginePtr = std::unique_ptr<ENGINE, EngineFree>;

// engines() -> [{ id, name, flags }]. Registers OpenSSL's built-in engines first (idempotent;
// ENGINE_by_id, which crypto.setEngine uses, does the same), so the list is what setEngine can
// find by id.
Napi::Value Engines(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  OPENSSL_init_crypto(OPENSSL_INIT_ENGINE_ALL_BUILTIN, nullptr);
  Napi::Array out = Napi::Array::New(env);
  uint32_t i = 0;
  // ENGINE_get_next releases the reference it is given and returns a new one: hand it over.
  for (EnginePtr e(ENGINE_get_first()); e; e.reset(ENGINE_get_next(e.release()))) {
    Napi::Object o = Napi::Object::New(env);
    const char* id = ENGINE_get_id(e.get());
    const char* name = ENGINE_get_name(e.get());
    o.Set("id", Napi::String::New(env, id != nullptr ? id : ""));
    o.Set("name", Napi::String::New(env, name != nullptr ? name : ""));
    o.Set("flags", Napi::Number::New(env, ENGINE_get_flags(e.get())));
    out.Set(i++, o);
  }
  ERR_clear_error();
  return out;
}

}  // namespace

void InitCryptoEngines(Napi::Env env, Napi::Object exports) {
  exports.Set("engines", Napi::Function::New(env, Engines, "engines"));
}

}  // namespace tsc
