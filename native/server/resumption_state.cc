#include "server/resumption_state.h"

#include <ctime>
#include <memory>

namespace tsc {
namespace resumption {
namespace {

thread_local Handshake* pending = nullptr;

int state_index = -1;
int handshake_index = -1;
std::once_flag index_once;

void FreeState(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  std::unique_ptr<ResumptionState> owned(static_cast<ResumptionState*>(ptr));
}

void FreeHandshake(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  auto* h = static_cast<Handshake*>(ptr);
  if (h != nullptr && pending == h) pending = nullptr;
  std::unique_ptr<Handshake> owned(h);
}

void Settle(Handshake* h) {
  if (h == nullptr || h->settled) return;
  h->settled = true;
  SSL_CTX* ctx = h->ctx;
  h->timed_out = SSL_CTX_sess_timeouts(ctx) > h->timeouts0;
  const bool internal_lookup = (SSL_CTX_get_session_cache_mode(ctx) & SSL_SESS_CACHE_NO_INTERNAL_LOOKUP) == 0;
  h->found = (internal_lookup && SSL_CTX_sess_misses(ctx) == h->misses0) || SSL_CTX_sess_cb_hits(ctx) > h->cb_hits0;
}

}  // namespace

void InitIndexes() {
  std::call_once(index_once, [] {
    state_index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, FreeState);
    handshake_index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, FreeHandshake);
  });
}

ResumptionState* StateOf(const SSL_CTX* ctx) {
  if (ctx == nullptr || state_index < 0) return nullptr;
  return static_cast<ResumptionState*>(SSL_CTX_get_ex_data(ctx, state_index));
}

ResumptionState* EnsureState(SSL_CTX* ctx) {
  InitIndexes();
  if (state_index < 0 || handshake_index < 0) return nullptr;
  if (ResumptionState* existing = StateOf(ctx)) return existing;
  auto state = std::make_unique<ResumptionState>();
  if (SSL_CTX_set_ex_data(ctx, state_index, state.get()) != 1) return nullptr;
  return state.release();
}

void DropState(SSL_CTX* ctx) {
  std::unique_ptr<ResumptionState> owned(StateOf(ctx));
  if (owned) SSL_CTX_set_ex_data(ctx, state_index, nullptr);
}

Handshake* HandshakeOf(const SSL* ssl) {
  if (handshake_index < 0) return nullptr;
  return static_cast<Handshake*>(SSL_get_ex_data(ssl, handshake_index));
}

Handshake* EnsureHandshake(SSL* ssl) {
  if (Handshake* existing = HandshakeOf(ssl)) return existing;
  auto owned = std::make_unique<Handshake>();
  if (handshake_index < 0 || SSL_set_ex_data(ssl, handshake_index, owned.get()) != 1) return nullptr;
  return owned.release();
}

void SetPending(Handshake* h) { pending = h; }

void SettlePending(const Handshake* self) {
  if (pending != nullptr && pending != self) {
    Settle(pending);
    pending = nullptr;
  }
}

void SettleIfPending(Handshake* h) {
  if (h != nullptr && pending == h) {
    Settle(h);
    pending = nullptr;
  }
}

int64_t NowSeconds() { return static_cast<int64_t>(std::time(nullptr)); }

}  // namespace resumption
}  // namespace tsc
