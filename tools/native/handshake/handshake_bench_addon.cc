// The handshake benchmark module (tools/src/bench/psk-ke-handshake.ts): runs one phase of
// memory-BIO handshakes synchronously on the calling thread against the SSL_CTX of a Node
// SecureContext that the package is attached to, and hands back the server's CPU per handshake.
#include <napi.h>
#include <openssl/crypto.h>

#include <stdexcept>
#include <string>

#include "common/context_access.h"
#include "common/openssl_ptr.h"
#include "memory_handshake.h"

namespace tsc::handshake_bench {
namespace {

// Nanoseconds per handshake of one part, as a Float64Array the JS side sums and sorts.
Napi::Float64Array Column(Napi::Env env, const PhaseResult& r, int64_t Sample::*part) {
  Napi::Float64Array out = Napi::Float64Array::New(env, r.samples.size());
  for (size_t i = 0; i < r.samples.size(); i++) out[i] = static_cast<double>(r.samples[i].*part);
  return out;
}

// runPhase(secureContextExternal, { mode, handshakes, groups, serverName })
Napi::Value RunPhaseJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL_CTX* ctx = info.Length() > 0 ? SslCtxFromExternal(env, info[0]) : nullptr;
  if (ctx == nullptr) throw Napi::TypeError::New(env, "runPhase: expected a SecureContext `_external`");
  if (info.Length() < 2 || !info[1].IsObject()) throw Napi::TypeError::New(env, "runPhase: expected options");
  Napi::Object o = info[1].As<Napi::Object>();
  PhaseOptions options;
  const std::string mode = o.Get("mode").ToString();
  if (!ParseMode(mode, &options.mode)) throw Napi::RangeError::New(env, "runPhase: unknown mode '" + mode + "'");
  options.handshakes = o.Get("handshakes").ToNumber().Int32Value();
  if (o.Get("groups").IsString()) options.groups = o.Get("groups").ToString();
  if (o.Get("serverName").IsString()) options.server_name = o.Get("serverName").ToString();
  // The SecureContext may be collected while the phase runs on a context only we still point at.
  SslCtxPtr held = SslCtxUpRef(ctx);
  if (!held) throw Napi::Error::New(env, "runPhase: SSL_CTX_up_ref failed");
  PhaseResult r;
  try {
    r = RunPhase(held.get(), options);
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("handshakes", static_cast<double>(r.samples.size()));
  out.Set("resumed", static_cast<double>(r.resumed));
  out.Set("keyShare", static_cast<double>(r.key_share));
  out.Set("preSharedKey", static_cast<double>(r.pre_shared_key));
  out.Set("ticketsReceived", static_cast<double>(r.tickets_received));
  Napi::Array groups = Napi::Array::New(env, r.server_groups.size());
  for (size_t i = 0; i < r.server_groups.size(); i++) groups.Set(static_cast<uint32_t>(i), r.server_groups[i]);
  out.Set("serverGroups", groups);
  Napi::Object nanos = Napi::Object::New(env);
  nanos.Set("sslNew", Column(env, r, &Sample::ssl_new));
  nanos.Set("firstFlight", Column(env, r, &Sample::first_flight));
  nanos.Set("secondFlight", Column(env, r, &Sample::second_flight));
  nanos.Set("sslFree", Column(env, r, &Sample::ssl_free));
  out.Set("nanos", nanos);
  return out;
}

Napi::Value TimerOverheadNanosJs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), TimerOverheadNanos());
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("runPhase", Napi::Function::New(env, RunPhaseJs, "runPhase"));
  exports.Set("timerOverheadNanos", Napi::Function::New(env, TimerOverheadNanosJs, "timerOverheadNanos"));
  exports.Set("opensslVersion", Napi::String::New(env, OpenSSL_version(OPENSSL_VERSION)));
  return exports;
}

}  // namespace tsc::handshake_bench

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return tsc::handshake_bench::Init(env, exports); }

NODE_API_MODULE(tls_resumption_handshake_bench, InitModule)
