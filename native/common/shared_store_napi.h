// The shared store as JS sees it: opening one from a function's arguments and its stats as an
// object. Both sides use them: the server's `shared` option (server/session_callbacks.cc) and the
// outbound cache's (client/client_store.cc).
#pragma once

#include <napi.h>

#include <cstddef>
#include <memory>

#include "common/shared_store.h"

namespace tsc {

// Opens the store that JS arguments (path, sizeBytes, slotBytes, privateDir) starting at
// `first` name; throws a JS error naming the file when it cannot.
std::shared_ptr<SharedStore> OpenSharedStore(const Napi::CallbackInfo& info, size_t first);

// A shared store's stats as the JS object `stats().shared` reports (the path is added in JS).
Napi::Object SharedStatsObject(Napi::Env env, const SharedStoreStats& s);

// The names SharedStatsObject sets, in order: exported so src/common/stats.ts checks its list at load.
Napi::Array SharedStatFieldNames(Napi::Env env);

}  // namespace tsc
