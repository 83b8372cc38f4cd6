// Umbrella header for ipc/proto, the wire protocol of the Docker Engine API
// as berth speaks it: request parsing (request.h), response building and
// parsing (response.h), stream frames (frames.h), URL escaping (url.h) and
// the shared JSON bits (api_json.h). Nothing here does I/O or owns a socket;
// see each header for thread rules.
#pragma once

#include "ipc/proto/api_json.h"
#include "ipc/proto/frames.h"
#include "ipc/proto/http_types.h"
#include "ipc/proto/request.h"
#include "ipc/proto/response.h"
#include "ipc/proto/url.h"
