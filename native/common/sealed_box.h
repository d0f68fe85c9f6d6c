// The opening half of src/common/sealed-box.ts (AES-256-GCM), done here because Node's Decipher
// cannot be made to leave no plaintext behind: it decrypts into a buffer one byte longer than the
// output and then moves the output to a fresh one, freeing the first (with the plaintext in it:
// ticket keys, session master secrets) unwiped. Here OpenSSL writes the plaintext once, straight
// into the caller's buffer, which the caller wipes after use.
#pragma once

#include <napi.h>

namespace tsc {

void InitSealedBox(Napi::Env env, Napi::Object exports);

}  // namespace tsc
