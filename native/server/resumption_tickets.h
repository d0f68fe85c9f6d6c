// `tickets.tls13CountOnResumption`: how many tickets a resumed TLS 1.3 handshake ends with.
// OpenSSL sends at most one NewSessionTicket after a resumption (statem_srvr.c: "In a resumption
// we only ever send a maximum of one new ticket"): one when the ticket callback renews (the key
// ring does), none with Node's own key callback. A client that uses each ticket once and keeps
// two per host (Chromium) then ends a burst of parallel connections with fewer tickets than it
// started; this tops the count up with SSL_new_session_ticket() when the handshake is done.
#pragma once

#include <openssl/ssl.h>

namespace tsc {

// Called when the ServerHello leaves (OpenSSL has decided whether it resumes): on a resumed TLS
// 1.3 connection of a context with a count set, wraps the connection's info callback (Node's
// TLSWrap one, kept and called) to count the tickets OpenSSL writes and to ask for the rest when
// the handshake is done. Never throws; any failure leaves the connection as OpenSSL runs it.
void IssueTicketsOnResumption(SSL* ssl) noexcept;

}  // namespace tsc
