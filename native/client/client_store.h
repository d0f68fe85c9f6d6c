// Client session store: the outbound cache's sessions in a shared store file (shared_store.h),
// so every worker of a cluster draws from one cache and a store at a path outlives a restart.
#pragma once

#include <napi.h>

namespace tsc {

void InitClientStore(Napi::Env env, Napi::Object exports);

}  // namespace tsc
