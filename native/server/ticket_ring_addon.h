// Ticket key ring, JS side: registers the ring* functions (ringNew, ringAddKey, ..., ringAttach,
// ringHang) on the addon's exports. The ring itself is ticket_ring.h.
#pragma once

#include <napi.h>

namespace tsc {

void InitTicketRing(Napi::Env env, Napi::Object exports);

}  // namespace tsc
