#include "ipc/server/exec_update_request.h"

#include "ipc/proto/detach_keys.h"
#include "ipc/server/api_fields.h"
#include "ipc/server/create_request.h"
#include "ipc/server/json_util.h"

namespace berth::ipc {

Result<engine::ExecConfig> parse_exec_config(const std::string& body) {
  Json j = BERTH_TRY(parse_body(body));
  BERTH_TRY_VOID(check_fields("ExecConfig", j, nullptr));
  engine::ExecConfig cfg;
  bool set;
  cfg.cmd = BERTH_TRY(str_slice(j, "Cmd", &set));
  if (cfg.cmd.empty()) return Error::invalid("No exec command specified");
  cfg.env = BERTH_TRY(str_slice(j, "Env", &set));
  for (const auto& e : cfg.env)
    if (e.empty() || e[0] == '=') return Error::invalid("invalid environment variable: {}", e);
  cfg.user = BERTH_TRY(str_field(j, "User"));
  cfg.working_dir = BERTH_TRY(str_field(j, "WorkingDir"));
  if (!cfg.working_dir.empty() && cfg.working_dir[0] != '/')
    return Error::invalid("the working directory '{}' is invalid, it needs to be an absolute path", cfg.working_dir);
  cfg.tty = BERTH_TRY(bool_field(j, "Tty", false));
  cfg.privileged = BERTH_TRY(bool_field(j, "Privileged", false));
  cfg.attach_stdin = BERTH_TRY(bool_field(j, "AttachStdin", false));
  cfg.attach_stdout = BERTH_TRY(bool_field(j, "AttachStdout", false));
  cfg.attach_stderr = BERTH_TRY(bool_field(j, "AttachStderr", false));
  ConsoleSize size = BERTH_TRY(console_size_field(j));
  cfg.console_rows = size.rows;
  cfg.console_cols = size.cols;
  cfg.detach_keys = BERTH_TRY(str_field(j, "DetachKeys"));
  BERTH_TRY_VOID(parse_detach_keys(cfg.detach_keys));
  return cfg;
}

Result<UpdateRequest> parse_update_request(const std::string& body, std::vector<std::string>* warnings) {
  Json j = BERTH_TRY(parse_body(body));
  std::vector<std::string> ignored;
  BERTH_TRY_VOID(check_fields("UpdateConfig", j, warnings ? warnings : &ignored));
  UpdateRequest u;
  u.resources = BERTH_TRY(parse_resources(j));
  // Name "" (what docker update sends without --restart) keeps the policy.
  if (auto rp = BERTH_TRY(restart_policy_field(j)); rp && !rp->first.empty())
    u.restart = BERTH_TRY(engine::parse_restart_policy(rp->first, rp->second));
  return u;
}

}  // namespace berth::ipc
