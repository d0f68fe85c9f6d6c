// The message callback that counts resumption outcomes: it reads what each ClientHello offered
// (Node 22+ replaces the context's ClientHello callback on every connection, so that one is not
// ours to use), and when the ServerHello leaves, OpenSSL has decided: it classifies the offer
// (resumed, or the reason it was not) and removes itself from the connection (at once when nothing
// was offered). See docs/resumption-reasons.md.
#pragma once

#include <openssl/ssl.h>

namespace tsc {
namespace resumption {

void ResumptionMsgCb(int write_p, int version, int content_type, const void* buf, size_t len, SSL* ssl, void* arg);

}  // namespace resumption
}  // namespace tsc
