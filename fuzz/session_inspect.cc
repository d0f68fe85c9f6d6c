// Fuzz target: the probe's session inspection (ReadSessionFacts in native/common/session_der.cc):
// d2i_SSL_SESSION over bytes a client hands out, then every SSL_SESSION_get_* reader the probe
// reports. The input is the DER as it is.
#include <openssl/err.h>

#include <cstdint>
#include <cstring>

#include "common/session_der.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tsc::SessionFacts facts;
  if (tsc::ReadSessionFacts(data, size, &facts)) {
    if (facts.protocol == nullptr || facts.session_id_length > SSL_MAX_SSL_SESSION_ID_LENGTH) __builtin_trap();
    if (facts.has_ticket != !facts.ticket.empty()) __builtin_trap();
    // Touch every byte of the copied ticket so ASan sees a bad copy.
    volatile unsigned char sink = 0;
    for (unsigned char b : facts.ticket) sink ^= b;
    (void)sink;
  }
  ERR_clear_error();
  return 0;
}
