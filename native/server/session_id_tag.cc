#include "server/session_id_tag.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstring>

#include "common/context_access.h"

namespace tsc {
namespace {

constexpr unsigned int kIdBytes = 32;
constexpr unsigned int kRandomBytes = 24;  // the rest is the tag: 64 bits

// The tag of an ID: the first 8 bytes of HMAC-SHA256(key, random part). False when the MAC
// cannot be computed (nothing left on OpenSSL's error queue either way).
bool ComputeTag(const ContextState& state, const unsigned char* random, unsigned char* tag) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  size_t mac_len = 0;
  ERR_set_mark();
  const bool ok = EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, state.id_tag_key.data(),
                            state.id_tag_key.size(), random, kRandomBytes, mac, sizeof(mac), &mac_len) != nullptr &&
                  mac_len >= kIdBytes - kRandomBytes;
  ERR_pop_to_mark();
  if (ok) std::memcpy(tag, mac, kIdBytes - kRandomBytes);
  OPENSSL_cleanse(mac, sizeof(mac));
  return ok;
}

// ID = random(24) | first 8 bytes of HMAC-SHA256(key, random). The JS store checks the same tag
// (src/server/fleet/session-store.ts) before it spends a Redis round trip on an ID.
int GenerateTaggedSessionId(SSL* ssl, unsigned char* id, unsigned int* id_len) {
  const ContextState* state = ContextStateOf(SSL_get_SSL_CTX(ssl));
  if (*id_len < kIdBytes || RAND_bytes(id, kRandomBytes) != 1) return 0;
  *id_len = kIdBytes;
  if (state == nullptr || !state->id_tag) return RAND_bytes(id + kRandomBytes, kIdBytes - kRandomBytes) == 1 ? 1 : 0;
  // 0 makes OpenSSL fail the handshake; an untagged ID is only a Redis lookup the others skip.
  return ComputeTag(*state, id, id + kRandomBytes) || RAND_bytes(id + kRandomBytes, kIdBytes - kRandomBytes) == 1 ? 1
                                                                                                                  : 0;
}

// sessionIdTag(handle, key16): session IDs this context issues from now on are tagged.
Napi::Value SessionIdTag(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL_CTX* ctx = AttachmentFrom(info[0]).ctx.get();
  ContextState* state = ContextStateOf(ctx);
  if (state == nullptr) throw Napi::Error::New(env, "attachment is detached");
  if (info.Length() < 2 || !info[1].IsBuffer() || info[1].As<Napi::Buffer<unsigned char>>().Length() != 16) {
    throw Napi::TypeError::New(env, "sessionIdTag: key must be a Buffer of 16 bytes");
  }
  auto key = info[1].As<Napi::Buffer<unsigned char>>();
  std::memcpy(state->id_tag_key.data(), key.Data(), state->id_tag_key.size());
  state->id_tag = true;
  SSL_CTX_set_generate_session_id(ctx, GenerateTaggedSessionId);
  return env.Undefined();
}

}  // namespace

bool HasFleetTag(const ContextState& state, const unsigned char* id, size_t id_len) {
  if (!state.id_tag || id_len != kIdBytes) return false;
  unsigned char tag[kIdBytes - kRandomBytes];
  return ComputeTag(state, id, tag) && CRYPTO_memcmp(tag, id + kRandomBytes, sizeof(tag)) == 0;
}

void ClearSessionIdTag(SSL_CTX* ctx) {
  ContextState* state = ContextStateOf(ctx);
  if (state == nullptr || !state->id_tag) return;
  SSL_CTX_set_generate_session_id(ctx, nullptr);
  state->id_tag = false;
  OPENSSL_cleanse(state->id_tag_key.data(), state->id_tag_key.size());
}

void InitSessionIdTag(Napi::Env env, Napi::Object exports) {
  exports.Set("sessionIdTag", Napi::Function::New(env, SessionIdTag, "sessionIdTag"));
}

}  // namespace tsc
