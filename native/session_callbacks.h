// Session callbacks: the get/new/remove callbacks that put a context's sessions into its shared
// store and look them up there, chained after Node's own callbacks (docs/internals.md#session-callbacks), plus the
// JS-facing functions that attach, re-hook, report, flush and detach a shared store. Decoding
// and checking the stored bytes on the get path is session_der.cc (LookupSession).
#pragma once

#include <napi.h>

#include <memory>

#include "shared_store.h"

namespace tsc {

// Opens the store that JS arguments (path, sizeBytes, slotBytes, privateDir) starting at
// `first` name; throws a JS error naming the file when it cannot.
std::shared_ptr<SharedStore> OpenSharedStore(const Napi::CallbackInfo& info, size_t first);

// A shared store's stats as the JS object `stats().shared` (and the client cache's) reports.
Napi::Object SharedStatsObject(Napi::Env env, const SharedStoreStats& s);

void InitSessionCallbacks(Napi::Env env, Napi::Object exports);

}  // namespace tsc
