// Session callbacks: the get/new/remove callbacks that put a context's sessions into its shared
// store and look them up there, chained after Node's own callbacks (docs/internals.md#session-callbacks), plus the
// JS-facing functions that attach, re-hook, report, flush and detach a shared store. Decoding
// and checking the stored bytes on the get path is session_der.cc (LookupSession).
#pragma once

#include <napi.h>
#include <openssl/ssl.h>

namespace tsc {

struct ContextState;

// Puts our callbacks back if Node replaced them (it does on every new TLSWrap), remembering
// Node's so ours can defer to them. Cheap: two pointer compares when nothing changed.
void InstallSessionCallbacks(SSL_CTX* ctx, ContextState& state);

// Node's get/new callbacks back on the context (nothing of ours needs them any more).
void RestoreNodeSessionCallbacks(SSL_CTX* ctx, const ContextState& state);

void InitSessionCallbacks(Napi::Env env, Napi::Object exports);

}  // namespace tsc
