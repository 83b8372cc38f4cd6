// The container state machine as a whole: every (verb, status) pair has
// its expected answer here, written out as a table, so a change to one rule
// shows up as a change to this table.
#include "core/engine/status.h"

#include <gtest/gtest.h>

#include <string>

namespace berth::engine {
namespace {

// o: allowed; C: 409 conflict; N: 304 not modified.
// Columns: created running paused restarting removing exited dead.
struct Row {
  Verb verb;
  const char* expect;
};
constexpr Row kTable[] = {
    {Verb::kStart, /*        */ "oNNoCoC"},
    {Verb::kStop, /*         */ "NoCoCNN"},
    {Verb::kKill, /*         */ "CoCCCCC"},
    {Verb::kPause, /*        */ "CoCCCCC"},
    {Verb::kUnpause, /*      */ "CCoCCCC"},
    {Verb::kRemove, /*       */ "oCCCCoo"},
    {Verb::kForceRemove, /*  */ "ooooCoo"},
    {Verb::kExec, /*         */ "CoCCCCC"},
    {Verb::kResize, /*       */ "CooCCCC"},
    {Verb::kUpdate, /*       */ "ooooCoC"},
    {Verb::kCommit, /*       */ "ooooCoC"},
    {Verb::kAttach, /*       */ "ooooooo"},
    {Verb::kRename, /*       */ "ooooCoC"},
    {Verb::kTop, /*          */ "CooCCCC"},
    {Verb::kConnect, /*      */ "ooooCoC"},
    {Verb::kDisconnect, /*   */ "ooooCoC"},
};

TEST(StatusTest, EveryVerbInEveryStatus) {
  static_assert(std::size(kTable) == kVerbCount, "a verb is missing from the table");
  for (const Row& row : kTable) {
    ASSERT_EQ(std::string(row.expect).size(), size_t(kStatusCount)) << verb_name(row.verb);
    for (int s = 0; s < kStatusCount; s++) {
      Status st = Status(s);
      auto r = can(row.verb, st, "abc");
      char got = r ? 'o' : r.error().code() == Code::kNotModified ? 'N' : r.error().code() == Code::kConflict ? 'C' : '?';
      EXPECT_EQ(got, row.expect[s]) << verb_name(row.verb) << " in " << status_name(st)
                                    << (r ? std::string() : ": " + r.error().message());
    }
  }
}

TEST(StatusTest, DockersMessages) {
  EXPECT_EQ(can(Verb::kKill, Status::kExited, "c1").error().message(), "Container c1 is not running");
  EXPECT_EQ(can(Verb::kStop, Status::kPaused, "c1").error().message(),
            "Container c1 is paused. Unpause the container before stopping or killing");
  EXPECT_EQ(can(Verb::kRemove, Status::kRunning, "c1").error().message(),
            "You cannot remove a running container c1. Stop the container before attempting removal or force remove");
  EXPECT_EQ(can(Verb::kPause, Status::kPaused, "c1").error().message(), "Container c1 is already paused");
  EXPECT_EQ(can(Verb::kStart, Status::kRemoving, "c1").error().message(),
            "container c1 is marked for removal and cannot be started");
}

TEST(StatusTest, RunningMeansTheProcessLives) {
  EXPECT_TRUE(is_running(Status::kRunning));
  EXPECT_TRUE(is_running(Status::kPaused));
  for (Status s : {Status::kCreated, Status::kRestarting, Status::kRemoving, Status::kExited, Status::kDead})
    EXPECT_FALSE(is_running(s)) << status_name(s);
}

}  // namespace
}  // namespace berth::engine
