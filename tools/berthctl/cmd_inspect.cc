// `inspect`: like `docker inspect`, try each name as a container, then as an
// image; print a JSON array (4-space indent, no HTML escaping, as docker 28)
// or, with -f, a small subset of Go templates per object:
//   {{.A.B}}  {{json .A}}  {{index .A "k" ...}}  {{len .A}}  and plain text.
// A missing field is an error, as with docker's missingkey=error. Objects
// print as Go maps (map[k:v], keys sorted); docker's typed structs print
// differently, so use {{json}} for those.
#include <algorithm>
#include <memory>

#include <fmt/format.h>

#include "core/base/strings.h"
#include "ipc/proto/url.h"
#include "tools/berthctl/berthctl.h"

namespace berth::ctl {
namespace {

using ojson = nlohmann::ordered_json;

struct InspectOptions {
  std::string format;
  std::string type;  // "", "container" or "image"
  std::vector<std::string> names;
};

std::string go_json(const ojson& j, int indent) { return j.dump(indent, ' ', false, ojson::error_handler_t::replace); }

// How Go's text/template prints a decoded value.
std::string go_print(const ojson& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "<nil>";
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number_unsigned()) return std::to_string(v.get<uint64_t>());
  if (v.is_number_float()) return fmt::format("{}", v.get<double>());
  std::vector<std::string> items;
  for (auto it = v.begin(); it != v.end(); ++it)
    items.push_back(v.is_array() ? go_print(*it) : it.key() + ":" + go_print(*it));
  if (v.is_object()) std::sort(items.begin(), items.end());  // fmt prints maps sorted
  std::string s = v.is_array() ? "[" : "map[";
  for (size_t i = 0; i < items.size(); i++) s += (i ? " " : "") + items[i];
  return s + "]";
}

std::vector<std::string> split_action(std::string_view a) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < a.size()) {
    if (a[i] == ' ') {
      i++;
      continue;
    }
    size_t end = a[i] == '"' ? a.find('"', i + 1) : a.find(' ', i);
    end = end == std::string_view::npos ? a.size() : end + (a[i] == '"' ? 1 : 0);
    words.emplace_back(a.substr(i, end - i));
    i = end;
  }
  return words;
}

// ".State.ExitCode" → the value, nullptr when a field is missing.
const ojson* lookup(const ojson& root, std::string_view path) {
  if (path.empty() || path[0] != '.') return nullptr;
  if (path == ".") return &root;
  const ojson* cur = &root;
  for (const std::string& field : split(path.substr(1), '.')) {
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(field);
    if (it == cur->end()) return nullptr;
    cur = &*it;
  }
  return cur;
}

Result<std::string> run_action(const std::vector<std::string>& w, const ojson& obj) {
  auto value = [&](const std::string& path) -> Result<const ojson*> {
    if (path.empty() || path[0] != '.') return Error::invalid("template: unsupported argument {:?}", path);
    const ojson* v = lookup(obj, path);
    if (!v) return Error::invalid("template: executing at <{}>: map has no entry for that key", path);
    return v;
  };
  if (w.size() == 1) return go_print(*BERTH_TRY(value(w[0])));
  if (w[0] == "json" && w.size() == 2) return go_json(*BERTH_TRY(value(w[1])), -1);
  if (w[0] == "len" && w.size() == 2) {
    const ojson* v = BERTH_TRY(value(w[1]));
    if (!(v->is_array() || v->is_object() || v->is_string()))
      return Error::invalid("template: len of a value that has no length");
    return std::to_string(v->is_string() ? v->get<std::string>().size() : v->size());
  }
  if (w[0] == "index" && w.size() >= 3) {
    const ojson* v = BERTH_TRY(value(w[1]));
    for (size_t i = 2; v && i < w.size(); i++) {  // a missing map key gives "<no value>", as in Go
      std::string key = w[i].size() >= 2 && w[i][0] == '"' ? w[i].substr(1, w[i].size() - 2) : w[i];
      if (v->is_object()) {
        auto it = v->find(key);
        v = it == v->end() ? nullptr : &*it;
      } else if (std::optional<int64_t> n = parse_int(key); v->is_array() && n && *n >= 0 && size_t(*n) < v->size()) {
        v = &(*v)[size_t(*n)];
      } else {
        return Error::invalid("template: cannot index {} with {:?}", go_print(*v), key);
      }
    }
    return v ? go_print(*v) : std::string("<no value>");
  }
  return Error::invalid("template: unsupported action {:?} (berthctl knows .Field, json, index, len)",
                        w.empty() ? std::string() : w[0]);
}

Result<std::string> render(std::string_view tmpl, const ojson& obj) {
  std::string out_text;
  for (;;) {
    size_t open = tmpl.find("{{");
    out_text += tmpl.substr(0, open);
    if (open == std::string_view::npos) return out_text;
    size_t close = tmpl.find("}}", open);
    if (close == std::string_view::npos) return Error::invalid("template: unclosed action");
    out_text += BERTH_TRY(run_action(split_action(tmpl.substr(open + 2, close - open - 2)), obj));
    tmpl.remove_prefix(close + 2);
  }
}

// 200 → the object; 404 → nullopt; anything else → the daemon's error.
Result<std::optional<ojson>> fetch(Client& c, const std::string& path) {
  Response r = BERTH_TRY(c.request("GET", path));
  if (r.status == 404) return std::optional<ojson>();
  if (r.status >= 400) return ipc::daemon_error(r);
  ojson j = ojson::parse(r.body.begin(), r.body.end(), nullptr, false);
  if (j.is_discarded()) return Error::invalid("GET {}: the daemon sent invalid JSON", path);
  return std::optional<ojson>(std::move(j));
}

int inspect(const Globals& g, const InspectOptions& o) {
  Result<Client> c = dial(g);
  if (!c) return fail(c.error());
  ojson found = ojson::array();
  std::vector<Error> errors;  // printed after the output, as docker does
  for (const std::string& name : o.names) {
    std::string escaped = ipc::path_escape(name);
    Result<std::optional<ojson>> obj = std::optional<ojson>();
    if (o.type.empty() || o.type == "container") obj = fetch(*c, "/containers/" + escaped + "/json");
    if (obj && !*obj && (o.type.empty() || o.type == "image")) obj = fetch(*c, "/images/" + escaped + "/json");
    if (!obj)
      errors.push_back(obj.error());
    else if (!*obj)
      errors.push_back(Error::not_found("Error: No such object: {}", name));
    else
      found.push_back(std::move(**obj));
  }
  if (o.format.empty()) {
    out(go_json(found, 4) + "\n");
  } else {
    for (const ojson& obj : found) {
      Result<std::string> text = render(o.format, obj);
      if (!text) return fail(text.error());
      out(*text + "\n");
    }
  }
  for (const Error& e : errors) fail(e);
  return errors.empty() ? kExitOk : kExitError;
}

}  // namespace

void add_inspect_command(CLI::App& app, Globals& g, int& exit_code) {
  auto opts = std::make_shared<InspectOptions>();
  CLI::App* cmd = app.add_subcommand("inspect", "Return low-level information on containers or images");
  cmd->add_option("-f,--format", opts->format, "Format the output using a Go template subset");
  cmd->add_option("--type", opts->type, "Only inspect objects of this type (container, image)")
      ->check(CLI::IsMember({"container", "image"}));
  cmd->add_option("NAME", opts->names)->required();
  cmd->callback([&g, &exit_code, opts] { exit_code = inspect(g, *opts); });
}

}  // namespace berth::ctl
