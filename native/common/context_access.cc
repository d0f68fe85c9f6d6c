#include "common/context_access.h"

#include <openssl/crypto.h>
#include <v8.h>

#include <cstring>
#include <mutex>

namespace tsc {

bool ServerPskKeSupported() { return OpenSSL_version_num() >= 0x30300000L; }
namespace {

int state_index = -1;
std::once_flag state_index_once;

void FreeContextState(void* /*parent*/, void* ptr, CRYPTO_EX_DATA* /*ad*/, int /*idx*/, long /*argl*/, void* /*argp*/) {
  std::unique_ptr<ContextState> owned(static_cast<ContextState*>(ptr));
}

int StateIndex() {
  std::call_once(state_index_once,
                 [] { state_index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, FreeContextState); });
  return state_index;
}

Napi::Value Attach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL_CTX* ctx = info.Length() > 0 ? SslCtxFromExternal(info.Env(), info[0]) : nullptr;
  if (ctx == nullptr) {
    throw Napi::TypeError::New(env, "attach: expected the `_external` of a tls.SecureContext");
  }
  auto attachment = std::make_unique<Attachment>();
  attachment->ctx = SslCtxUpRef(ctx);
  if (!attachment->ctx || EnsureContextState(ctx) == nullptr) {
    throw Napi::Error::New(env, "attach: could not take a reference on the SSL_CTX");
  }
  auto external = Napi::External<Attachment>::New(
      env, attachment.release(), [](Napi::Env, Attachment* a) { std::unique_ptr<Attachment> owned(a); });
  napi_type_tag_object(env, external, &kAttachmentTag);
  return external;
}

// Same SSL_CTX behind two externals? Lets JS tell whether setSecureContext really changed it.
Napi::Value ContextId(const Napi::CallbackInfo& info) {
  SSL_CTX* ctx = info.Length() > 0 ? SslCtxFromExternal(info.Env(), info[0]) : nullptr;
  if (ctx == nullptr) throw Napi::TypeError::New(info.Env(), "contextId: expected a SecureContext `_external`");
  return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(reinterpret_cast<uintptr_t>(ctx)));
}

}  // namespace

SSL_CTX* SslCtxFromExternal(napi_env env, napi_value value) {
  if (value == nullptr) return nullptr;
  for (const napi_type_tag* tag : {&kAttachmentTag, &kRingTag}) {
    bool ours = false;
    if (napi_check_object_type_tag(env, value, tag, &ours) == napi_ok && ours) return nullptr;
  }
  v8::Local<v8::Value> local;
  static_assert(sizeof(local) == sizeof(value), "napi_value must be a v8::Local<v8::Value>");
  std::memcpy(static_cast<void*>(&local), &value, sizeof(value));
  if (local.IsEmpty() || !local->IsExternal()) return nullptr;
#if V8_MAJOR_VERSION >= 14
  // Node creates the SecureContext's External untagged; V8 14 (Node 26) deprecates the tagless read.
  return static_cast<SSL_CTX*>(local.As<v8::External>()->Value(v8::kExternalPointerTypeTagDefault));
#else
  return static_cast<SSL_CTX*>(local.As<v8::External>()->Value());
#endif
}

ContextState* ContextStateOf(const SSL_CTX* ctx) {
  int idx = StateIndex();
  if (ctx == nullptr || idx < 0) return nullptr;
  return static_cast<ContextState*>(SSL_CTX_get_ex_data(ctx, idx));
}

ContextState* EnsureContextState(SSL_CTX* ctx) {
  int idx = StateIndex();
  if (idx < 0) return nullptr;
  if (ContextState* existing = ContextStateOf(ctx)) return existing;
  auto state = std::make_unique<ContextState>();
  NodeSettings& node = state->node;
  node.mode = SSL_CTX_get_session_cache_mode(ctx);
  node.size = SSL_CTX_sess_get_cache_size(ctx);
  node.timeout = SSL_CTX_get_timeout(ctx);
  node.no_ticket = (SSL_CTX_get_options(ctx) & SSL_OP_NO_TICKET) != 0;
  node.num_tickets = SSL_CTX_get_num_tickets(ctx);
  node.dhe_kex_options = SSL_CTX_get_options(ctx) & kNoDheKexOptions;
  node.get_cb = SSL_CTX_sess_get_get_cb(ctx);
  node.new_cb = SSL_CTX_sess_get_new_cb(ctx);
  node.remove_cb = SSL_CTX_sess_get_remove_cb(ctx);
  if (SSL_CTX_set_ex_data(ctx, idx, state.get()) != 1) return nullptr;
  return state.release();
}

void DropContextState(SSL_CTX* ctx) {
  int idx = StateIndex();
  std::unique_ptr<ContextState> owned(ContextStateOf(ctx));
  if (owned) SSL_CTX_set_ex_data(ctx, idx, nullptr);
}

Attachment& AttachmentFrom(const Napi::Value& value) {
  bool tagged = false;
  if (value.IsExternal()) napi_check_object_type_tag(value.Env(), value, &kAttachmentTag, &tagged);
  if (!tagged) throw Napi::TypeError::New(value.Env(), "expected an attachment handle");
  Attachment* a = value.As<Napi::External<Attachment>>().Data();
  if (a == nullptr || !a->ctx) throw Napi::Error::New(value.Env(), "attachment is detached");
  return *a;
}

ContextState& LiveStateFrom(const Napi::Value& value, SSL_CTX** ctx_out) {
  SSL_CTX* ctx = AttachmentFrom(value).ctx.get();
  ContextState* state = ContextStateOf(ctx);
  if (state == nullptr) throw Napi::Error::New(value.Env(), "attachment is detached");
  *ctx_out = ctx;
  return *state;
}

void InitContextAccess(Napi::Env env, Napi::Object exports) {
  exports.Set("attach", Napi::Function::New(env, Attach, "attach"));
  exports.Set("contextId", Napi::Function::New(env, ContextId, "contextId"));
}

}  // namespace tsc
