// Crypto providers: lists the providers active in Node's default OpenSSL library context
// (OSSL_PROVIDER_do_all + OSSL_PROVIDER_get_params), loads one more into that same context so
// Node's TLS and crypto see it, and reports OpenSSL's version strings and CPU capability vector.
//
// A provider this file loads stays loaded for the life of the process, on purpose: that is what
// an `openssl.cnf` activation does, and unloading it under live TLS contexts that fetched
// algorithms from it would pull code out from under them. So the OSSL_PROVIDER* handle is handed
// to the library context and not owned here.
#include "ops/crypto_providers.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/provider.h>

#include <string>
#include <vector>

namespace tsc {

std::string DrainOpenSslErrors() {
  std::string out;
  const char* data = nullptr;
  int flags = 0;
  unsigned long code;
  while ((code = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
    if ((flags & ERR_TXT_STRING) != 0 && data != nullptr && data[0] != '\0') {
      out += " (";
      out += data;
      out += ")";
    }
  }
  return out;
}

namespace {

struct ProviderInfo {
  std::string name;         // the name it was loaded by ("default", "legacy", a module name)
  std::string description;  // what it calls itself ("OpenSSL Default Provider")
  std::string version;
  std::string buildinfo;
  bool status = false;
};

// Reads the provider's self-description. Fields a provider does not answer stay empty.
ProviderInfo DescribeProvider(OSSL_PROVIDER* prov) {
  ProviderInfo info;
  info.name = OSSL_PROVIDER_get0_name(prov);
  const char* name = nullptr;
  const char* version = nullptr;
  const char* buildinfo = nullptr;
  unsigned int status = 0;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_ptr(OSSL_PROV_PARAM_NAME, const_cast<char**>(&name), 0),
      OSSL_PARAM_construct_utf8_ptr(OSSL_PROV_PARAM_VERSION, const_cast<char**>(&version), 0),
      OSSL_PARAM_construct_utf8_ptr(OSSL_PROV_PARAM_BUILDINFO, const_cast<char**>(&buildinfo), 0),
      OSSL_PARAM_construct_uint(OSSL_PROV_PARAM_STATUS, &status),
      OSSL_PARAM_construct_end(),
  };
  if (OSSL_PROVIDER_get_params(prov, params) == 1) {
    if (version != nullptr) info.version = version;
    if (buildinfo != nullptr) info.buildinfo = buildinfo;
    // Providers that do not report a status are up if they are listed at all.
    info.status = OSSL_PARAM_modified(&params[3]) ? status != 0 : true;
    if (name != nullptr) info.description = name;
  } else {
    ERR_clear_error();
    info.status = true;
  }
  return info;
}

Napi::Object ToObject(Napi::Env env, const ProviderInfo& p) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", Napi::String::New(env, p.name));
  o.Set("description", Napi::String::New(env, p.description));
  o.Set("version", Napi::String::New(env, p.version));
  o.Set("buildInfo", Napi::String::New(env, p.buildinfo));
  o.Set("active", Napi::Boolean::New(env, p.status));
  return o;
}

int CollectProvider(OSSL_PROVIDER* prov, void* arg) {
  static_cast<std::vector<ProviderInfo>*>(arg)->push_back(DescribeProvider(prov));
  return 1;
}

// providers() -> [{ name, version, buildInfo, active }] in Node's default library context.
Napi::Value Providers(const Napi::CallbackInfo& info) {
  std::vector<ProviderInfo> list;
  OSSL_PROVIDER_do_all(nullptr, CollectProvider, &list);
  Napi::Array out = Napi::Array::New(info.Env(), list.size());
  for (size_t i = 0; i < list.size(); i++) out.Set(static_cast<uint32_t>(i), ToObject(info.Env(), list[i]));
  return out;
}

// loadProvider(name, path | undefined) -> the loaded provider's description. With a path, the
// module is looked up in that directory: OpenSSL 3.0 has no per-call path, so the default
// search path is set for the one call and cleared after (3.0 has no getter to save an earlier
// value; Node itself never sets one). Built-in providers (Node's OpenSSL builds "legacy" in)
// are found by name before any directory is searched.
Napi::Value LoadProvider(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  const bool has_path = info[1].IsString();
  const std::string path = has_path ? info[1].As<Napi::String>().Utf8Value() : std::string();
  ERR_clear_error();
  // Loading a provider explicitly turns off OpenSSL's fallback activation of "default". Ask for
  // "default" first so it is active before that happens and Node's crypto keeps working.
  OSSL_PROVIDER_available(nullptr, "default");
  if (has_path && OSSL_PROVIDER_set_default_search_path(nullptr, path.c_str()) != 1) {
    throw Napi::Error::New(env, "loadProvider: OpenSSL refused the search path: " + DrainOpenSslErrors());
  }
  OSSL_PROVIDER* prov = OSSL_PROVIDER_load(nullptr, name.c_str());
  if (has_path) OSSL_PROVIDER_set_default_search_path(nullptr, nullptr);
  if (prov == nullptr) {
    std::string where =
        has_path ? " from directory \"" + path + "\"" : std::string(" (built in, or from the modules directory)");
    std::string why = DrainOpenSslErrors();
    throw Napi::Error::New(env, "loadProvider: OpenSSL could not load provider \"" + name + "\"" + where +
                                    (why.empty() ? std::string() : ": " + why));
  }
  return ToObject(env, DescribeProvider(prov));
}

// opensslInfo() -> OpenSSL_version() strings of the OpenSSL inside Node.
Napi::Value OpenSslInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("version", OpenSSL_version(OPENSSL_VERSION));
  o.Set("builtOn", OpenSSL_version(OPENSSL_BUILT_ON));
  o.Set("platform", OpenSSL_version(OPENSSL_PLATFORM));
  o.Set("dir", OpenSSL_version(OPENSSL_DIR));
  o.Set("enginesDir", OpenSSL_version(OPENSSL_ENGINES_DIR));
  o.Set("modulesDir", OpenSSL_version(OPENSSL_MODULES_DIR));
  o.Set("cpuInfo", OpenSSL_version(OPENSSL_CPU_INFO));
  return o;
}

}  // namespace

void InitCryptoProviders(Napi::Env env, Napi::Object exports) {
  exports.Set("providers", Napi::Function::New(env, Providers, "providers"));
  exports.Set("loadProvider", Napi::Function::New(env, LoadProvider, "loadProvider"));
  exports.Set("opensslInfo", Napi::Function::New(env, OpenSslInfo, "opensslInfo"));
  InitCryptoEngines(env, exports);
}

}  // namespace tsc
