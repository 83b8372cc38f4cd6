#include "core/engine/health.h"

namespace berth::engine {

HealthValidation check_health_config(const std::vector<std::string>& test, int64_t interval_ns, int64_t timeout_ns,
                                     int64_t start_period_ns, int64_t start_interval_ns, int64_t retries,
                                     HealthConfig* out) {
  auto fail = [](std::string e) { return HealthValidation{false, std::move(e)}; };
  constexpr int64_t kMin = 1'000'000;   // Docker's minimum: 1 ms
  if (interval_ns != 0 && interval_ns < kMin) return fail("Interval in Healthcheck cannot be less than 1ms");
  if (timeout_ns != 0 && timeout_ns < kMin) return fail("Timeout in Healthcheck cannot be less than 1ms");
  if (start_period_ns != 0 && start_period_ns < kMin) return fail("StartPeriod in Healthcheck cannot be less than 1ms");
  if (start_interval_ns != 0 && start_interval_ns < kMin)
    return fail("StartInterval in Healthcheck cannot be less than 1ms");
  if (retries < 0) return fail("Retries in Healthcheck cannot be negative");
  if (retries > 1'000'000) return fail("Retries in Healthcheck is too large");
  HealthConfig c;
  c.test = test;
  c.interval_ns = interval_ns;
  c.timeout_ns = timeout_ns;
  c.start_period_ns = start_period_ns;
  c.start_interval_ns = start_interval_ns;
  c.retries = int(retries);
  if (!test.empty()) {
    const std::string& kind = test[0];
    if (kind == "NONE") {
      if (test.size() != 1) return fail("Healthcheck Test NONE takes no arguments");
    } else if (kind == "CMD") {
      if (test.size() < 2) return fail("Healthcheck Test CMD needs a command");
      c.cmd.assign(test.begin() + 1, test.end());
    } else if (kind == "CMD-SHELL") {
      if (test.size() != 2) return fail("Healthcheck Test CMD-SHELL takes one command string");
      c.cmd = {"/bin/sh", "-c", test[1]};
    } else {
      return fail("unknown Healthcheck Test type " + kind + " (expected NONE, CMD or CMD-SHELL)");
    }
  }
  *out = std::move(c);
  return {};
}

int64_t next_probe_delay_ns(const HealthConfig& cfg, const HealthState& st) {
  if (st.status == "starting") return cfg.start_interval_ns ? cfg.start_interval_ns : kHealthDefaultStartIntervalNs;
  return cfg.interval_ns ? cfg.interval_ns : kHealthDefaultIntervalNs;
}

int64_t probe_timeout_ns(const HealthConfig& cfg) { return cfg.timeout_ns ? cfg.timeout_ns : kHealthDefaultTimeoutNs; }

bool record_health(const HealthConfig& cfg, HealthState& st, HealthResult r, int64_t started_ns) {
  std::string old = st.status;
  if (r.exit_code == 0) {
    st.failing_streak = 0;
    st.status = "healthy";
  } else {
    bool counts = !(st.status == "starting" && r.start_ns - started_ns < cfg.start_period_ns);
    if (counts) {
      st.failing_streak++;
      if (st.failing_streak >= (cfg.retries ? cfg.retries : kHealthDefaultRetries)) st.status = "unhealthy";
    }
  }
  if (r.output.size() > kHealthOutputBytes) r.output.resize(kHealthOutputBytes);
  st.log.push_back(std::move(r));
  while (st.log.size() > kHealthLogEntries) st.log.pop_front();
  return st.status != old;
}

}  // namespace berth::engine
