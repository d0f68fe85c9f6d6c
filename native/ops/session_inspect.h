// Session inspection for the probe: decodes the DER a Node TLS client hands out ('session'
// event, socket.getSession()) back into an SSL_SESSION to read what OpenSSL recorded about it.
#pragma once

#include <napi.h>

namespace tsc {

void InitSessionInspect(Napi::Env env, Napi::Object exports);

}  // namespace tsc
