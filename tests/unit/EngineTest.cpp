// Engine tests with a simulated clock and simulated adapters (no sleeps):
// one scenario per transition and guard.
#include "common/CanonicalJson.h"
#include "compiler/driver/Compilation.h"
#include "compiler/lower/Lower.h"
#include "runtime/daemon/Daemon.h"
#include "runtime/engine/Engine.h"
#include "runtime/store/Store.h"

#include <gtest/gtest.h>
#include <llvm/Support/FileSystem.h>
#include <llvm/Support/Path.h>
#include <llvm/Support/raw_ostream.h>

#include <fstream>

using namespace dpl;
using namespace dpl::runtime;

namespace {

/// Compiles a one-file policy tree (written to a temp dir) into a loaded plan.
Plan compilePolicy(const std::string &body) {
  llvm::SmallString<128> dir;
  llvm::sys::fs::createUniqueDirectory("engine-test", dir);
  std::ofstream(std::string(dir) + "/main.dpl") << body;
  CompileOptions opts;
  opts.root = std::string(dir);
  opts.stdlibDir = DEPLOYC_STDLIB_DIR;
  Compilation comp(opts);
  bool ok = comp.run();
  std::string diags;
  llvm::raw_string_ostream os(diags);
  renderDiagnostics(comp.diags(), os, RenderOptions());
  EXPECT_TRUE(ok) << os.str();
  auto plan = loadPlan(prettyJson(lowerPlan(*comp.model(), comp.merged())));
  EXPECT_TRUE(bool(plan));
  llvm::sys::fs::remove_directories(dir);
  return std::move(*plan);
}

const char *kOrg = R"(owner ops;
stakeholder ops { paths = ["**"]; may = [environments, defaults, require]; services = ["*"]; }
group sre = ["@ann", "@bob"];
environment dev { tier = "dev"; runtime = process { workdir = "d"; }; }
environment prod { tier = "prod"; after = [dev]; runtime = process { workdir = "p"; }; }
)";

/// A simulated world: adapters do what they are told one tick later,
/// releases of `badVersion` come up unhealthy.
struct Sim {
  Plan plan;
  EngineState state;
  Observations obs;
  int64_t now = 1767225600000; // 2026-01-01T00:00:00Z, a Thursday
  std::string badVersion = "bad";
  bool rollbackStuck = false;
  std::vector<Action> actions;
  std::vector<Transition> journal;

  explicit Sim(const std::string &policy) : plan(compilePolicy(policy)) {}

  void release(const std::string &service, const std::string &version, const std::string &by = "@ci") {
    state.releases.push_back({"r" + std::to_string(state.releases.size() + 1), service, version, by, now});
  }
  /// One engine step at `now`, then the adapters act; time moves `dt` ms.
  void tick(int64_t dt = 1000) {
    StepResult r = step(plan, state, obs, now);
    state = r.state;
    for (auto &a : r.actions) {
      actions.push_back(a);
      auto &u = obs.units[a.unit];
      if (a.kind == Action::Kind::Apply) {
        u.version = a.version;
        u.health = a.version == badVersion ? Health::Unhealthy : Health::Healthy;
      } else if (a.kind == Action::Kind::Rollback && !rollbackStuck) {
        u.version = a.version;
        u.health = a.version.empty() ? Health::Unknown : Health::Healthy;
      }
    }
    journal.insert(journal.end(), r.journal.begin(), r.journal.end());
    now += dt;
  }
  void run(int ticks, int64_t dt = 1000) {
    for (int i = 0; i < ticks; ++i)
      tick(dt);
  }
  RunPhase phase(const std::string &unit) { return state.runs.at(unit).phase; }
  size_t count(Action::Kind k, const std::string &unit) {
    size_t n = 0;
    for (auto &a : actions)
      n += a.kind == k && a.unit == unit;
    return n;
  }
};

const std::string kSoak = std::string(kOrg) + R"(service api {
  artifact = exec(["./api", "${version}"]);
  health = http(path = "/healthz");
  require soak(10s);
})";

} // namespace

TEST(Engine, HappyPathPromotesThroughEnvironmentsInOrder) {
  Sim sim(kSoak);
  sim.release("api", "v1");
  sim.run(3);
  EXPECT_EQ(sim.phase("api@dev"), RunPhase::Verifying); // soaking
  EXPECT_EQ(sim.phase("api@prod"), RunPhase::Waiting);  // dev has not succeeded yet
  EXPECT_EQ(sim.count(Action::Kind::Apply, "api@prod"), 0u);
  sim.run(30);
  EXPECT_EQ(sim.phase("api@dev"), RunPhase::Succeeded);
  EXPECT_EQ(sim.phase("api@prod"), RunPhase::Succeeded);
  EXPECT_EQ(sim.count(Action::Kind::Apply, "api@dev"), 1u); // exactly once
  EXPECT_EQ(sim.state.lastGood.at("api@prod"), "v1");
}

