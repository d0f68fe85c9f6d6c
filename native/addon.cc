// Module entry: each concern registers its own functions. Context-aware (NODE_API_MODULE), so it
// loads in worker_threads; all process-wide state is OpenSSL's own (ex_data indexes).
#include <napi.h>
// node_version.h redefines NAPI_VERSION to the runtime's; keep the one this addon targets.
#pragma push_macro("NAPI_VERSION")
#undef NAPI_VERSION
#include <node_version.h>
#undef NAPI_VERSION
#pragma pop_macro("NAPI_VERSION")

#include "client/client_store.h"
#include "common/context_access.h"
#include "common/sealed_box.h"
#include "common/session_id_context.h"
#include "common/shared_store_napi.h"
#include "ops/crypto_providers.h"
#include "ops/self_signed.h"
#include "ops/session_inspect.h"
#include "server/cache_controls.h"
#include "server/fleet_replication.h"
#include "server/resumption_stats.h"
#include "server/session_callbacks.h"
#include "server/session_id_tag.h"
#include "server/ticket_ring_addon.h"

namespace tsc {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InitContextAccess(env, exports);
  InitCacheControls(env, exports);
  InitSelfSigned(env, exports);
  InitTicketRing(env, exports);
  InitSessionInspect(env, exports);
  InitCryptoProviders(env, exports);
  InitSessionCallbacks(env, exports);
  InitClientStore(env, exports);
  InitSessionIdTag(env, exports);
  InitFleetReplication(env, exports);
  InitSessionIdContext(env, exports);
  InitResumptionStats(env, exports);
  InitSealedBox(env, exports);
  exports.Set("sharedStatFields", SharedStatFieldNames(env));
  // The ABI and Node release whose headers this binary was compiled against: the loader compares
  // them with the running node before any other call (the addon reads V8 objects directly).
  exports.Set("builtForAbi", Napi::Number::New(env, NODE_MODULE_VERSION));
  exports.Set("builtForNode", Napi::String::New(env, NODE_VERSION));
  exports.Set("opensslVersion", Napi::String::New(env, OpenSSL_version(OPENSSL_VERSION)));
  return exports;
}

}  // namespace tsc

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return tsc::Init(env, exports); }

NODE_API_MODULE(tls_resumption, InitModule)
