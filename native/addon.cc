// Module entry: each concern registers its own functions. Context-aware (NODE_API_MODULE), so it
// loads in worker_threads; all process-wide state is OpenSSL's own (ex_data indexes).
#include <napi.h>

#include "cache_controls.h"
#include "context_access.h"
#include "crypto_providers.h"
#include "self_signed.h"
#include "ticket_ring_addon.h"
#include "session_inspect.h"
#include "session_callbacks.h"

namespace tsc {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InitContextAccess(env, exports);
  InitCacheControls(env, exports);
  InitSelfSigned(env, exports);
  InitTicketRing(env, exports);
  InitSessionInspect(env, exports);
  InitCryptoProviders(env, exports);
  InitSessionCallbacks(env, exports);
  InitSharedStoreBench(env, exports);
  exports.Set("opensslVersion", Napi::String::New(env, OpenSSL_version(OPENSSL_VERSION)));
  return exports;
}

}  // namespace tsc

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return tsc::Init(env, exports); }

NODE_API_MODULE(tls_resumption, InitModule)