TEST(Engine, StaleHealthOfThePreviousVersionNeverCounts) {
  Sim sim(kSoak);
  sim.release("api", "v1");
  sim.run(40);
  ASSERT_EQ(sim.phase("api@dev"), RunPhase::Succeeded);
  // v2: the adapter keeps reporting v1 healthy (the apply has not landed).
  sim.release("api", "v2");
  StepResult r = step(sim.plan, sim.state, sim.obs, sim.now);
  sim.state = r.state;
  for (int i = 0; i < 30; ++i) {
    sim.now += 1000;
    sim.state = step(sim.plan, sim.state, sim.obs, sim.now).state; // obs unchanged: still v1
  }
  EXPECT_EQ(sim.phase("api@dev"), RunPhase::Applying);
}

TEST(Engine, FailedVerificationRollsBackAndBlocksDownstream) {
  Sim sim(kSoak);
  sim.release("api", "v1");
  sim.run(40);
  sim.release("api", "bad");
  sim.run(10);
  EXPECT_EQ(sim.phase("api@dev"), RunPhase::RolledBack);
  EXPECT_EQ(sim.obs.units["api@dev"].version, "v1"); // restored
  // prod keeps v1: its run for r2 is blocked because dev did not succeed.
  EXPECT_EQ(sim.phase("api@prod"), RunPhase::Waiting);
  EXPECT_EQ(sim.state.runs.at("api@prod").waitingOn, "blocked: this release failed in dev (api@dev rolled-back)");
  EXPECT_EQ(sim.obs.units["api@prod"].version, "v1");
  EXPECT_EQ(sim.count(Action::Kind::Apply, "api@prod"), 1u);
  EXPECT_EQ(sim.count(Action::Kind::Rollback, "api@dev"), 1u);
}

TEST(Engine, RollbackHasItsOwnBudgetAndEndsInRollbackFailed) {
  Sim sim(kSoak);
  sim.release("api", "v1");
  sim.run(40);
  sim.rollbackStuck = true;
  sim.release("api", "bad");
  sim.run(5);
  EXPECT_EQ(sim.phase("api@dev"), RunPhase::RollingBack);
  sim.run(400); // rollback_timeout defaults to 5m
  EXPECT_EQ(sim.phase("api@dev"), RunPhase::RollbackFailed);
  EXPECT_EQ(sim.count(Action::Kind::Notify, "api@dev"), 1u);
  EXPECT_EQ(sim.count(Action::Kind::Rollback, "api@dev"), 1u); // no loop
}

TEST(Engine, HaltLeavesTheUnitForAPerson) {
  Sim sim(std::string(kOrg) + R"(service api {
  artifact = exec(["./api"]);
  health = http(path = "/healthz");
  on_failure = halt;
})");
  sim.release("api", "bad");
  sim.run(10);
  EXPECT_EQ(sim.phase("api@dev"), RunPhase::Halted);
  EXPECT_EQ(sim.count(Action::Kind::Rollback, "api@dev"), 0u);
  EXPECT_EQ(sim.state.runs.at("api@prod").phase, RunPhase::Waiting);
}

TEST(Engine, ApprovalNeedsDistinctGroupMembersOtherThanTheReleaser) {
  Sim sim(std::string(kOrg) + R"(service api { artifact = exec(["./api"]); }
rule prod-approval { when env.tier == "prod"; require approval(group = sre, count = 2); })");
  sim.release("api", "v1", "@ann");
  sim.run(5);
  EXPECT_EQ(sim.phase("api@prod"), RunPhase::Gated);
  sim.obs.approvals["api@prod|r1|sre"] = {"@ann", "@mallory"}; // releaser and non-member
  sim.run(3);
  EXPECT_EQ(sim.phase("api@prod"), RunPhase::Gated);
  EXPECT_EQ(sim.state.runs.at("api@prod").waitingOn, "approval by sre: 0/2");
  sim.obs.approvals["api@prod|r1|sre"].insert("@bob");
  sim.run(3);
  EXPECT_EQ(sim.state.runs.at("api@prod").waitingOn, "approval by sre: 1/2");
  sim.release("api", "v2", "@ci");
  sim.obs.approvals["api@prod|r2|sre"] = {"@ann", "@bob"};
  sim.run(10);
  EXPECT_EQ(sim.phase("api@prod"), RunPhase::Succeeded);
  EXPECT_EQ(sim.state.runs.at("api@prod").release, "r2");
}

TEST(Engine, ResourceGateWaitsAndNotifiesOnce) {
  Sim sim(std::string(kOrg) + R"(service api {
  artifact = exec(["./api"]);
  require resource(name = "db-migration", notify = sre);
})");
  sim.release("api", "v1");
  sim.run(20);
  EXPECT_EQ(sim.phase("api@dev"), RunPhase::Gated);
  EXPECT_EQ(sim.count(Action::Kind::Notify, "api@dev"), 1u);
  sim.obs.resources["db-migration"] = true;
  sim.run(5);
  EXPECT_EQ(sim.phase("api@dev"), RunPhase::Succeeded);
}

