// Self-signed ECDSA P-256 certificates made with Node's own OpenSSL, for the demo, the
// benchmark and the tests: no openssl CLI and no certificate files in the repository.
#pragma once

#include <napi.h>

namespace tsc {

void InitSelfSigned(Napi::Env env, Napi::Object exports);

}  // namespace tsc
