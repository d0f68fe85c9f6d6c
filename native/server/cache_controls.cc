#include "server/cache_controls.h"

#include <openssl/err.h>

#include <ctime>
#include <vector>

#include "common/context_access.h"
#include "common/session_id_context.h"
#include "server/node_ticket_callback.h"
#include "server/resumption_stats.h"
#include "server/session_id_tag.h"

namespace tsc {
namespace {

// The mode bits a user may add through the `mode` escape hatch; the SERVER bit is ours to set.
constexpr long kUserModeBits =
    SSL_SESS_CACHE_NO_AUTO_CLEAR | SSL_SESS_CACHE_NO_INTERNAL_LOOKUP | SSL_SESS_CACHE_NO_INTERNAL_STORE;

// Replaces the context's session-ID context, first saving the one Node set (once per state).
bool ReplaceSessionIdContext(SSL_CTX* ctx, ContextState& state, const unsigned char* bytes, size_t len) {
  if (len > SSL_MAX_SID_CTX_LENGTH) return false;
  if (!state.node.sid_ctx_saved) {
    if (!ReadSessionIdContext(ctx, &state.node.sid_ctx)) return false;
    state.node.sid_ctx_saved = true;
  }
  return SSL_CTX_set_session_id_context(ctx, bytes, static_cast<unsigned int>(len)) == 1;
}

void RestoreSessionIdContext(SSL_CTX* ctx, ContextState& state) {
  state.per_connection_sid_ctx.clear();
  if (!state.node.sid_ctx_saved) return;
  SSL_CTX_set_session_id_context(ctx, state.node.sid_ctx.data(), static_cast<unsigned int>(state.node.sid_ctx.size()));
}

// Applies `value` (a Buffer: our context; null/undefined: Node's again) to one context.
// `per_connection`: also pin the bytes on every connection (session_id_context.h).
void ApplySessionIdContextValue(Napi::Env env, SSL_CTX* ctx, ContextState& state, const Napi::Value& value,
                                bool per_connection) {
  if (value.IsNull() || value.IsUndefined()) {
    RestoreSessionIdContext(ctx, state);
    return;
  }
  if (!value.IsBuffer()) throw Napi::TypeError::New(env, "sessionIdContext must be a Buffer");
  auto buf = value.As<Napi::Buffer<unsigned char>>();
  if (buf.Length() < 1 || buf.Length() > SSL_MAX_SID_CTX_LENGTH) {
    throw Napi::RangeError::New(env, "sessionIdContext must be 1 to 32 bytes");
  }
  if (!ReplaceSessionIdContext(ctx, state, buf.Data(), buf.Length())) {
    throw Napi::Error::New(env, "could not read or set the context's session-ID context");
  }
  if (per_connection) {
    state.per_connection_sid_ctx.assign(buf.Data(), buf.Data() + buf.Length());
  } else {
    state.per_connection_sid_ctx.clear();
  }
}

ContextState& StateOf(Napi::Env env, SSL_CTX* ctx) {
  ContextState* state = ContextStateOf(ctx);
  if (state == nullptr) throw Napi::Error::New(env, "attachment is detached");
  return *state;
}

// applyCache(handle, enabled, modeFlags, size, timeoutSeconds). Ranges are checked in TypeScript;
// this side only refuses what would corrupt the context.
Napi::Value ApplyCache(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL_CTX* ctx = AttachmentFrom(info[0]).ctx.get();
  const NodeSettings& node = StateOf(env, ctx).node;
  const bool enabled = info[1].ToBoolean();
  const long flags = static_cast<long>(info[2].ToNumber().Int64Value()) & kUserModeBits;
  const long size = static_cast<long>(info[3].ToNumber().Int64Value());
  const long timeout = static_cast<long>(info[4].ToNumber().Int64Value());
  if (size < 0 || timeout <= 0) throw Napi::RangeError::New(env, "applyCache: size or timeout out of range");
  // Keep Node's CLIENT bit: it only matters to client contexts and is not ours to change.
  const long mode = enabled ? (node.mode & SSL_SESS_CACHE_CLIENT) | SSL_SESS_CACHE_SERVER | flags : node.mode;
  SSL_CTX_set_session_cache_mode(ctx, mode);
  SSL_CTX_sess_set_cache_size(ctx, size);
  SSL_CTX_set_timeout(ctx, timeout);
  return env.Undefined();
}

// applyTickets(handle, enabled, tls13Count, pskKe, tls13CountOnResumption): with pskKe, a resumed TLS 1.3 handshake
// skips the (EC)DHE exchange when the client offers psk_ke (OpenSSL 3.3+; TypeScript checks the
// version first). Without it, the two options go back to what Node had.
Napi::Value ApplyTickets(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL_CTX* ctx = AttachmentFrom(info[0]).ctx.get();
  ContextState& state = StateOf(env, ctx);
  const NodeSettings& node = state.node;
  const bool enabled = info[1].ToBoolean();
  const int64_t count = info[2].ToNumber().Int64Value();
  const bool psk_ke = info[3].ToBoolean();
  const int64_t on_resumption = info[4].ToNumber().Int64Value();
  if (count < 0) throw Napi::RangeError::New(env, "applyTickets: tls13Count out of range");
  if (on_resumption < 0 || on_resumption > 64)
    throw Napi::RangeError::New(env, "applyTickets: tls13CountOnResumption out of range");
  if (psk_ke && !ServerPskKeSupported()) throw Napi::Error::New(env, "applyTickets: pskKe needs OpenSSL 3.3 or later");
  SSL_CTX_clear_options(ctx, kNoDheKexOptions & ~node.dhe_kex_options);
  SSL_CTX_set_options(ctx, psk_ke ? kNoDheKexOptions : node.dhe_kex_options);
  if (enabled) {
    SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
  } else {
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  }
  SSL_CTX_set_num_tickets(ctx, static_cast<size_t>(count));
  state.tls13_count_on_resumption.store(static_cast<int>(on_resumption), std::memory_order_relaxed);
  return env.Undefined();
}

// OpenSSL's SSL_CTX_sess_* counters in the order and under the names of CacheCounters
// (src/common/stats.ts), which compares this list with its own at load.
struct CacheCounter {
  const char* name;
  long (*read)(SSL_CTX*);
};
constexpr CacheCounter kCacheCounters[] = {
    {"sessions", [](SSL_CTX* c) { return SSL_CTX_sess_number(c); }},
    {"hits", [](SSL_CTX* c) { return SSL_CTX_sess_hits(c); }},
    {"misses", [](SSL_CTX* c) { return SSL_CTX_sess_misses(c); }},
    {"timeouts", [](SSL_CTX* c) { return SSL_CTX_sess_timeouts(c); }},
    {"cacheFull", [](SSL_CTX* c) { return SSL_CTX_sess_cache_full(c); }},
    {"callbackHits", [](SSL_CTX* c) { return SSL_CTX_sess_cb_hits(c); }},
    {"accepts", [](SSL_CTX* c) { return SSL_CTX_sess_accept(c); }},
    {"acceptsGood", [](SSL_CTX* c) { return SSL_CTX_sess_accept_good(c); }},
    {"acceptsRenegotiate", [](SSL_CTX* c) { return SSL_CTX_sess_accept_renegotiate(c); }},
    {"connects", [](SSL_CTX* c) { return SSL_CTX_sess_connect(c); }},
    {"connectsGood", [](SSL_CTX* c) { return SSL_CTX_sess_connect_good(c); }},
    {"connectsRenegotiate", [](SSL_CTX* c) { return SSL_CTX_sess_connect_renegotiate(c); }},
};

Napi::Value Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL_CTX* ctx = AttachmentFrom(info[0]).ctx.get();
  Napi::Object out = Napi::Object::New(env);
  auto put = [&](const char* name, long value) { out.Set(name, Napi::Number::New(env, static_cast<double>(value))); };
  for (const CacheCounter& c : kCacheCounters) put(c.name, c.read(ctx));
  put("mode", SSL_CTX_get_session_cache_mode(ctx));
  put("size", SSL_CTX_sess_get_cache_size(ctx));
  put("timeoutSeconds", SSL_CTX_get_timeout(ctx));
  out.Set("ticketsEnabled", Napi::Boolean::New(env, (SSL_CTX_get_options(ctx) & SSL_OP_NO_TICKET) == 0));
  put("tls13Count", static_cast<long>(SSL_CTX_get_num_tickets(ctx)));
  out.Set("pskKe", Napi::Boolean::New(env, (SSL_CTX_get_options(ctx) & kNoDheKexOptions) == kNoDheKexOptions));
  return out;
}

// flush(handle, all): SSL_CTX_flush_sessions with time 0 drops every session, with now drops
// the expired ones. Returns how many went.
Napi::Value Flush(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL_CTX* ctx = AttachmentFrom(info[0]).ctx.get();
  const bool all = info[1].ToBoolean();
  const long before = SSL_CTX_sess_number(ctx);
  SSL_CTX_flush_sessions(ctx, all ? 0 : static_cast<long>(std::time(nullptr)));
  return Napi::Number::New(env, static_cast<double>(before - SSL_CTX_sess_number(ctx)));
}

// setSessionIdContext(handle, bytes | null, perConnection): our session-ID context on the attached
// context, or (null) the one Node had set.
Napi::Value SetSessionIdContext(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL_CTX* ctx = AttachmentFrom(info[0]).ctx.get();
  ApplySessionIdContextValue(env, ctx, StateOf(env, ctx), info[1], info[2].ToBoolean());
  return env.Undefined();
}

// sessionIdContextHang(secureContextExternal, bytes | null, perConnection): the same on a context an SNI
// callback may switch a connection to (it gets state of its own for Node's bytes).
Napi::Value SessionIdContextHang(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL_CTX* ctx = info.Length() > 0 ? SslCtxFromExternal(env, info[0]) : nullptr;
  if (ctx == nullptr) throw Napi::TypeError::New(env, "sessionIdContextHang: expected a SecureContext `_external`");
  ContextState* state = EnsureContextState(ctx);
  if (state == nullptr) throw Napi::Error::New(env, "sessionIdContextHang: no state on the context");
  ApplySessionIdContextValue(env, ctx, *state, info[1], info[2].ToBoolean());
  return env.Undefined();
}

// Node's recorded settings, so TypeScript can report and restore them.
Napi::Value NodeDefaults(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL_CTX* ctx = AttachmentFrom(info[0]).ctx.get();
  const NodeSettings& node = StateOf(env, ctx).node;
  Napi::Object out = Napi::Object::New(env);
  out.Set("mode", Napi::Number::New(env, static_cast<double>(node.mode)));
  out.Set("size", Napi::Number::New(env, static_cast<double>(node.size)));
  out.Set("timeoutSeconds", Napi::Number::New(env, static_cast<double>(node.timeout)));
  out.Set("ticketsEnabled", Napi::Boolean::New(env, !node.no_ticket));
  out.Set("tls13Count", Napi::Number::New(env, static_cast<double>(node.num_tickets)));
  out.Set("pskKe", Napi::Boolean::New(env, (node.dhe_kex_options & kNoDheKexOptions) == kNoDheKexOptions));
  return out;
}

// detach(handle): restore what Node had, drop our sessions and state, release our reference.
Napi::Value Detach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Attachment& attachment = AttachmentFrom(info[0]);
  SSL_CTX* ctx = attachment.ctx.get();
  if (ContextState* state = ContextStateOf(ctx)) {
    const NodeSettings node = state->node;
    DetachResumptionStats(ctx);
    if (state->ring) RestoreNodeTicketCallback(ctx);
    SSL_CTX_sess_set_get_cb(ctx, node.get_cb);
    SSL_CTX_sess_set_new_cb(ctx, node.new_cb);
    SSL_CTX_sess_set_remove_cb(ctx, node.remove_cb);
    // Sessions we cached are not Node's: drop them before the mode stops us from seeing them.
    SSL_CTX_flush_sessions(ctx, 0);
    SSL_CTX_set_session_cache_mode(ctx, node.mode);
    SSL_CTX_sess_set_cache_size(ctx, node.size);
    SSL_CTX_set_timeout(ctx, node.timeout);
    if (node.no_ticket) {
      SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    } else {
      SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
    }
    SSL_CTX_set_num_tickets(ctx, node.num_tickets);
    SSL_CTX_clear_options(ctx, kNoDheKexOptions & ~node.dhe_kex_options);
    SSL_CTX_set_options(ctx, node.dhe_kex_options);
    RestoreSessionIdContext(ctx, *state);
    ClearSessionIdTag(ctx);
    DropContextState(ctx);
  }
  attachment.ctx.reset();
  return env.Undefined();
}

}  // namespace

void InitCacheControls(Napi::Env env, Napi::Object exports) {
  exports.Set("applyCache", Napi::Function::New(env, ApplyCache, "applyCache"));
  exports.Set("applyTickets", Napi::Function::New(env, ApplyTickets, "applyTickets"));
  exports.Set("stats", Napi::Function::New(env, Stats, "stats"));
  Napi::Array counters = Napi::Array::New(env);
  for (const CacheCounter& c : kCacheCounters) counters.Set(counters.Length(), Napi::String::New(env, c.name));
  exports.Set("cacheCounterFields", counters);
  exports.Set("flush", Napi::Function::New(env, Flush, "flush"));
  exports.Set("nodeDefaults", Napi::Function::New(env, NodeDefaults, "nodeDefaults"));
  exports.Set("detach", Napi::Function::New(env, Detach, "detach"));
  exports.Set("setSessionIdContext", Napi::Function::New(env, SetSessionIdContext, "setSessionIdContext"));
  exports.Set("sessionIdContextHang", Napi::Function::New(env, SessionIdContextHang, "sessionIdContextHang"));
}

}  // namespace tsc