TEST(Engine, NewerReleaseSupersedesOneThatHasNotStarted) {
  Sim sim(std::string(kOrg) + R"(service api { artifact = exec(["./api"]); }
rule prod-approval { when env.tier == "prod"; require approval(group = sre); })");
  sim.release("api", "v1");
  sim.run(5);
  ASSERT_EQ(sim.phase("api@prod"), RunPhase::Gated); // r1 waits for approval in prod
  sim.release("api", "v2");
  sim.run(5);
  EXPECT_EQ(sim.state.runs.at("api@prod").release, "r2");
  bool superseded = false;
  for (auto &t : sim.journal)
    superseded |= t.unit == "api@prod" && t.release == "r1" && t.to == "superseded";
  EXPECT_TRUE(superseded);
}

TEST(Engine, UtcWindowWaitsUntilOpen) {
  Sim sim(std::string(kOrg) + R"(service api {
  artifact = exec(["./api"]);
  require window(days = [thu], from = 09:00, to = 17:00);
})");
  sim.release("api", "v1");
  sim.run(5); // Thursday 00:00 UTC: closed
  EXPECT_EQ(sim.phase("api@dev"), RunPhase::Gated);
  EXPECT_EQ(sim.state.runs.at("api@dev").waitingOn, "outside the release window");
  sim.now += 9 * 3600 * 1000; // 09:00
  sim.run(5);
  EXPECT_EQ(sim.phase("api@dev"), RunPhase::Succeeded);
}

TEST(Engine, DisconnectedUnitHoldsWithoutFailingAndCatchesUp) {
  Sim sim(kSoak);
  sim.release("api", "v1");
  sim.tick();                                 // apply issued
  sim.obs.units["api@dev"].reachable = false; // the adapter cannot be read
  sim.run(600);                               // 10 min: twice the 5 min apply budget
  EXPECT_EQ(sim.phase("api@dev"), RunPhase::Applying) << "disconnected is not failed";
  EXPECT_EQ(sim.state.runs.at("api@dev").waitingOn.rfind("disconnected since ", 0), 0u);
  size_t notes = 0;
  for (auto &t : sim.journal)
    notes += t.why.find("disconnected") != std::string::npos;
  EXPECT_EQ(notes, 1u) << "journalled once, not every tick";
  sim.obs.units["api@dev"].reachable = true; // it answers again
  sim.run(40);
  EXPECT_EQ(sim.phase("api@dev"), RunPhase::Succeeded);
  EXPECT_EQ(sim.phase("api@prod"), RunPhase::Succeeded);
  EXPECT_EQ(sim.count(Action::Kind::Apply, "api@dev"), 1u);
  EXPECT_EQ(sim.journal.back().unit, "api@prod");
  bool reconnected = false;
  for (auto &t : sim.journal)
    reconnected |= t.why == "reconnected after 600s";
  EXPECT_TRUE(reconnected);
}

TEST(Engine, NoApplyIsIssuedToADisconnectedUnit) {
  Sim sim(kSoak);
  sim.obs.units["api@dev"].reachable = false;
  sim.release("api", "v1");
  sim.run(10);
  EXPECT_EQ(sim.count(Action::Kind::Apply, "api@dev"), 0u);
  sim.obs.units["api@dev"].reachable = true;
  sim.run(1);
  EXPECT_EQ(sim.count(Action::Kind::Apply, "api@dev"), 1u);
}

TEST(Engine, ApplyCompletesOnlyOnceTheTargetVersionsHealthIsKnown) {
  Sim sim(kSoak);
  sim.release("api", "v1");
  sim.tick(); // apply issued; the simulated adapter reports v1 healthy
  sim.obs.units["api@dev"].health = Health::Unknown; // ...but it is still starting
  sim.run(5);
  EXPECT_EQ(sim.phase("api@dev"), RunPhase::Applying);
  EXPECT_EQ(sim.state.runs.at("api@dev").waitingOn, "applying v1");
  sim.obs.units["api@dev"].health = Health::Healthy;
  sim.run(1);
  EXPECT_EQ(sim.phase("api@dev"), RunPhase::Verifying);
}

TEST(Engine, DependsOnWaitsForTheOtherServiceToSucceedInTheSameEnvironment) {
  Sim sim(std::string(kOrg) + R"(service payments {
  artifact = exec(["./payments"]);
  require soak(30s);
}
service api {
  artifact = exec(["./api"]);
  depends_on = [payments];
})");
  sim.release("api", "a1");
  sim.run(5);
  EXPECT_EQ(sim.phase("api@dev"), RunPhase::Waiting);
  EXPECT_EQ(sim.state.runs.at("api@dev").waitingOn, "waiting for payments@dev");
  sim.release("payments", "p1");
  sim.run(20);
  EXPECT_EQ(sim.phase("payments@dev"), RunPhase::Verifying); // soaking
  EXPECT_EQ(sim.phase("api@dev"), RunPhase::Waiting);
  sim.run(60);
  EXPECT_EQ(sim.phase("payments@prod"), RunPhase::Succeeded);
  EXPECT_EQ(sim.phase("api@dev"), RunPhase::Succeeded);
  EXPECT_EQ(sim.phase("api@prod"), RunPhase::Succeeded);
}

