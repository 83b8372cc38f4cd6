#include "core/engine/seccomp_json.h"

#include <algorithm>
#include <utility>

#include "core/base/strings.h"
#include "core/runtime/capabilities.h"
#include <nlohmann/json.hpp>

namespace berth::engine {

namespace {

using Json = nlohmann::json;
using runtime::SeccompAction;
using runtime::SeccompOp;

constexpr int kMaxDepth = 64;
// A capability bit no container has: an includes entry naming an unknown
// capability never holds.
constexpr uint64_t kUnknownCap = uint64_t(1) << 63;

Error bad(std::string_view what) { return Error::invalid("Decoding seccomp profile failed: {}", what); }

// The deepest nesting of arrays and objects, outside strings.
int max_depth(std::string_view s) {
  int depth = 0, top = 0;
  bool in_string = false;
  for (size_t i = 0; i < s.size(); i++) {
    char c = s[i];
    if (in_string) {
      if (c == '\\') i++;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    if (c == '[' || c == '{') top = std::max(top, ++depth);
    if (c == ']' || c == '}') depth--;
  }
  return top;
}

Result<SeccompAction> action_of(const std::string& a) {
  if (a == "SCMP_ACT_ALLOW") return SeccompAction::kAllow;
  if (a == "SCMP_ACT_ERRNO") return SeccompAction::kErrno;
  if (a == "SCMP_ACT_KILL" || a == "SCMP_ACT_KILL_THREAD") return SeccompAction::kKillThread;
  if (a == "SCMP_ACT_KILL_PROCESS") return SeccompAction::kKillProcess;
  if (a == "SCMP_ACT_TRAP") return SeccompAction::kTrap;
  if (a == "SCMP_ACT_LOG") return SeccompAction::kLog;
  if (a == "SCMP_ACT_TRACE" || a == "SCMP_ACT_NOTIFY")
    return Error::invalid("seccomp profile: action {} is not supported by berth", a);
  return bad(fmt::format("unrecognized action \"{}\"", a));
}

Result<SeccompOp> op_of(const std::string& op) {
  if (op == "SCMP_CMP_NE") return SeccompOp::kNotEqual;
  if (op == "SCMP_CMP_LT") return SeccompOp::kLess;
  if (op == "SCMP_CMP_LE") return SeccompOp::kLessEqual;
  if (op == "SCMP_CMP_EQ") return SeccompOp::kEqual;
  if (op == "SCMP_CMP_GE") return SeccompOp::kGreaterEqual;
  if (op == "SCMP_CMP_GT") return SeccompOp::kGreater;
  if (op == "SCMP_CMP_MASKED_EQ") return SeccompOp::kMaskedEqual;
  return bad(fmt::format("unrecognized operator \"{}\"", op));
}

Result<std::vector<std::string>> strings(const Json& j, const char* field) {
  std::vector<std::string> out;
  if (!j.contains(field) || j[field].is_null()) return out;
  if (!j[field].is_array()) return bad(fmt::format("{} must be an array of strings", field));
  for (const Json& e : j[field]) {
    if (!e.is_string()) return bad(fmt::format("{} must be an array of strings", field));
    out.push_back(e.get<std::string>());
  }
  return out;
}

Result<std::string> string_field(const Json& j, const char* field) {
  if (!j.contains(field) || j[field].is_null()) return std::string();
  if (!j[field].is_string()) return bad(fmt::format("{} must be a string", field));
  return j[field].get<std::string>();
}

Result<int> errno_field(const Json& j, const char* field) {
  if (!j.contains(field) || j[field].is_null()) return -1;
  if (!j[field].is_number_unsigned() || j[field].get<uint64_t>() > 4095)
    return bad(fmt::format("{} must be an errno number", field));
  return int(j[field].get<uint64_t>());
}

Result<uint64_t> u64_field(const Json& j, const char* field) {
  if (!j.contains(field) || j[field].is_null()) return uint64_t(0);
  if (!j[field].is_number_unsigned()) return bad(fmt::format("{} must be an unsigned number", field));
  return j[field].get<uint64_t>();
}

Result<runtime::SeccompFilterCondition> condition(const Json& rule, const char* field) {
  runtime::SeccompFilterCondition c;
  if (!rule.contains(field) || rule[field].is_null()) return c;
  const Json& j = rule[field];
  if (!j.is_object()) return bad(fmt::format("{} must be an object", field));
  for (const auto& name : BERTH_TRY(strings(j, "caps"))) {
    auto n = runtime::capability_number(name);
    c.caps |= n ? uint64_t(1) << *n : kUnknownCap;
  }
  if (std::string_view(field) == "excludes") c.caps &= ~kUnknownCap;
  c.arches = BERTH_TRY(strings(j, "arches"));
  std::string k = BERTH_TRY(string_field(j, "minKernel"));
  if (!k.empty()) {
    auto parts = split(k, '.');
    auto ma = parts.size() >= 1 ? parse_int(parts[0]) : std::nullopt;
    auto mi = parts.size() >= 2 ? parse_int(parts[1]) : std::optional<int64_t>(0);
    if (!ma || !mi || *ma < 0 || *mi < 0 || *ma > 1000 || *mi > 1000) return bad(fmt::format("invalid kernel version: {}", k));
    c.min_kernel_major = int(*ma);
    c.min_kernel_minor = int(*mi);
  }
  return c;
}

Result<runtime::SeccompRule> rule_of(const Json& j) {
  if (!j.is_object()) return bad("syscalls must be an array of objects");
  runtime::SeccompRule r;
  r.names = BERTH_TRY(strings(j, "names"));
  std::string name = BERTH_TRY(string_field(j, "name"));
  if (!name.empty() && !r.names.empty()) return bad("use either 'name' or 'names'");
  if (!name.empty()) r.names.push_back(name);
  if (r.names.empty()) return bad("a syscalls entry names no syscall");
  r.action = BERTH_TRY(action_of(BERTH_TRY(string_field(j, "action"))));
  r.errno_ret = BERTH_TRY(errno_field(j, "errnoRet"));
  if (j.contains("args") && !j["args"].is_null()) {
    if (!j["args"].is_array()) return bad("args must be an array");
    for (const Json& a : j["args"]) {
      if (!a.is_object()) return bad("args must be an array of objects");
      runtime::SeccompArg arg;
      uint64_t index = BERTH_TRY(u64_field(a, "index"));
      if (index > 5) return bad(fmt::format("argument index {} is out of range (0-5)", index));
      arg.index = unsigned(index);
      arg.value = BERTH_TRY(u64_field(a, "value"));
      arg.value_two = BERTH_TRY(u64_field(a, "valueTwo"));
      arg.op = BERTH_TRY(op_of(BERTH_TRY(string_field(a, "op"))));
      r.args.push_back(arg);
    }
  }
  r.includes = BERTH_TRY(condition(j, "includes"));
  r.excludes = BERTH_TRY(condition(j, "excludes"));
  return r;
}

// This host's arch as Docker's archMap spells it ("SCMP_ARCH_X86_64").
std::string native_scmp_arch() {
  static const std::pair<const char*, const char*> kMap[] = {
      {"amd64", "SCMP_ARCH_X86_64"}, {"x86", "SCMP_ARCH_X86"},         {"x32", "SCMP_ARCH_X32"},
      {"arm64", "SCMP_ARCH_AARCH64"}, {"arm", "SCMP_ARCH_ARM"},        {"ppc64le", "SCMP_ARCH_PPC64LE"},
      {"s390x", "SCMP_ARCH_S390X"},  {"riscv64", "SCMP_ARCH_RISCV64"}};
  std::string_view go = runtime::native_arch_name();
  for (const auto& [g, scmp] : kMap)
    if (go == g) return scmp;
  return "SCMP_ARCH_UNKNOWN";
}

Result<std::vector<std::string>> architectures(const Json& j) {
  std::vector<std::string> arches = BERTH_TRY(strings(j, "architectures"));
  if (!j.contains("archMap") || j["archMap"].is_null()) return arches;
  if (!arches.empty()) return bad("use either 'architectures' or 'archMap'");
  if (!j["archMap"].is_array()) return bad("archMap must be an array");
  std::string native = native_scmp_arch();
  for (const Json& m : j["archMap"]) {
    if (!m.is_object()) return bad("archMap must be an array of objects");
    if (BERTH_TRY(string_field(m, "architecture")) != native) continue;
    arches.push_back(native);
    for (auto& sub : BERTH_TRY(strings(m, "subArchitectures"))) arches.push_back(sub);
  }
  return arches;
}

}  // namespace

Result<std::shared_ptr<const runtime::SeccompProfile>> parse_seccomp_profile(std::string_view json) {
  if (max_depth(json) > kMaxDepth) return bad(fmt::format("nested deeper than {} levels", kMaxDepth));
  Json j = Json::parse(json, nullptr, false);
  if (j.is_discarded()) return bad("invalid JSON");
  if (!j.is_object()) return bad("the profile must be a JSON object");
  auto p = std::make_shared<runtime::SeccompProfile>();
  std::string dflt = BERTH_TRY(string_field(j, "defaultAction"));
  if (dflt.empty()) return bad("defaultAction is missing");
  p->default_action = BERTH_TRY(action_of(dflt));
  p->default_errno = BERTH_TRY(errno_field(j, "defaultErrnoRet"));
  p->architectures = BERTH_TRY(architectures(j));
  if (!BERTH_TRY(string_field(j, "listenerPath")).empty())
    return Error::invalid("seccomp profile: listenerPath (user notification) is not supported by berth");
  if (!BERTH_TRY(strings(j, "flags")).empty())
    return Error::invalid("seccomp profile: flags are not supported by berth");
  if (j.contains("syscalls") && !j["syscalls"].is_null()) {
    if (!j["syscalls"].is_array()) return bad("syscalls must be an array");
    for (const Json& s : j["syscalls"]) p->syscalls.push_back(BERTH_TRY(rule_of(s)));
  }
  return std::shared_ptr<const runtime::SeccompProfile>(std::move(p));
}

}  // namespace berth::engine
