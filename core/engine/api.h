// Everything the engine offers its callers (ipc/server, berthd): the front
// and its parts. One include for the API layer.
#pragma once

#include "core/engine/api_types.h"
#include "core/engine/engine.h"
#include "core/engine/exec.h"
#include "core/engine/files.h"
#include "core/engine/images.h"
#include "core/engine/io.h"
#include "core/engine/resources.h"
#include "core/engine/stats_hub.h"
#include "core/engine/volumes.h"
