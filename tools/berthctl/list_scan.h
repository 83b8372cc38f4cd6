// A quick reader of big JSON lists for berthctl: `ps -a` at 10,000
// containers gets a 7 MB array of summaries and shows 8 of each one's
// fields. nlohmann's parser (even with a callback that drops the other
// fields) lexes every byte of every value; this one skips the values it
// does not keep by scanning for their ends, and builds json only for the
// kept ones. Pure function; any thread.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace berth::ctl {

// `body` as a JSON array of objects, each reduced to its keys in `keep`
// (values as nlohmann would parse them). nullopt when `body` is not an
// array of objects or a kept value is not valid JSON; a skipped value is
// only checked for where it ends (strings, brackets), not for its grammar.
std::optional<nlohmann::json> scan_object_list(std::string_view body,
                                               const std::set<std::string, std::less<>>& keep);

}  // namespace berth::ctl
