// Looking up the steps of a mount plan (core/runtime/mount_plan.h) in the
// runtime's unit tests.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>

#include "core/runtime/mount_plan.h"

namespace berth::runtime::test {

// The first step of kind `k` at `target`, or null.
inline const MountStep* find(const MountPlan& p, MountKind k, const std::string& target) {
  for (const auto& s : p.steps)
    if (s.kind == k && s.target == target) return &s;
  return nullptr;
}

// Its position in the plan, or SIZE_MAX.
inline size_t index_of(const MountPlan& p, MountKind k, const std::string& target) {
  for (size_t i = 0; i < p.steps.size(); i++)
    if (p.steps[i].kind == k && p.steps[i].target == target) return i;
  return SIZE_MAX;
}

inline size_t count(const MountPlan& p, MountKind k) {
  return size_t(std::count_if(p.steps.begin(), p.steps.end(), [k](const MountStep& s) { return s.kind == k; }));
}

}  // namespace berth::runtime::test
