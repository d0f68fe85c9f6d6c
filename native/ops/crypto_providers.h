// Crypto back ends: the OpenSSL providers loaded in Node's default library context, loading one
// more (so Node's TLS and crypto use it), the legacy ENGINE list, and what OpenSSL reports about
// itself and the CPU.
#pragma once

#include <napi.h>

#include <string>

namespace tsc {

void InitCryptoProviders(Napi::Env env, Napi::Object exports);

}  // namespace tsc

namespace tsc {

// In crypto_engines.cc, the one file built against the deprecated ENGINE API.
void InitCryptoEngines(Napi::Env env, Napi::Object exports);

// Drains OpenSSL's error queue of this thread into one readable line ("" if it was empty).
std::string DrainOpenSslErrors();

}  // namespace tsc