TEST(Engine, NewEnvironmentConvergesToTheNewestReleaseThatPassedUpstream) {
  Sim sim(kSoak);
  sim.release("api", "v1");
  sim.run(40);
  ASSERT_EQ(sim.phase("api@prod"), RunPhase::Succeeded);
  sim.release("api", "bad"); // fails in dev and is rolled back
  sim.run(10);
  ASSERT_EQ(sim.phase("api@dev"), RunPhase::RolledBack);
  // A newer plan adds `canary` after dev; no new release is made.
  sim.plan = compilePolicy(std::string(kOrg) + R"(environment canary { tier = "prod"; after = [dev];
  runtime = process { workdir = "c"; }; }
service api {
  artifact = exec(["./api", "${version}"]);
  health = http(path = "/healthz");
  require soak(10s);
})");
  size_t releases = sim.state.releases.size();
  sim.run(40);
  EXPECT_EQ(sim.state.releases.size(), releases);
  EXPECT_EQ(sim.state.lastGoodRelease.at("api@canary"), "r1");
  EXPECT_EQ(sim.obs.units["api@canary"].version, "v1");
  EXPECT_EQ(sim.count(Action::Kind::Apply, "api@canary"), 1u);
  // Having converged, canary, like prod, shows the failed release as blocked.
  EXPECT_EQ(sim.phase("api@canary"), RunPhase::Waiting);
  EXPECT_EQ(sim.state.runs.at("api@canary").release, "r2");
  EXPECT_EQ(sim.state.runs.at("api@canary").waitingOn, "blocked: this release failed in dev (api@dev rolled-back)");
  // prod stays blocked on the failed release, on v1.
  EXPECT_EQ(sim.phase("api@prod"), RunPhase::Waiting);
  EXPECT_EQ(sim.state.runs.at("api@prod").release, "r2");
  EXPECT_EQ(sim.obs.units["api@prod"].version, "v1");
  // A good release later reaches canary like any other environment.
  sim.release("api", "v3");
  sim.run(40);
  EXPECT_EQ(sim.obs.units["api@canary"].version, "v3");
  EXPECT_EQ(sim.obs.units["api@prod"].version, "v3");
}

const std::string kMetric = std::string(kOrg) + R"(service api {
  artifact = exec(["./api"]);
  require metric(query = "error_ratio", below = 1%, for = 1m);
  require alerts(matchers = {"service": "api"});
})";

TEST(Engine, MetricWithoutDataFails) {
  Sim sim(kMetric);
  sim.release("api", "v1");
  sim.run(5);
  EXPECT_EQ(sim.phase("api@dev"), RunPhase::RolledBack);
  bool why = false;
  for (auto &t : sim.journal)
    why |= t.why == "metric error_ratio: no data";
  EXPECT_TRUE(why);
}

TEST(Engine, MetricMustHoldForItsDurationThenAlertsMustBeQuiet) {
  Sim sim(kMetric);
  sim.obs.metrics["api@dev|verify-1-metric"] = 0.002; // 0.2 % < 1 %
  sim.obs.alerts["api@dev|verify-2-alerts"] = {};
  sim.obs.metrics["api@prod|verify-1-metric"] = 0.002;
  sim.obs.alerts["api@prod|verify-2-alerts"] = {"HighLatency"}; // in prod an alert fires
  sim.release("api", "v1");
  sim.run(30);
  EXPECT_EQ(sim.phase("api@dev"), RunPhase::Verifying);
  EXPECT_EQ(sim.state.runs.at("api@dev").waitingOn.rfind("metric error_ratio = 0.002 for ", 0), 0u);
  sim.run(40);
  EXPECT_EQ(sim.phase("api@dev"), RunPhase::Succeeded);
  // ...after its metric held for a minute: the release is rolled back there.
  sim.run(70);
  EXPECT_EQ(sim.phase("api@prod"), RunPhase::RolledBack);
  bool why = false;
  for (auto &t : sim.journal)
    why |= t.unit == "api@prod" && t.why == "alert firing: HighLatency";
  EXPECT_TRUE(why);
}

TEST(Engine, MetricAboveItsThresholdFailsAndNoDataMayWait) {
  Sim sim(std::string(kOrg) + R"(service api {
  artifact = exec(["./api"]);
  require metric(query = "error_ratio", below = 1%, for = 1m, no_data = wait);
})");
  sim.release("api", "v1");
  sim.run(30);
  EXPECT_EQ(sim.phase("api@dev"), RunPhase::Verifying) << "no data waits when the guard says so";
  sim.obs.metrics["api@dev|verify-1-metric"] = 0.05; // 5 %
  sim.run(1);
  EXPECT_EQ(sim.phase("api@dev"), RunPhase::RollingBack);
}

TEST(Engine, StepIsDeterministic) {
  Sim sim(kSoak);
  sim.release("api", "v1");
  sim.run(3);
  StepResult a = step(sim.plan, sim.state, sim.obs, sim.now);
  StepResult b = step(sim.plan, sim.state, sim.obs, sim.now);
  ASSERT_EQ(a.actions.size(), b.actions.size());
  for (size_t i = 0; i < a.actions.size(); ++i)
    EXPECT_EQ(a.actions[i].key(), b.actions[i].key());
  EXPECT_EQ(a.journal.size(), b.journal.size());
}

