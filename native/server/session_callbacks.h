// Session callbacks: the get/new/remove callbacks that put a context's sessions into its shared
// store and look them up there, chained after Node's own callbacks (docs/internals.md#session-callbacks), plus the
// JS-facing functions that attach, re-hook, report, flush and detach a shared store. Decoding
// and checking the stored bytes on the get path is session_der.cc (LookupSession).
#pragma once

#include <napi.h>

namespace tsc {

void InitSessionCallbacks(Napi::Env env, Napi::Object exports);

}  // namespace tsc
