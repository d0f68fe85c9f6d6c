// The session-ticket callbacks (SSL_CTX_set_session_ticket_cb) that resumption counting installs:
// the decrypt side sees each ticket's status after the HMAC check, tells an unknown key from a
// forged ticket, refuses sessions past maxSessionAgeSeconds and records why OpenSSL will refuse
// the others; the generate side pins the session-ID context and stamps the original full-handshake
// time into every ticket (session_age.h).
#pragma once

#include <openssl/ssl.h>

namespace tsc {
namespace resumption {

SSL_TICKET_RETURN DecryptTicketCb(SSL* ssl, SSL_SESSION* sess, const unsigned char* keyname, size_t keyname_len,
                                  SSL_TICKET_STATUS status, void* arg) noexcept;
int GenerateTicketCb(SSL* ssl, void* arg) noexcept;

}  // namespace resumption
}  // namespace tsc