namespace {

/// Whether a `window` gate is open at `utc` (RFC 3339) for a dev unit.
bool windowOpenAt(const std::string &window, const std::string &utc) {
  Sim sim(std::string(kOrg) + "service api {\n  artifact = exec([\"./api\"]);\n  require " + window + ";\n}\n");
  struct tm tm = {};
  strptime(utc.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  sim.now = int64_t(timegm(&tm)) * 1000;
  sim.release("api", "v1");
  sim.state = step(sim.plan, sim.state, sim.obs, sim.now).state;
  const UnitRun &run = sim.state.runs.at("api@dev");
  return run.phase != RunPhase::Gated;
}

} // namespace

TEST(Engine, WindowInAZoneFollowsItsOffsetAcrossDst) {
  const std::string berlin = "window(days = [mon], from = 09:00, to = 17:00, tz = \"Europe/Berlin\")";
  // Winter (UTC+1): 09:00 Berlin is 08:00 UTC.
  EXPECT_FALSE(windowOpenAt(berlin, "2026-01-05T07:59:00Z"));
  EXPECT_TRUE(windowOpenAt(berlin, "2026-01-05T08:00:00Z"));
  EXPECT_TRUE(windowOpenAt(berlin, "2026-01-05T15:59:00Z"));
  EXPECT_FALSE(windowOpenAt(berlin, "2026-01-05T16:00:00Z"));
  // Summer (UTC+2): 09:00 Berlin is 07:00 UTC.
  EXPECT_FALSE(windowOpenAt(berlin, "2026-07-06T06:59:00Z"));
  EXPECT_TRUE(windowOpenAt(berlin, "2026-07-06T07:00:00Z"));
  // The spring-forward night (29 March 2026, 02:00 → 03:00 local): 03:00
  // local is 01:00 UTC.
  const std::string night = "window(days = [sun], from = 03:00, to = 04:00, tz = \"Europe/Berlin\")";
  EXPECT_FALSE(windowOpenAt(night, "2026-03-29T00:59:00Z"));
  EXPECT_TRUE(windowOpenAt(night, "2026-03-29T01:00:00Z"));
}

TEST(Engine, WindowAcrossMidnightBelongsToTheDayItOpens) {
  const std::string fridayNight = "window(days = [fri], from = 22:00, to = 02:00, tz = \"America/New_York\")";
  // Friday 23:00 and Saturday 01:00 New York (EST, UTC-5) are inside.
  EXPECT_TRUE(windowOpenAt(fridayNight, "2026-01-10T04:00:00Z"));
  EXPECT_TRUE(windowOpenAt(fridayNight, "2026-01-10T06:00:00Z"));
  // Saturday 02:00 and Saturday 23:00 are outside.
  EXPECT_FALSE(windowOpenAt(fridayNight, "2026-01-10T07:00:00Z"));
  EXPECT_FALSE(windowOpenAt(fridayNight, "2026-01-11T04:00:00Z"));
}

TEST(Engine, ManualRollbackPinsTheUnitUntilResumed) {
  Sim sim(kSoak);
  sim.release("api", "v1");
  sim.run(40);
  sim.release("api", "v2");
  sim.run(40);
  ASSERT_EQ(sim.phase("api@prod"), RunPhase::Succeeded);
  ASSERT_EQ(sim.obs.units["api@prod"].version, "v2");
  sim.state.rollbackRequests["api@prod"] = "@ann";
  sim.tick();
  EXPECT_EQ(sim.phase("api@prod"), RunPhase::RolledBack);
  EXPECT_EQ(sim.obs.units["api@prod"].version, "v1"); // the last known good version
  EXPECT_EQ(sim.state.pinned.at("api@prod"), "@ann");
  bool journalled = false;
  for (auto &t : sim.journal)
    journalled |= t.unit == "api@prod" && t.why == "manual rollback by @ann to v1; pinned until resumed";
  EXPECT_TRUE(journalled);
  // A queued release does not re-deploy over the pinned unit…
  sim.release("api", "v3");
  sim.run(40);
  EXPECT_EQ(sim.phase("api@dev"), RunPhase::Succeeded);
  EXPECT_EQ(sim.state.runs.at("api@dev").version, "v3");
  EXPECT_EQ(sim.obs.units["api@prod"].version, "v1");
  // …until someone resumes it.
  sim.state.pinned.erase("api@prod");
  sim.run(40);
  EXPECT_EQ(sim.phase("api@prod"), RunPhase::Succeeded);
  EXPECT_EQ(sim.obs.units["api@prod"].version, "v3");
}

TEST(Engine, FreezeHoldsReleasesUntilItEnds) {
  // The simulated clock starts at 2026-01-01T00:00:00Z.
  Sim sim(std::string(kOrg) + R"(service api {
  artifact = exec(["./api"]);
  require freeze(from = "2025-12-24T00:00:00Z", to = "2026-01-01T00:01:00Z");
})");
  sim.release("api", "v1");
  sim.run(30);
  EXPECT_EQ(sim.phase("api@dev"), RunPhase::Gated);
  EXPECT_EQ(sim.state.runs.at("api@dev").waitingOn, "frozen until 2026-01-01T00:01:00Z");
  EXPECT_EQ(sim.count(Action::Kind::Apply, "api@dev"), 0u);
  sim.run(40); // past 00:01
  EXPECT_EQ(sim.phase("api@dev"), RunPhase::Succeeded);
}

