// Docker's list and event filters (`filters={"key":{"value":true}}`):
// values of one key are alternatives (any may match), different keys must
// all hold; label= values must all hold (Docker's MatchKVList). An unknown
// key is a 400 ("invalid filter 'x'"), as Docker answers.
//
// Pure helpers over values; reactor thread for the engine lookups the
// container matcher needs (before/since name other containers).
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"
#include "ipc/proto/api_json.h"
#include "ipc/proto/request.h"

namespace berth::engine {
class Engine;
struct Container;
}

namespace berth::ipc {

// The request's `filters` (absent or "": none), with only `allowed` keys.
Result<Filters> request_filters(const Request& req, std::initializer_list<std::string_view> allowed);

// Docker's Args.Match: equal, or the value as a regular expression that
// matches somewhere in `source` (an invalid expression matches nothing).
bool filter_match(std::string_view value, std::string_view source);
// label=k or label=k=v, every one (Docker's MatchKVList).
bool labels_match(const std::map<std::string, std::string>& labels, const std::vector<std::string>& wanted);
// A unix timestamp ("1735689600.5") or a Go duration before now ("10m",
// "1h30m"), as `until` filters take them; nullopt when neither.
std::optional<int64_t> parse_until_ns(std::string_view s);
// "true"/"1" or "false"/"0"; else 400 naming the filter.
Result<bool> filter_bool(std::string_view key, std::string_view value);

// GET /containers/json's filters, checked once per request (before,
// since and ancestor resolved against the engine): id, name, label,
// status, exited, ancestor, before, since, volume, network, health,
// publish, expose, is-task.
class ContainerFilter {
 public:
  static Result<ContainerFilter> make(engine::Engine& e, const Request& req);
  bool match(const engine::Container& c) const;
  // status= asks for stopped containers too (as does all=1).
  bool wants_all() const { return f_.count("status") || f_.count("exited"); }

 private:
  Filters f_;
  int64_t before_ns_ = 0, since_ns_ = 0;   // created before/after that container (0: no bound)
  std::vector<std::string> ancestor_ids_; // image IDs the ancestor= values resolve to
};

// GET /images/json's filters: dangling, label, before, since, reference,
// until.
class ImageFilter {
 public:
  static Result<ImageFilter> make(engine::Engine& e, const Request& req);
  bool match(const std::string& id, const std::vector<std::string>& repo_tags, int64_t created_ns,
             const std::map<std::string, std::string>& labels) const;

 private:
  Filters f_;
  int64_t before_ns_ = 0, since_ns_ = 0, until_ns_ = 0;
};

}  // namespace berth::ipc
