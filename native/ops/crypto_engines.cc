// Crypto engines: lists the OpenSSL ENGINEs Node's OpenSSL knows (built-in ones such as
// "dynamic" and "rdrand", and any added to the list by crypto.setEngine or a config file), loads
// a server's private key through an engine (a PKCS#11 token behind libp11's "pkcs11" engine),
// and tells where a context's private key lives: in Node's memory, or behind an engine or
// provider whose code performs the signatures.
//
// ENGINE is deprecated since OpenSSL 3.0, and binding.gyp builds the addon with
// OPENSSL_NO_DEPRECATED, so this one file asks for the 1.1.1 API before any OpenSSL header
// (EC_KEY and RSA method getters are deprecated too, and are how an engine key is recognised).
// Providers (crypto_providers.cc) are the supported way to add hardware crypto on 3.x.
#undef OPENSSL_NO_DEPRECATED
#undef OPENSSL_API_COMPAT
#define OPENSSL_API_COMPAT 10101
#define OPENSSL_SUPPRESS_DEPRECATED

#include <dlfcn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <openssl/ui.h>
#include <openssl/x509.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/context_access.h"
#include "ops/crypto_providers.h"

namespace tsc {
namespace {

struct EngineFree {
  void operator()(ENGINE* e) const noexcept { ENGINE_free(e); }
};
using EnginePtr = std::unique_ptr<ENGINE, EngineFree>;

struct EvpPkeyFree {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;

// A PIN on its way to the engine: wiped however the call ends.
class SecretString {
 public:
  explicit SecretString(const Napi::Buffer<char>& b) : value_(b.Data(), b.Length()) {}
  ~SecretString() { OPENSSL_cleanse(value_.data(), value_.size()); }
  SecretString(const SecretString&) = delete;
  SecretString& operator=(const SecretString&) = delete;
  const char* c_str() const { return value_.c_str(); }

