#include "server/resumption_tickets.h"

#include <openssl/err.h>

#include <memory>
#include <mutex>

#include "common/context_access.h"

namespace tsc {
namespace {

using InfoCb = void (*)(const SSL*, int, int);

// Per resumed TLS 1.3 connection that gets more tickets, on its own SSL ex_data slot.
struct ResumedTickets {
  InfoCb node_cb = nullptr;  // Node's TLSWrap::SSLInfoCallback (or whatever the SSL had)
  int wanted = 0;            // tickets the handshake should end with
  int written = 0;           // NewSessionTickets OpenSSL wrote in the handshake
};

int tickets_index = -1;
std::once_flag index_once;

void FreeResumedTickets(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  std::unique_ptr<ResumedTickets> owned(static_cast<ResumedTickets*>(ptr));
}

// The info callback of a resumed connection that gets more tickets, until its handshake is done.
// Node's callback sees every event first, as before (its SSL_CB_HANDSHAKE_DONE calls into JS:
// 'secureConnection'). OpenSSL reports each finished write state as SSL_CB_ACCEPT_LOOP, so the
// ticket it may send itself (a renewed one) shows as TLS_ST_SW_SESSION_TICKET, and leaves its
// state machine with SSL_CB_ACCEPT_EXIT, no longer in the handshake: there, once the handshake is
// finished, SSL_new_session_ticket() asks for the missing tickets and SSL_do_handshake() writes
// them at once, before any response byte and before a shutdown Node may have deferred
// (SSL_shutdown refuses to run while tickets are pending). A connection already shut down (a
// listener that ended it in 'secureConnection') gets none.
void InfoCallback(const SSL* cssl, int where, int ret) {
  auto* t = static_cast<ResumedTickets*>(SSL_get_ex_data(cssl, tickets_index));
  const InfoCb node_cb = t != nullptr ? t->node_cb : nullptr;
  if (node_cb != nullptr) node_cb(cssl, where, ret);
  if (t == nullptr) return;
  if ((where & SSL_CB_ACCEPT_LOOP) != 0 && SSL_get_state(cssl) == TLS_ST_SW_SESSION_TICKET) t->written++;
  if ((where & SSL_CB_ACCEPT_EXIT) == 0 || SSL_is_init_finished(cssl) != 1) return;
  SSL* ssl = const_cast<SSL*>(cssl);
  SSL_set_info_callback(ssl, node_cb);  // from here on Node's callback alone
  if (SSL_get_shutdown(ssl) != 0) return;
  int requested = 0;
  for (int i = t->written; i < t->wanted && SSL_new_session_ticket(ssl) == 1; i++) requested++;
  if (requested == 0) return;
  // A failure here shows at Node's next SSL_read; its error must not be left for Node to read
  // as the cause of something else.
  ERR_set_mark();
  SSL_do_handshake(ssl);
  ERR_pop_to_mark();
}

}  // namespace

void IssueTicketsOnResumption(SSL* ssl) noexcept {
  ContextState* state = ContextStateOf(SSL_get_SSL_CTX(ssl));
  if (state == nullptr) return;
  const int wanted = state->tls13_count_on_resumption.load(std::memory_order_relaxed);
  if (wanted <= 0 || SSL_version(ssl) != TLS1_3_VERSION || SSL_session_reused(ssl) != 1) return;
  if ((SSL_get_options(ssl) & SSL_OP_NO_TICKET) != 0 &&
      (SSL_CTX_get_session_cache_mode(SSL_get_SSL_CTX(ssl)) & SSL_SESS_CACHE_SERVER) == 0)
    return;  // OpenSSL would issue nothing at all: neither stateless nor stateful tickets
  std::call_once(index_once,
                 [] { tickets_index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, FreeResumedTickets); });
  if (tickets_index < 0 || SSL_get_ex_data(ssl, tickets_index) != nullptr) return;
  try {
    auto t = std::make_unique<ResumedTickets>();
    t->node_cb = SSL_get_info_callback(ssl);
    if (t->node_cb == nullptr) t->node_cb = SSL_CTX_get_info_callback(SSL_get_SSL_CTX(ssl));
    t->wanted = wanted;
    if (SSL_set_ex_data(ssl, tickets_index, t.get()) != 1) return;
    t.release();
    SSL_set_info_callback(ssl, InfoCallback);
  } catch (...) {
    // No memory: OpenSSL's own ticket count.
  }
}

}  // namespace tsc
