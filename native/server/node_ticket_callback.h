// Node's own ticket key callback, for putting it back. Node 20 and 22 install theirs with the
// legacy SSL_CTX_set_tlsext_ticket_key_cb, which an evp callback merely takes precedence over;
// Node 24 and 26 install theirs with SSL_CTX_set_tlsext_ticket_key_evp_cb, the very slot the ring
// uses, and OpenSSL has no getter for it. Clearing the slot on those lines would leave OpenSSL's
// own random ticket keys in force (not shared by cluster workers, renewing every TLS 1.3 ticket)
// instead of Node's.
#pragma once

#include <openssl/ssl.h>

namespace tsc {

// Puts Node's ticket handling back on `ctx` after the ring leaves it.
void RestoreNodeTicketCallback(SSL_CTX* ctx) noexcept;

}  // namespace tsc
