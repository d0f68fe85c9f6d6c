// Cache controls: OpenSSL's server session cache (mode, size, timeout, flush), the ticket
// switches (SSL_OP_NO_TICKET, TLS 1.3 ticket count), the SSL_CTX_sess_* counters, and detach,
// which puts back every setting recorded in NodeSettings.
#pragma once

#include <napi.h>

namespace tsc {

void InitCacheControls(Napi::Env env, Napi::Object exports);

}  // namespace tsc
