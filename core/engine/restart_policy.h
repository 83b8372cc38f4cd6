// Restart policies (HostConfig.RestartPolicy): what a container's exit
// leads to, and Docker's back-off between restarts. The engine keeps one
// policy per container (CreateSpec::restart, changed by update) and asks
// decide_restart() at each exit (container_restart.cc arms the timer).
//
// Docker's rules (moby restartmanager): a container that ran for 10 s or
// more starts over from a 100 ms delay; otherwise each restart doubles the
// delay, up to a minute. `always` restarts on any exit, `unless-stopped`
// unless the user stopped it, `on-failure` on a non-zero exit while fewer
// than MaximumRetryCount restarts were made (0: no bound). A container
// stopped by the user (stop, kill with SIGKILL or its stop signal) is never
// restarted by its policy; a manual start resets the count and the delay.
//
// Pure functions on values; any thread.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/base/result.h"

namespace berth::engine {

struct RestartPolicy {
  enum class Name { kNo, kAlways, kOnFailure, kUnlessStopped };
  Name name = Name::kNo;
  int max_retries = 0;   // on-failure only (MaximumRetryCount); 0 = no bound
  bool none() const { return name == Name::kNo; }
};

const char* restart_policy_name(RestartPolicy::Name n);

// Validates {Name, MaximumRetryCount} with Docker's messages (400s). An
// empty name is "no" (clients before API 1.44 sent it as the default).
Result<RestartPolicy> parse_restart_policy(std::string_view name, int64_t max_retries);

inline constexpr int64_t kRestartDelayFirstMs = 100;
inline constexpr int64_t kRestartDelayMaxMs = 60'000;
inline constexpr int64_t kRestartResetRunNs = 10'000'000'000;   // ran this long: the delay starts over

struct RestartDecision {
  bool restart = false;
  int64_t delay_ms = 0;   // the next wait (kept by the caller for the exit after)
};

// At an exit: `exit_code`, the restarts made so far (`restart_count`), how
// long the process ran, and the last delay (0: none yet).
RestartDecision decide_restart(const RestartPolicy& p, int exit_code, bool manually_stopped, int restart_count,
                               int64_t ran_ns, int64_t last_delay_ms);

}  // namespace berth::engine