 private:
  std::string value_;
};

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

// The shared object that holds the code at `fn` ("" when the loader does not know it). A key
// whose signing function lives outside the node binary is signed by that module.
std::string ModuleOf(const void* fn) {
  Dl_info dl{};
  if (fn == nullptr || dladdr(fn, &dl) == 0 || dl.dli_fname == nullptr) return std::string();
  return dl.dli_fname;
}

struct KeySourceInfo {
  std::string kind = "none";  // none | software | engine | provider
  std::string type;           // EC, RSA, ED25519, ...
  int bits = 0;
  std::string provider;  // the provider holding a provider-native key
  std::string module;    // the shared object whose code signs (engine keys)
};

// Legacy keys carry their operations in an EC_KEY_METHOD or RSA_METHOD: OpenSSL's own for key
// bytes in memory, an engine's (libp11: C_Sign on the token) for a key that stays in hardware.
void DescribeLegacyKey(EVP_PKEY* pkey, KeySourceInfo* out) {
  out->kind = "software";
  const int id = EVP_PKEY_get_base_id(pkey);
  if (id == EVP_PKEY_EC) {
    const EC_KEY* ec = EVP_PKEY_get0_EC_KEY(pkey);
    const EC_KEY_METHOD* meth = ec != nullptr ? EC_KEY_get_method(ec) : nullptr;
    if (meth != nullptr && meth != EC_KEY_OpenSSL()) {
      int (*sign)(int, const unsigned char*, int, unsigned char*, unsigned int*, const BIGNUM*, const BIGNUM*,
                  EC_KEY*) = nullptr;
      int (*sign_setup)(EC_KEY*, BN_CTX*, BIGNUM**, BIGNUM**) = nullptr;
      ECDSA_SIG* (*sign_sig)(const unsigned char*, int, const BIGNUM*, const BIGNUM*, EC_KEY*) = nullptr;
      EC_KEY_METHOD_get_sign(meth, &sign, &sign_setup, &sign_sig);
      out->kind = "engine";
      out->module =
          ModuleOf(sign_sig != nullptr ? reinterpret_cast<const void*>(sign_sig) : reinterpret_cast<const void*>(sign));
    }
  } else if (id == EVP_PKEY_RSA || id == EVP_PKEY_RSA_PSS) {
    const RSA* rsa = EVP_PKEY_get0_RSA(pkey);
    const RSA_METHOD* meth = rsa != nullptr ? RSA_get_method(rsa) : nullptr;
    if (meth != nullptr && meth != RSA_PKCS1_OpenSSL()) {
      out->kind = "engine";
      auto sign = RSA_meth_get_sign(meth);
      auto priv_enc = RSA_meth_get_priv_enc(meth);
      out->module =
          ModuleOf(sign != nullptr ? reinterpret_cast<const void*>(sign) : reinterpret_cast<const void*>(priv_enc));
    }
  }
  if (EVP_PKEY_get0_engine(pkey) != nullptr) out->kind = "engine";
  ERR_clear_error();
}

KeySourceInfo DescribeKey(EVP_PKEY* pkey) {
  KeySourceInfo out;
  if (pkey == nullptr) return out;
  const char* type = EVP_PKEY_get0_type_name(pkey);
  out.type = type != nullptr ? type : OBJ_nid2sn(EVP_PKEY_get_base_id(pkey));
  out.bits = EVP_PKEY_get_bits(pkey);
  const OSSL_PROVIDER* prov = EVP_PKEY_get0_provider(pkey);
  if (prov == nullptr) {
    DescribeLegacyKey(pkey, &out);
  } else {
    out.provider = OSSL_PROVIDER_get0_name(prov);
    // Keys of OpenSSL's own providers are bytes in Node's memory; any other provider (a PKCS#11
    // or TPM provider) keeps the key and signs itself.
    const bool builtin = out.provider == "default" || out.provider == "base" || out.provider == "fips";
    out.kind = builtin ? "software" : "provider";
  }
  return out;
}

Napi::Object ToObject(Napi::Env env, const KeySourceInfo& k) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("kind", k.kind);
  o.Set("type", k.type);
  o.Set("bits", Napi::Number::New(env, k.bits));
  o.Set("provider", k.provider);
  o.Set("module", k.module);
  return o;
}

SSL_CTX* ContextArg(const Napi::CallbackInfo& info, const char* fn) {
  SSL_CTX* ctx = info.Length() > 0 ? SslCtxFromExternal(info.Env(), info[0]) : nullptr;
  if (ctx == nullptr)
    throw Napi::TypeError::New(info.Env(), std::string(fn) + ": expected the `_external` of a tls.SecureContext");
  return ctx;
}

// keySource(external) -> where the context's private key lives.
Napi::Value KeySource(const Napi::CallbackInfo& info) {
  SSL_CTX* ctx = ContextArg(info, "keySource");
  return ToObject(info.Env(), DescribeKey(SSL_CTX_get0_privatekey(ctx)));
}

// Engines loaded by loadEngineKey, one per engine name: a second key reuses the engine and its
// token session. OpenSSL 3 loads an engine's shared object once per process (a second "dynamic"
// load of the same .so fails with "init failed" while the first lives; Node's privateKeyEngine
// with a path hits that on its second SecureContext), so the engine is shared, and added to
// OpenSSL's engine list so that Node's privateKeyEngine given its id finds this one too.
// They stay initialised for the life of the process, on purpose: a key an engine loaded points
// into the engine's shared object (libp11's EC_KEY_METHOD), and the SSL_CTX holding the key may
// outlive any owner we could give them, so finishing an engine could unload code a live context
// still calls.
struct LoadedEngine {
  ENGINE* engine = nullptr;  // a functional reference, never released
  std::string module;        // the MODULE_PATH it was given ("" = the engine's default)
};
std::mutex engines_mutex;
std::map<std::string, LoadedEngine>& LoadedEngines() {
  static std::map<std::string, LoadedEngine> loaded;
  return loaded;
}

std::string Reason() {
  std::string why = DrainOpenSslErrors();
  return why.empty() ? std::string() : " (OpenSSL: " + why + ")";
}

// As Node's privateKeyEngine does: an id is looked up in OpenSSL's engine list and its
// ENGINESDIR (OPENSSL_ENGINES); a path is loaded through the "dynamic" engine.
EnginePtr OpenEngine(Napi::Env env, const std::string& engine) {
  OPENSSL_init_crypto(OPENSSL_INIT_ENGINE_ALL_BUILTIN, nullptr);
  if (engine.find('/') == std::string::npos) {
    EnginePtr e(ENGINE_by_id(engine.c_str()));
    if (!e) {
      throw Napi::Error::New(env, "loadEngineKey: no engine with id \"" + engine +
                                      "\" in OpenSSL's engine list or its engines directory (set OPENSSL_ENGINES, or "
                                      "give the path of the engine's .so)" +
                                      Reason());
    }
    return e;
  }
  EnginePtr e(ENGINE_by_id("dynamic"));
  if (!e || ENGINE_ctrl_cmd_string(e.get(), "SO_PATH", engine.c_str(), 0) != 1 ||
      ENGINE_ctrl_cmd_string(e.get(), "LOAD", nullptr, 0) != 1) {
    const unsigned long code = ERR_peek_last_error();
    const bool twice = ERR_GET_LIB(code) == ERR_LIB_ENGINE && ERR_GET_REASON(code) == ENGINE_R_INIT_FAILED;
    throw Napi::Error::New(
        env,
        "loadEngineKey: could not load the engine \"" + engine + "\": " +
            (twice
                 ? "this process already has it loaded from that path (OpenSSL loads an engine's .so once; a server's "
                   "privateKeyEngine path does that): give its id instead, e.g. \"pkcs11\" with OPENSSL_ENGINES set"
                 : "it is not an OpenSSL engine this OpenSSL can load") +
            Reason());
  }
  // Listed, Node's privateKeyEngine by id (and crypto.setEngine) reuse it. An engine already
  // listed under that id keeps its place.
  if (ENGINE_add(e.get()) != 1) ERR_clear_error();
  return e;
}

ENGINE* EngineFor(Napi::Env env, const std::string& engine, const std::string& module) {
  auto& loaded = LoadedEngines();
  auto it = loaded.find(engine);
  if (it != loaded.end()) {
    if (!module.empty() && module != it->second.module) {
      throw Napi::Error::New(env, "loadEngineKey: engine \"" + engine + "\" already drives the PKCS#11 module \"" +
                                      (it->second.module.empty() ? std::string("(its default)") : it->second.module) +
                                      "\" in this process; an engine holds one module (option \"module\")");
    }
    return it->second.engine;
  }
  EnginePtr e = OpenEngine(env, engine);
  if (!module.empty() && ENGINE_ctrl_cmd_string(e.get(), "MODULE_PATH", module.c_str(), 0) != 1) {
    const char* id = ENGINE_get_id(e.get());
    throw Napi::Error::New(env, std::string("loadEngineKey: engine \"") + (id != nullptr ? id : engine.c_str()) +
                                    "\" refused option \"module\" (its MODULE_PATH control)" + Reason());
  }
  if (ENGINE_init(e.get()) != 1) {
    throw Napi::Error::New(env, "loadEngineKey: engine \"" + engine + "\" failed to initialise" + Reason());
  }
  // ENGINE_init took a functional reference of its own, kept in the registry; the structural
  // one goes with `e`.
  ENGINE* raw = e.get();
  loaded.emplace(engine, LoadedEngine{raw, module});
  return raw;
}

// The key's public half must be the certificate's: a wrong object label in a token full of
// keys is the likely mistake, and OpenSSL's own check says only "key values mismatch".
void CheckMatchesCertificate(Napi::Env env, SSL_CTX* ctx, EVP_PKEY* pkey, const std::string& where) {
  X509* cert = SSL_CTX_get0_certificate(ctx);
  if (cert == nullptr) {
    throw Napi::Error::New(env, "loadEngineKey: the secure context has no certificate; create it with { cert } first");
  }
  EVP_PKEY* pub = X509_get0_pubkey(cert);
  if (pub == nullptr || EVP_PKEY_eq(pub, pkey) != 1) {
    ERR_clear_error();
    throw Napi::Error::New(
        env, "loadEngineKey: the key at " + where + " is not the private key of the context's certificate");
  }
}

// loadEngineKey(external, engine, keyId, module | undefined, pin | undefined) -> key source.
// The caller refused identifiers that carry a PIN, so errors may print `keyId`.
Napi::Value LoadEngineKey(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL_CTX* ctx = ContextArg(info, "loadEngineKey");
  const std::string engine = info[1].As<Napi::String>().Utf8Value();
  const std::string key_id = info[2].As<Napi::String>().Utf8Value();
  const std::string& shown = key_id;
  const std::string module = info[3].IsString() ? info[3].As<Napi::String>().Utf8Value() : std::string();
  std::unique_ptr<SecretString> pin;
  if (info[4].IsBuffer()) pin = std::make_unique<SecretString>(info[4].As<Napi::Buffer<char>>());

  std::lock_guard<std::mutex> lock(engines_mutex);
  ERR_clear_error();
  ENGINE* e = EngineFor(env, engine, module);
  // libp11 logs in with the PIN given last; without one it would ask its UI method. UI_null
  // answers nothing, so a server never waits on a terminal prompt for a PIN nobody types.
  if (pin && ENGINE_ctrl_cmd_string(e, "PIN", pin->c_str(), 0) != 1) {
    throw Napi::Error::New(
        env, "loadEngineKey: the engine has no PIN control; give the PIN the way this engine documents" + Reason());
  }
  EvpPkeyPtr pkey(ENGINE_load_private_key(e, key_id.c_str(), const_cast<UI_METHOD*>(UI_null()), nullptr));
  if (!pkey) {
    const unsigned long code = ERR_peek_last_error();
    const std::string why = Reason();
    std::string what = "the engine could not load the private key at " + shown;
    if (ERR_GET_LIB(code) == ERR_LIB_UI || why.find("No PIN") != std::string::npos) {
      what = "the token needs a PIN to use the key at " + shown + " and none was given (option \"pin\")";
    } else if (why.find("PIN incorrect") != std::string::npos) {
      what = "the token refused the PIN for the key at " + shown;
    } else if (why.find("PIN locked") != std::string::npos) {
      what = "the token's PIN is locked; the key at " + shown + " cannot be used until the security officer unlocks it";
    } else if (why.find("object not found") != std::string::npos) {
      // libp11 reports a login it could not attempt (no PIN) as a key it did not find.
      what = "no token and private key match " + shown + " in the PKCS#11 module" +
             (pin ? std::string() : std::string(", or the token needs a PIN and none was given (option \"pin\")")) +
             " (check the token label and the object label or id, e.g. `pkcs11-tool --module <module> "
             "--list-token-slots` and `--list-objects`)";
    } else if (why.find("load PKCS#11 module") != std::string::npos || why.find("load module") != std::string::npos) {
      what = "the engine could not load its PKCS#11 module (option \"module\", or PKCS11_MODULE_PATH)";
    }
    throw Napi::Error::New(env, "loadEngineKey: " + what + why);
  }
  CheckMatchesCertificate(env, ctx, pkey.get(), shown);
  if (SSL_CTX_use_PrivateKey(ctx, pkey.get()) != 1) {
    throw Napi::Error::New(env, "loadEngineKey: OpenSSL refused the key for this context" + Reason());
  }
  KeySourceInfo source = DescribeKey(pkey.get());
  return ToObject(env, source);
}

}  // namespace

void InitCryptoEngines(Napi::Env env, Napi::Object exports) {
  exports.Set("engines", Napi::Function::New(env, Engines, "engines"));
  exports.Set("keySource", Napi::Function::New(env, KeySource, "keySource"));
  exports.Set("loadEngineKey", Napi::Function::New(env, LoadEngineKey, "loadEngineKey"));
}

}  // namespace tsc
