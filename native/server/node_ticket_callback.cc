#include "server/node_ticket_callback.h"

#include <dlfcn.h>

namespace tsc {
namespace {

using TicketKeyEvpCb = int (*)(SSL*, unsigned char*, unsigned char*, EVP_CIPHER_CTX*, EVP_MAC_CTX*, int);

// node::crypto::SecureContext::TicketCompatibilityCallback(SSL*, unsigned char*, unsigned char*,
// EVP_CIPHER_CTX*, EVP_MAC_CTX*, int): exported by the node binary of 24 and 26 (nm -D). The
// mangled name carries the EVP_MAC_CTX* signature, so it is never found on a line whose callback
// has the legacy HMAC_CTX* one.
constexpr char kNodeEvpCallback[] =
    "_ZN4node6crypto13SecureContext27TicketCompatibilityCallbackEP6ssl_stPhS4_P17evp_cipher_ctx_stP14evp_mac_ctx_sti";

TicketKeyEvpCb NodeEvpCallback() noexcept {
  static const TicketKeyEvpCb cb = reinterpret_cast<TicketKeyEvpCb>(dlsym(RTLD_DEFAULT, kNodeEvpCallback));
  return cb;
}

}  // namespace

void RestoreNodeTicketCallback(SSL_CTX* ctx) noexcept { SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, NodeEvpCallback()); }

}  // namespace tsc
