// Health checks (Config.Healthcheck): what a container's probe is, and the
// state its results make, by Docker's rules (moby daemon/health.go). The
// probes themselves are execs run on reactor timers (container_health.cc).
//
//   - The first probe comes after StartInterval (default 5 s) while the
//     status is `starting`, then every Interval (default 30 s).
//   - Exit 0 is healthy (the failing streak goes to 0); anything else, and
//     a probe that outlives Timeout (default 30 s; exit -1), is a failure,
//     not counted while `starting` within StartPeriod of the start; Retries
//     (default 3) counted failures in a row make it `unhealthy`.
//   - The last five results are kept, each output cut at 4 KiB.
//
// Pure functions on values; any thread.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

namespace berth::engine {

struct HealthConfig {
  // The probe's argv (CMD's, or {"/bin/sh", "-c", cmd} for CMD-SHELL);
  // empty: no health check (NONE, or none given).
  std::vector<std::string> cmd;
  std::vector<std::string> test;   // Test as given, for inspect
  int64_t interval_ns = 0, timeout_ns = 0, start_period_ns = 0, start_interval_ns = 0;   // 0: Docker's default
  int retries = 0;                                                                        // 0: 3
  bool enabled() const { return !cmd.empty(); }
};

inline constexpr int64_t kHealthDefaultIntervalNs = 30'000'000'000;
inline constexpr int64_t kHealthDefaultTimeoutNs = 30'000'000'000;
inline constexpr int64_t kHealthDefaultStartIntervalNs = 5'000'000'000;
inline constexpr int kHealthDefaultRetries = 3;
inline constexpr size_t kHealthLogEntries = 5;
inline constexpr size_t kHealthOutputBytes = 4096;

struct HealthResult {
  int64_t start_ns = 0, end_ns = 0;
  int exit_code = 0;     // -1: timed out, or the probe could not run
  std::string output;
};

struct HealthState {
  std::string status = "starting";   // starting | healthy | unhealthy
  int failing_streak = 0;
  std::deque<HealthResult> log;
};

// Validates Test and the durations with Docker's messages; Test "NONE"
// gives a disabled config.
struct HealthValidation {
  bool ok = true;
  std::string error;
};
HealthValidation check_health_config(const std::vector<std::string>& test, int64_t interval_ns, int64_t timeout_ns,
                                     int64_t start_period_ns, int64_t start_interval_ns, int64_t retries,
                                     HealthConfig* out);

// The delay before the next probe for the status.
int64_t next_probe_delay_ns(const HealthConfig& cfg, const HealthState& st);
int64_t probe_timeout_ns(const HealthConfig& cfg);

// Records a result (the log keeps the last five); true when the status
// changed. `started_ns`: when the container started.
bool record_health(const HealthConfig& cfg, HealthState& st, HealthResult r, int64_t started_ns);

}  // namespace berth::engine
