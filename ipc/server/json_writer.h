// JsonWriter: appends JSON to a string as it goes, with no tree in between,
// for the responses whose size grows with the number of containers (ps:
// 10,000 summaries are 7 MB; building them as nlohmann trees and dumping
// them cost 185 ms, mostly malloc and free). The output is byte for byte
// what nlohmann's dump() gives for the same values (compact, ensure_ascii
// off, invalid UTF-8 replaced by U+FFFD as json_quote does), so a view can
// be written once and read back as a tree where one is wanted
// (`written_tree`). Pure; any thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace berth::ipc {

class JsonWriter {
 public:
  explicit JsonWriter(std::string* out) : out_(*out) {}

  JsonWriter& begin_object() { return open('{'); }
  JsonWriter& end_object() { return close('}'); }
  JsonWriter& begin_array() { return open('['); }
  JsonWriter& end_array() { return close(']'); }
  // The key of the next member of the object being written.
  JsonWriter& key(std::string_view k);

  JsonWriter& value(std::string_view s);
  JsonWriter& value(const char* s) { return value(std::string_view(s)); }
  JsonWriter& value(const std::string& s) { return value(std::string_view(s)); }
  JsonWriter& value(bool b);
  JsonWriter& value(int64_t n);
  JsonWriter& value(uint64_t n);
  JsonWriter& value(int n) { return value(int64_t(n)); }
  JsonWriter& value(unsigned n) { return value(uint64_t(n)); }
  JsonWriter& null();
  // ["a", "b"], or null for an empty list when `empty_is_null`.
  JsonWriter& strings(const std::vector<std::string>& v, bool empty_is_null = false);
  // {"k": "v", ...} in the map's order.
  JsonWriter& string_map(const std::map<std::string, std::string>& m);

  // `k` then the value: member("Id", id).
  template <class T>
  JsonWriter& member(std::string_view k, const T& v) {
    key(k);
    return value(v);
  }

 private:
  JsonWriter& open(char c);
  JsonWriter& close(char c);
  void comma();   // before a value or key at the current level
  void quoted(std::string_view s);
  template <class T>
  JsonWriter& number(T n);

  std::string& out_;
  // Per open level: whether it has an element yet (bit `depth_`).
  uint64_t has_element_ = 0;
  unsigned depth_ = 0;
  bool after_key_ = false;
};

// What `write(w)` writes, read back as a tree, for a view written once for
// a hot path and also wanted as a tree elsewhere (ps's summary, read by df).
template <class Write>
nlohmann::ordered_json written_tree(Write write) {
  std::string out;
  JsonWriter w(&out);
  write(w);
  return nlohmann::ordered_json::parse(out);
}

}  // namespace berth::ipc