const std::string kTest = std::string(kOrg) + R"(service api {
  artifact = exec(["./api"]);
  require test(command = ["./smoke", "${version}"], timeout = 30s);
})";

TEST(Engine, TestRunsOnceAndItsResultDecides) {
  Sim sim(kTest);
  sim.release("api", "v1");
  sim.run(5);
  EXPECT_EQ(sim.phase("api@dev"), RunPhase::Verifying);
  EXPECT_EQ(sim.state.runs.at("api@dev").waitingOn, "test running");
  EXPECT_EQ(sim.count(Action::Kind::RunTest, "api@dev"), 1u) << "started once, not every tick";
  sim.obs.tests["api@dev|r1|verify-1-test"] = true;
  sim.run(2);
  EXPECT_EQ(sim.phase("api@dev"), RunPhase::Succeeded);
  sim.obs.tests["api@prod|r1|verify-1-test"] = false;
  sim.run(5);
  EXPECT_EQ(sim.phase("api@prod"), RunPhase::RolledBack);
}

TEST(Engine, TestThatNeverAnswersTimesOut) {
  Sim sim(kTest);
  sim.release("api", "v1");
  sim.run(29);
  EXPECT_EQ(sim.phase("api@dev"), RunPhase::Verifying);
  sim.run(5);
  EXPECT_EQ(sim.phase("api@dev"), RunPhase::RolledBack);
  bool why = false;
  for (auto &t : sim.journal)
    why |= t.why == "test timed out";
  EXPECT_TRUE(why);
}

TEST(Engine, ApplyThatFailsOrTimesOutRollsBack) {
  Sim sim(std::string(kOrg) + R"(service api {
  artifact = exec(["./api"]);
  apply_timeout = 20s;
})");
  sim.release("api", "v1");
  sim.run(3);
  ASSERT_EQ(sim.phase("api@prod"), RunPhase::Succeeded);
  sim.release("api", "v2");
  sim.tick();                                // apply issued
  sim.obs.units["api@dev"].version = "v1";   // ...but the runtime still runs v1
  sim.obs.units["api@dev"].applyFailed = true;
  sim.run(2);
  EXPECT_EQ(sim.phase("api@dev"), RunPhase::RolledBack);
  bool failed = false;
  for (auto &t : sim.journal)
    failed |= t.why == "apply failed";
  EXPECT_TRUE(failed);

  sim.obs.units["api@dev"].applyFailed = false;
  sim.release("api", "v3");
  sim.tick();                              // apply issued
  sim.obs.units["api@dev"].version = "v1"; // v3 never shows up
  sim.run(25);
  EXPECT_EQ(sim.phase("api@dev"), RunPhase::RolledBack);
  bool timedOut = false;
  for (auto &t : sim.journal)
    timedOut |= t.why == "apply timed out";
  EXPECT_TRUE(timedOut);
  EXPECT_EQ(sim.state.lastGood.at("api@dev"), "v1");
}

// ---- issue 10: plan changes, drift, bounded verification ----------------

namespace {
bool journalHas(const Sim &sim, const std::string &unit, const std::string &why) {
  for (auto &t : sim.journal)
    if (t.unit == unit && t.why.find(why) != std::string::npos)
      return true;
  return false;
}
const std::string kTwoGates = std::string(kOrg) + R"(group dba = ["@dan"];
service api { artifact = exec(["./api"]); }
rule prod-gates {
  when env.tier == "prod";
  require resource(name = "notes");
  require approval(group = sre);
})";
} // namespace

TEST(Engine, RemovingAGateBeforeTheApprovalNeverSkipsTheApproval) {
  // Before: a unit gated at `approval` (state 2) was read by index in the
  // new plan, whose state 2 was `apply`: prod deployed with no approval.
  Sim sim(kTwoGates);
  sim.release("api", "v1");
  sim.obs.resources["notes"] = true;
  sim.run(6);
  ASSERT_EQ(sim.phase("api@prod"), RunPhase::Gated);
  ASSERT_EQ(sim.state.runs.at("api@prod").waitingOn, "approval by sre: 0/1");
  sim.plan = compilePolicy(std::string(kOrg) + R"(service api { artifact = exec(["./api"]); }
rule prod-gates { when env.tier == "prod"; require approval(group = sre); })");
  sim.run(10);
  EXPECT_EQ(sim.phase("api@prod"), RunPhase::Gated);
  EXPECT_EQ(sim.state.runs.at("api@prod").waitingOn, "approval by sre: 0/1");
  EXPECT_EQ(sim.count(Action::Kind::Apply, "api@prod"), 0u);
  EXPECT_TRUE(journalHas(sim, "-", "plan changed"));
  EXPECT_TRUE(journalHas(sim, "api@prod", "plan changed: gates re-evaluated from the first"));
  sim.obs.approvals["api@prod|r1|sre"] = {"@bob"};
  sim.run(5);
  EXPECT_EQ(sim.phase("api@prod"), RunPhase::Succeeded);
}

