#include "common/sealed_box.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/openssl_ptr.h"

namespace tsc {
namespace {

constexpr size_t kKeyBytes = 32, kIvBytes = 12, kTagBytes = 16;

// AES-256-GCM open of `in` into `out` (same length). False, with `out` wiped, when anything does
// not verify or OpenSSL fails.
bool AesGcmOpen(const unsigned char* key, const unsigned char* iv, const unsigned char* tag, const unsigned char* aad,
                size_t aad_len, const unsigned char* in, size_t len, unsigned char* out) noexcept {
  // Fetched once (a fetch per call walks the provider store) and kept for the process's life:
  // freed at exit it could run after OpenSSL's own cleanup.
  static EVP_CIPHER* const gcm = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int n = 0;
  const bool ok =
      gcm != nullptr && ctx && len <= static_cast<size_t>(INT32_MAX) && aad_len <= static_cast<size_t>(INT32_MAX) &&
      EVP_DecryptInit_ex2(ctx.get(), gcm, key, iv, nullptr) == 1 &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &n, aad, static_cast<int>(aad_len)) == 1 &&
      EVP_DecryptUpdate(ctx.get(), out, &n, in, static_cast<int>(len)) == 1 && static_cast<size_t>(n) == len &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG, kTagBytes, const_cast<unsigned char*>(tag)) == 1 &&
      EVP_DecryptFinal_ex(ctx.get(), out + n, &n) == 1;
  if (!ok) OPENSSL_cleanse(out, len);
  return ok;
}

// sealedOpen(key, iv, tag, aad, ciphertext, out) -> boolean. Sizes are the caller's to check
// (sealed-box.ts); a wrong one here is a false, never a throw.
Napi::Value SealedOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  for (size_t i = 0; i < 6; i++) {
    if (!info[i].IsBuffer()) return Napi::Boolean::New(env, false);
  }
  auto key = info[0].As<Napi::Buffer<unsigned char>>();
  auto iv = info[1].As<Napi::Buffer<unsigned char>>();
  auto tag = info[2].As<Napi::Buffer<unsigned char>>();
  auto aad = info[3].As<Napi::Buffer<unsigned char>>();
  auto in = info[4].As<Napi::Buffer<unsigned char>>();
  auto out = info[5].As<Napi::Buffer<unsigned char>>();
  if (key.Length() != kKeyBytes || iv.Length() != kIvBytes || tag.Length() != kTagBytes ||
      out.Length() != in.Length()) {
    return Napi::Boolean::New(env, false);
  }
  return Napi::Boolean::New(
      env, AesGcmOpen(key.Data(), iv.Data(), tag.Data(), aad.Data(), aad.Length(), in.Data(), in.Length(), out.Data()));
}

}  // namespace

void InitSealedBox(Napi::Env env, Napi::Object exports) {
  exports.Set("sealedOpen", Napi::Function::New(env, SealedOpen, "sealedOpen"));
}

}  // namespace tsc
