// Docker's seccomp profile JSON (what `docker run --security-opt
// seccomp=profile.json` sends: the CLI reads the file and puts its content
// in HostConfig.SecurityOpt as "seccomp=<json>") into
// runtime::SeccompProfile.
//
// Supported: defaultAction, defaultErrnoRet, architectures or archMap (the
// entry for this host's arch and its subArchitectures), syscalls[] with
// name/names, action, errnoRet, args[{index, value, valueTwo, op}],
// includes/excludes {caps, arches, minKernel}; comment fields are ignored.
// Refused with a message naming it: actions berth cannot honour
// (SCMP_ACT_TRACE, SCMP_ACT_NOTIFY), listenerPath, flags, and anything
// malformed. Capability names in includes/excludes may lack "CAP_"; one
// this kernel does not know makes an includes rule never apply and an
// excludes entry never match (as Docker's string comparison would).
//
// Pure; any thread. Nesting deeper than 64 levels is refused before
// nlohmann parses it (its recursive parser would overflow the stack).
#pragma once

#include <memory>
#include <string_view>

#include "core/base/result.h"
#include "core/runtime/seccomp_profile.h"

namespace berth::engine {

Result<std::shared_ptr<const runtime::SeccompProfile>> parse_seccomp_profile(std::string_view json);

}  // namespace berth::engine
