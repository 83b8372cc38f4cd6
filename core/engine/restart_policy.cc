#include "core/engine/restart_policy.h"

#include <algorithm>

namespace berth::engine {

const char* restart_policy_name(RestartPolicy::Name n) {
  switch (n) {
    case RestartPolicy::Name::kNo: return "no";
    case RestartPolicy::Name::kAlways: return "always";
    case RestartPolicy::Name::kOnFailure: return "on-failure";
    case RestartPolicy::Name::kUnlessStopped: return "unless-stopped";
  }
  return "no";
}

Result<RestartPolicy> parse_restart_policy(std::string_view name, int64_t max_retries) {
  RestartPolicy p;
  if (name == "on-failure") {
    if (max_retries < 0) return Error::invalid("invalid restart policy: maximum retry count cannot be negative");
    if (max_retries > 1'000'000'000) return Error::invalid("invalid restart policy: maximum retry count is too large");
    p.name = RestartPolicy::Name::kOnFailure;
    p.max_retries = int(max_retries);
    return p;
  }
  if (name == "always") p.name = RestartPolicy::Name::kAlways;
  else if (name == "unless-stopped") p.name = RestartPolicy::Name::kUnlessStopped;
  else if (name == "no" || name.empty()) p.name = RestartPolicy::Name::kNo;
  else
    return Error::invalid(
        "invalid restart policy: unknown policy '{}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'",
        name);
  // Docker lets the old default {"Name": "", "MaximumRetryCount": N} through.
  if (max_retries != 0 && !name.empty())
    return Error::invalid("invalid restart policy: maximum retry count can only be used with 'on-failure'{}",
                          max_retries < 0 ? " and cannot be negative" : "");
  return p;
}

RestartDecision decide_restart(const RestartPolicy& p, int exit_code, bool manually_stopped, int restart_count,
                               int64_t ran_ns, int64_t last_delay_ms) {
  RestartDecision d;
  if (p.none() || manually_stopped) return d;
  switch (p.name) {
    case RestartPolicy::Name::kNo: return d;
    case RestartPolicy::Name::kAlways:
    case RestartPolicy::Name::kUnlessStopped: d.restart = true; break;
    case RestartPolicy::Name::kOnFailure:
      d.restart = exit_code != 0 && (p.max_retries == 0 || restart_count < p.max_retries);
      break;
  }
  if (!d.restart) return d;
  if (ran_ns >= kRestartResetRunNs || last_delay_ms <= 0) d.delay_ms = kRestartDelayFirstMs;
  else d.delay_ms = std::min(last_delay_ms * 2, kRestartDelayMaxMs);
  return d;
}

}  // namespace berth::engine
