// Histogram: counts of observed durations in fixed buckets, as Prometheus
// histograms expose them (bucket upper bounds in seconds; the count of
// observations at or under each bound is cumulative when rendered).
// Fixed at construction: observe() never allocates.
//
// Thread: one owner; not synchronised.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace berth {

class Histogram {
 public:
  // Upper bounds in seconds, ascending; +Inf is implied.
  explicit Histogram(std::vector<double> bounds_s) : bounds_(std::move(bounds_s)), counts_(bounds_.size() + 1) {}
  // Bounds from 0.25 ms to 10 s, each about 2.5x the last.
  static Histogram latency() {
    return Histogram({0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10});
  }

  void observe_ns(int64_t ns) {
    double s = ns < 0 ? 0 : double(ns) / 1e9;
    std::size_t i = 0;
    while (i < bounds_.size() && s > bounds_[i]) i++;
    counts_[i]++;
    count_++;
    sum_s_ += s;
  }

  const std::vector<double>& bounds() const { return bounds_; }
  // Per bucket (not cumulative); the last is over the highest bound.
  const std::vector<uint64_t>& counts() const { return counts_; }
  uint64_t count() const { return count_; }
  double sum_s() const { return sum_s_; }

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  double sum_s_ = 0;
};

}  // namespace berth
