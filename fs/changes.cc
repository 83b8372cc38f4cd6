#include "fs/changes.h"

#include <sys/stat.h>

#include "fs/layer_stack.h"

namespace berth::fs {

namespace {

constexpr size_t kUpper = 0;

bool meta_differs(const struct stat& a, const struct stat& b) {
  return a.st_mode != b.st_mode || a.st_uid != b.st_uid || a.st_gid != b.st_gid ||
         a.st_mtim.tv_sec != b.st_mtim.tv_sec || a.st_mtim.tv_nsec != b.st_mtim.tv_nsec;
}

class ChangeWalk {
 public:
  explicit ChangeWalk(const LayerStack& s) : s_(s) {}

  // Compares directory `rel` of the upper layer with the image's view of
  // it; `opaque`: nothing of the image's directory shows through.
  Result<void> walk(const std::string& rel, const StackDir& upper, const StackDir& lower, bool opaque,
                    std::vector<Change>& out) {
    auto u = upper.entries.begin(), ue = upper.entries.end();
    auto l = lower.entries.begin(), le = lower.entries.end();
    while (u != ue || l != le) {
      if (u == ue || (l != le && l->name < u->name)) {  // only the image has it
        if (opaque) out.push_back({"/" + join_rel(rel, l->name), ChangeKind::kDeleted});
        ++l;
        continue;
      }
      const StackEntry* below = nullptr;
      if (l != le && l->name == u->name) below = &*l++;
      BERTH_TRY_VOID(entry(rel, *u, below, opaque, out));
      ++u;
    }
    return ok();
  }

 private:
  Result<void> entry(const std::string& rel, const StackEntry& u, const StackEntry* l, bool opaque,
                     std::vector<Change>& out) {
    std::string path = join_rel(rel, u.name);
    if (u.whiteout) {
      if (l) out.push_back({"/" + path, ChangeKind::kDeleted});
      return ok();
    }
    if (!S_ISDIR(u.st.st_mode)) {
      out.push_back({"/" + path, l ? ChangeKind::kModified : ChangeKind::kAdded});
      return ok();
    }
    StackDir sub_upper = BERTH_TRY(s_.read_dir(path, {kUpper}, true));
    bool lower_dir = l && S_ISDIR(l->st.st_mode);
    StackDir sub_lower;
    if (lower_dir) sub_lower = BERTH_TRY(s_.read_dir(path, l->dir_layers, false));
    std::vector<Change> inside;
    BERTH_TRY_VOID(walk(path, sub_upper, sub_lower, opaque || sub_upper.opaque, inside));
    if (!l)
      out.push_back({"/" + path, ChangeKind::kAdded});
    else if (!lower_dir || !inside.empty() || meta_differs(u.st, l->st))
      out.push_back({"/" + path, ChangeKind::kModified});
    for (Change& c : inside) out.push_back(std::move(c));
    return ok();
  }

  const LayerStack& s_;
};

}  // namespace

const char* change_letter(ChangeKind k) {
  switch (k) {
    case ChangeKind::kModified: return "C";
    case ChangeKind::kAdded: return "A";
    case ChangeKind::kDeleted: return "D";
  }
  return "?";
}

Result<std::vector<Change>> list_changes(const std::string& upper, const std::vector<std::string>& lowers_top_first) {
  std::vector<std::string> layers{upper};
  layers.insert(layers.end(), lowers_top_first.begin(), lowers_top_first.end());
  LayerStack s = BERTH_TRY(LayerStack::open(layers));
  std::vector<size_t> lowers = s.all_layers();
  lowers.erase(lowers.begin());
  StackDir root_upper = BERTH_TRY(s.read_dir("", {kUpper}, true));
  StackDir root_lower = BERTH_TRY(s.read_dir("", lowers, false));
  std::vector<Change> out;
  BERTH_TRY_VOID(ChangeWalk(s).walk("", root_upper, root_lower, root_upper.opaque, out));
  return out;
}

}  // namespace berth::fs
