// Session inspection: the JS function over ReadSessionFacts (session_der.cc: d2i_SSL_SESSION of
// a client session's DER and the SSL_SESSION_get_* readers the probe reports: ticket lifetime
// hint, ticket present, session ID length, protocol). Owns nothing past one call.
#include "ops/session_inspect.h"

#include <cstring>

#include "common/session_der.h"

namespace tsc {
namespace {

// Node 22.23, 24.22 and 26.12 hand clients their session as '\0nodejs:tls:session:1\0', a 16-bit
// big-endian servername length, the servername, then the DER (lib/_tls_wrap.js
// wrapSessionState: a session is only reused for the name it was authenticated for); Node 20
// hands out the bare DER. Both are accepted here.
void StripNodeSessionEnvelope(const unsigned char** data, size_t* len) {
  static const char kPrefix[] = "\0nodejs:tls:session:1\0";
  const size_t prefix_len = sizeof(kPrefix) - 1;
  if (*len < prefix_len + 2 || std::memcmp(*data, kPrefix, prefix_len) != 0) return;
  const size_t name_len = (static_cast<size_t>((*data)[prefix_len]) << 8) | (*data)[prefix_len + 1];
  const size_t header = prefix_len + 2 + name_len;
  if (*len < header) return;
  *data += header;
  *len -= header;
}

// inspectSession(der: Buffer) -> { protocol, lifetimeHintSeconds, hasTicket, sessionIdLength,
// timeoutSeconds, maxEarlyData, ticket }, or null when the bytes are not an SSL_SESSION.
Napi::Value InspectSession(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsBuffer()) throw Napi::TypeError::New(env, "inspectSession: expected a Buffer");
  auto der = info[0].As<Napi::Buffer<unsigned char>>();
  const unsigned char* data = der.Data();
  size_t len = der.Length();
  StripNodeSessionEnvelope(&data, &len);
  SessionFacts facts;
  if (!ReadSessionFacts(data, len, &facts)) return env.Null();
  Napi::Object out = Napi::Object::New(env);
  out.Set("protocol", Napi::String::New(env, facts.protocol));
  out.Set("lifetimeHintSeconds", Napi::Number::New(env, static_cast<double>(facts.lifetime_hint_seconds)));
  out.Set("hasTicket", Napi::Boolean::New(env, facts.has_ticket));
  out.Set("sessionIdLength", Napi::Number::New(env, facts.session_id_length));
  out.Set("timeoutSeconds", Napi::Number::New(env, static_cast<double>(facts.timeout_seconds)));
  out.Set("maxEarlyData", Napi::Number::New(env, facts.max_early_data));
  const unsigned char* tick = facts.ticket.empty() ? reinterpret_cast<const unsigned char*>("") : facts.ticket.data();
  out.Set("ticket", Napi::Buffer<unsigned char>::Copy(env, tick, facts.ticket.size()));
  const unsigned char* sid_ctx = facts.session_id_context.empty() ? tick : facts.session_id_context.data();
  out.Set("sessionIdContext", Napi::Buffer<unsigned char>::Copy(env, sid_ctx, facts.session_id_context.size()));
  return out;
}

}  // namespace

void InitSessionInspect(Napi::Env env, Napi::Object exports) {
  exports.Set("inspectSession", Napi::Function::New(env, InspectSession, "inspectSession"));
}

}  // namespace tsc