TEST(Engine, AnApprovalCountsOnlyForAGateOfTheGroupItWasGivenAs) {
  // A store from another plan whose gate was `dba`: @dan's approval there
  // does not open this plan's `sre` gate.
  Sim sim(std::string(kOrg) + R"(service api { artifact = exec(["./api"]); }
rule prod-approval { when env.tier == "prod"; require approval(group = sre); })");
  sim.release("api", "v1");
  sim.obs.approvals["api@prod|r1|dba"] = {"@ann"};
  sim.obs.approvals["api@prod|r1|"] = {"@bob"}; // from a store before groups were recorded
  sim.run(10);
  EXPECT_EQ(sim.phase("api@prod"), RunPhase::Gated);
  EXPECT_EQ(sim.count(Action::Kind::Apply, "api@prod"), 0u);
}

TEST(Engine, AShorterSoakInANewPlanRestartsVerificationWithoutAFalseFailure) {
  // Before: the run's state index pointed past the soak into `rollback`,
  // and the new plan's shorter soak ended in a false rollback-failed.
  Sim sim(std::string(kOrg) + R"(service api {
  artifact = exec(["./api"]);
  health = http(path = "/healthz");
  require soak(60s);
  require soak(120s);
})");
  sim.release("api", "v1");
  sim.run(70);
  ASSERT_EQ(sim.phase("api@dev"), RunPhase::Verifying);
  sim.plan = compilePolicy(kSoak);
  sim.run(30);
  EXPECT_EQ(sim.phase("api@dev"), RunPhase::Succeeded);
  EXPECT_EQ(sim.count(Action::Kind::Rollback, "api@dev"), 0u);
  EXPECT_TRUE(journalHas(sim, "api@dev", "plan changed: verification restarts at verify-1-health"));
}

TEST(Engine, ManualRollbackWithNoEarlierGoodVersionIsRefusedAndStopsNothing) {
  Sim sim(kSoak);
  sim.release("api", "v1");
  sim.run(40);
  ASSERT_EQ(sim.phase("api@dev"), RunPhase::Succeeded);
  sim.state.rollbackRequests["api@dev"] = "@ann";
  sim.tick();
  EXPECT_EQ(sim.phase("api@dev"), RunPhase::Succeeded);
  EXPECT_EQ(sim.count(Action::Kind::Rollback, "api@dev"), 0u);
  EXPECT_EQ(sim.state.pinned.count("api@dev"), 0u);
  EXPECT_EQ(sim.state.rollbackRequests.count("api@dev"), 0u);
  EXPECT_EQ(sim.obs.units["api@dev"].version, "v1");
  EXPECT_TRUE(journalHas(sim, "api@dev", "manual rollback by @ann refused: no earlier version succeeded here"));
}

TEST(Engine, AConvergedUnitThatTurnsUnhealthyIsJournalledRepairedWithBackoffAndRecovers) {
  Sim sim(kSoak);
  sim.release("api", "v1");
  sim.run(40);
  ASSERT_EQ(sim.phase("api@prod"), RunPhase::Succeeded);
  sim.obs.units["api@prod"].health = Health::Unhealthy;
  size_t before = sim.count(Action::Kind::Apply, "api@prod");
  // The Sim's adapter "re-applies" by setting health from the version: make
  // the repair ineffective for 60 s.
  for (int i = 0; i < 60; ++i) {
    sim.tick();
    sim.obs.units["api@prod"].health = Health::Unhealthy;
  }
  EXPECT_EQ(sim.phase("api@prod"), RunPhase::Succeeded);
  EXPECT_TRUE(journalHas(sim, "api@prod", "unhealthy: v1 runs but fails its health check"));
  // Repairs at 0, 5, 15, 35 s: backing off, never one per tick.
  EXPECT_EQ(sim.count(Action::Kind::Apply, "api@prod") - before, 4u);
  EXPECT_EQ(sim.state.runs.at("api@prod").waitingOn.rfind("unhealthy since ", 0), 0u);
  sim.run(30); // the Sim's next repair makes it healthy
  EXPECT_TRUE(journalHas(sim, "api@prod", "converged: v1 healthy again after"));
  EXPECT_EQ(sim.state.runs.at("api@prod").waitingOn, "");
  EXPECT_EQ(sim.state.runs.at("api@prod").driftSinceMs, -1);
}

TEST(Engine, AWorkloadThatVanishesMidSoakIsRepairedAndTheVerificationIsBounded) {
  // Before: the soak paused forever ("health unknown") and --until-idle
  // never returned.
  Sim sim(std::string(kOrg) + R"(service api {
  artifact = exec(["./api"]);
  health = http(path = "/healthz");
  apply_timeout = 30s;
  require soak(60s);
})");
  sim.release("api", "v1");
  sim.run(10);
  ASSERT_EQ(sim.phase("api@dev"), RunPhase::Verifying);
  for (int i = 0; i < 40; ++i) { // gone, and repairs do not bring it back
    sim.obs.units["api@dev"].version = "";
    sim.obs.units["api@dev"].health = Health::Unknown;
    sim.tick();
  }
  EXPECT_TRUE(journalHas(sim, "api@dev", "drift repaired: found nothing, re-applying v1 (repair 1)"));
  EXPECT_TRUE(journalHas(sim, "api@dev", "v1 is no longer running (found nothing) for 30s"));
  EXPECT_NE(sim.phase("api@dev"), RunPhase::Verifying);
}

