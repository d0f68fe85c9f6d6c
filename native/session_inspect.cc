// Session inspection: d2i_SSL_SESSION over a client session's DER and the SSL_SESSION_get_*
// readers the probe reports (ticket lifetime hint, ticket present, session ID length, protocol).
// Owns nothing past one call: the decoded session lives in an SslSessionPtr.
#include "session_inspect.h"

#include <openssl/ssl.h>

#include "openssl_ptr.h"

namespace tsc {
namespace {

// inspectSession(der: Buffer) -> { protocol, lifetimeHintSeconds, hasTicket, sessionIdLength,
// timeoutSeconds, maxEarlyData, ticket }, or null when the bytes are not an SSL_SESSION.
Napi::Value InspectSession(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsBuffer()) throw Napi::TypeError::New(env, "inspectSession: expected a Buffer");
  auto der = info[0].As<Napi::Buffer<unsigned char>>();
  const unsigned char* p = der.Data();
  SslSessionPtr session(d2i_SSL_SESSION(nullptr, &p, static_cast<long>(der.Length())));
  if (!session) return env.Null();
  unsigned int id_len = 0;
  SSL_SESSION_get_id(session.get(), &id_len);
  const int version = SSL_SESSION_get_protocol_version(session.get());
  const char* protocol = version == TLS1_3_VERSION   ? "TLSv1.3"
                         : version == TLS1_2_VERSION ? "TLSv1.2"
                         : version == TLS1_1_VERSION ? "TLSv1.1"
                         : version == TLS1_VERSION   ? "TLSv1"
                                                     : "unknown";
  Napi::Object out = Napi::Object::New(env);
  out.Set("protocol", Napi::String::New(env, protocol));
  out.Set("lifetimeHintSeconds",
          Napi::Number::New(env, static_cast<double>(SSL_SESSION_get_ticket_lifetime_hint(session.get()))));
  out.Set("hasTicket", Napi::Boolean::New(env, SSL_SESSION_has_ticket(session.get()) == 1));
  out.Set("sessionIdLength", Napi::Number::New(env, id_len));
  out.Set("timeoutSeconds", Napi::Number::New(env, static_cast<double>(SSL_SESSION_get_timeout(session.get()))));
  out.Set("maxEarlyData", Napi::Number::New(env, SSL_SESSION_get_max_early_data(session.get())));
  // The ticket is what the server sent in clear on the wire (encrypted under its key, or a
  // stateful session ID in TLS 1.3): the probe compares tickets to see whether one was renewed.
  const unsigned char* tick = nullptr;
  size_t tick_len = 0;
  SSL_SESSION_get0_ticket(session.get(), &tick, &tick_len);
  out.Set("ticket", Napi::Buffer<unsigned char>::Copy(env, tick_len > 0 ? tick : reinterpret_cast<const unsigned char*>(""), tick_len));
  return out;
}

}  // namespace

void InitSessionInspect(Napi::Env env, Napi::Object exports) {
  exports.Set("inspectSession", Napi::Function::New(env, InspectSession, "inspectSession"));
}

}  // namespace tsc