TEST(Engine, DriftWithSelfHealOffIsShownButNotRepaired) {
  Sim sim(std::string(kOrg) + R"(service api { artifact = exec(["./api"]); self_heal = false; })");
  sim.release("api", "v1");
  sim.run(10);
  ASSERT_EQ(sim.phase("api@prod"), RunPhase::Succeeded);
  sim.obs.units["api@prod"].version = "";
  sim.run(5);
  EXPECT_EQ(sim.count(Action::Kind::Apply, "api@prod"), 1u);
  EXPECT_TRUE(journalHas(sim, "api@prod", "drift: found nothing, desired v1"));
  EXPECT_NE(sim.state.runs.at("api@prod").waitingOn.find("self_heal is off"), std::string::npos);
}

TEST(Engine, FreezeWithLowercaseSeparatorsFreezes) {
  // `deployc check` accepts RFC 3339's lowercase `t` and `z`; the engine
  // used to read such a freeze as malformed and never froze.
  Sim sim(std::string(kOrg) + R"(service api {
  artifact = exec(["./api"]);
  require freeze(from = "2025-12-24t00:00:00z", to = "2026-01-01t01:00:00+00:30");
})");
  sim.release("api", "v1");
  sim.run(30);
  EXPECT_EQ(sim.phase("api@dev"), RunPhase::Gated);
  EXPECT_EQ(sim.count(Action::Kind::Apply, "api@dev"), 0u);
}

TEST(Engine, StepSaysWhenItNextNeedsToRun) {
  Sim sim(kSoak);
  sim.release("api", "v1");
  sim.run(3); // soaking in dev since a tick ago
  StepResult r = step(sim.plan, sim.state, sim.obs, sim.now);
  int64_t since = sim.state.runs.at("api@dev").healthySinceMs;
  ASSERT_GE(since, 0);
  EXPECT_EQ(r.nextRunAtMs, since + 10000); // the soak's end
  Sim idle(kSoak);
  EXPECT_EQ(step(idle.plan, idle.state, idle.obs, idle.now).nextRunAtMs, INT64_MAX);
}

TEST(Engine, AManualRollbackIsNotAlsoJournalledAsADriftRepair) {
  Sim sim(kSoak);
  sim.release("api", "v1");
  sim.run(40);
  sim.release("api", "v2");
  sim.run(40);
  sim.state.rollbackRequests["api@prod"] = "@ann";
  StepResult r = step(sim.plan, sim.state, sim.obs, sim.now); // the runtime still runs v2
  size_t rollbacks = 0;
  for (auto &a : r.actions)
    rollbacks += a.unit == "api@prod";
  EXPECT_EQ(rollbacks, 1u);
  for (auto &t : r.journal)
    EXPECT_EQ(t.why.find("drift"), std::string::npos) << t.why;
}

TEST(Engine, AUnitWhoseEnvironmentLeftThePlanIsJournalledOrphaned) {
  Sim sim(kSoak);
  sim.release("api", "v1");
  sim.run(40);
  sim.plan = compilePolicy(std::string(R"(owner ops;
stakeholder ops { paths = ["**"]; may = [environments, defaults, require]; services = ["*"]; }
environment dev { tier = "dev"; runtime = process { workdir = "d"; }; }
service api { artifact = exec(["./api", "${version}"]); health = http(path = "/healthz"); require soak(10s); })"));
  sim.tick();
  EXPECT_TRUE(journalHas(sim, "api@prod", "not in the plan: its workload keeps running until `deployd prune prod`"));
  EXPECT_EQ(sim.state.runs.count("api@prod"), 1u); // kept: status shows it orphaned
}

TEST(Daemon, ATestCutShortByAStopRunsAgainAndTheJournalSaysSo) {
  // Before: a `test` command ran twice after a kill (2 of 16 rollouts) and
  // nothing said so.
  Plan plan = compilePolicy(kTest);
  llvm::SmallString<128> dir;
  llvm::sys::fs::createUniqueDirectory("daemon-test", dir);
  std::string path = std::string(dir) + "/st.db";
  {
    auto store = openSqliteStore(path);
    ASSERT_TRUE(bool(store));
    Action test{Action::Kind::RunTest, "api@dev", "r1", "v1", plan.unit("api@dev")->states[2].name};
    ASSERT_FALSE(bool((*store)->commitStep(EngineState{}, {}, {test}, 1)));
  }
  auto store = openSqliteStore(path);
  {
    Daemon daemon(plan, **store, [](const std::string &) {});
    ASSERT_FALSE(bool(daemon.replayPending(2)));
  }
  auto journal = (*store)->history("api@dev");
  ASSERT_TRUE(bool(journal));
  ASSERT_EQ(journal->size(), 1u);
  EXPECT_EQ(journal->front().transition.why,
            "test " + plan.unit("api@dev")->states[2].name + " runs again: deployd stopped while it ran");
  llvm::sys::fs::remove_directories(dir);
}
