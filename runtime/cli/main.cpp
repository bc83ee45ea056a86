// deployd: the runtime. `run` drives every environment of a compiled plan
// to convergence; the other commands record releases, approvals and
// resource states in the shared store and report status and history.
#include "runtime/daemon/Daemon.h"

#include "common/Time.h"

#include <CLI/CLI.hpp>
#include <llvm/ADT/StringExtras.h>
#include <llvm/Support/Format.h>
#include <llvm/Support/FormatVariadic.h>
#include <llvm/Support/raw_ostream.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <functional>
#include <map>
#include <tuple>
#include <thread>

using namespace dpl::runtime;

namespace {

enum ExitCode { ExitOk = 0, ExitFailure = 1, ExitUsage = 2 };

volatile std::sig_atomic_t gStop = 0;
void onSignal(int) { gStop = 1; }

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string stamp(int64_t ms) {
  std::time_t s = ms / 1000;
  struct tm tm;
  gmtime_r(&s, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

int fail(const std::string &message, int code = ExitFailure) {
  llvm::errs() << "deployd: error: " << message << "\n";
  return code;
}

enum class StoreMode { Create, CreateInExistingDir, MustExist };

/// Opens the store at `path`. `run` creates it (and its directory); `release`
/// creates it only in an existing directory (queueing a release before the
/// first `run`); every other command needs an existing store, so that a
/// mistyped --state or a wrong directory is an error, not an empty store.
std::unique_ptr<Store> openStore(const std::string &path, StoreMode mode = StoreMode::MustExist) {
  std::error_code ec;
  namespace fs = std::filesystem;
  fs::path parent = fs::path(path).parent_path();
  if (fs::is_directory(path, ec)) {
    fail("--state " + path + " is a directory; expected the store file (e.g. .deploy/state.db)", ExitUsage);
    return nullptr;
  }
  if (!fs::exists(path, ec)) {
    if (mode == StoreMode::MustExist) {
      fail("no deployd store at " + path + " (start `deployd run` here, or pass --state FILE)", ExitUsage);
      return nullptr;
    }
    if (mode == StoreMode::CreateInExistingDir && !parent.empty() && !fs::is_directory(parent, ec)) {
      fail("no directory " + parent.string() + " for the store " + path + " (start `deployd run` here, or pass --state FILE)",
           ExitUsage);
      return nullptr;
    }
    if (!parent.empty())
      fs::create_directories(parent, ec);
  }
  auto store = openSqliteStore(path);
  if (!store) {
    fail(llvm::toString(store.takeError()), ExitUsage);
    return nullptr;
  }
  return std::move(*store);
}

/// The plan that names the services, units and resources a command refers
/// to; nullptr (after an error message) when it cannot be loaded.
std::unique_ptr<Plan> planFor(const std::string &planPath, const char *why) {
  auto plan = loadPlanFile(planPath);
  if (!plan) {
    fail(llvm::toString(plan.takeError()) + " (the plan is needed " + why + "; pass --plan FILE)", ExitUsage);
    return nullptr;
  }
  return std::make_unique<Plan>(std::move(*plan));
}

/// Takes `STATE.lock` for the rest of the process (flock, released when it
/// exits, however it exits). False when another process holds it: `run`
/// and `down` exclude each other and themselves.
bool holdRunLock(const std::string &statePath) {
  std::string lockPath = statePath + ".lock";
  int lock = open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  return lock >= 0 && flock(lock, LOCK_EX | LOCK_NB) == 0;
}

/// The closest of `names` to `typo`, for "did you mean" (edit distance ≤ 3).
std::string closest(const std::string &typo, const std::vector<std::string> &names) {
  std::string best;
  unsigned bestDistance = 4;
  for (const std::string &n : names) {
    unsigned d = llvm::StringRef(typo).edit_distance(n, true, bestDistance);
    if (d < bestDistance) {
      bestDistance = d;
      best = n;
    }
  }
  return best.empty() ? "" : "; did you mean `" + best + "`?";
}

int unknownUnit(const Plan &plan, const std::string &unit, const std::string &planPath) {
  std::vector<std::string> ids;
  for (auto &u : plan.units)
    ids.push_back(u.id);
  return fail("unknown unit `" + unit + "` in " + planPath + closest(unit, ids), ExitUsage);
}

/// Checks that `unit` names a unit of the plan at `planPath`. Returns -1
/// when it does, else the exit code (after the error message).
int checkUnit(const std::string &planPath, const std::string &unit) {
  auto plan = planFor(planPath, "to check the unit");
  if (!plan)
    return ExitUsage;
  return plan->unit(unit) ? -1 : unknownUnit(*plan, unit, planPath);
}

/// A version is a non-empty word of letters, digits and `.`, `_`, `+`, `-`
/// (it names directories, log files and process arguments).
bool validVersion(const std::string &v) {
  if (v.empty() || v.size() > 128 || v[0] == '.' || v[0] == '-')
    return false;
  return std::all_of(v.begin(), v.end(), [](char c) {
    return isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '+' || c == '-';
  });
}

/// "30s", "500ms", "2m", "1h" → milliseconds; -1 when malformed (common/Time.h).
int64_t parseDuration(const std::string &s) { return dpl::parseDurationText(s).value_or(-1); }

/// The engine's clock. Real time by default; for demos and drills,
/// `--clock-start T --clock-rate R` makes "now" start at T and advance R
/// times faster than real time (timers, soaks and windows follow it; process
/// start-up and health checks stay real).
struct Clock {
  int64_t startMs = -1;
  double rate = 1;
  std::chrono::steady_clock::time_point origin = std::chrono::steady_clock::now();
  int64_t now() const {
    if (startMs < 0 && rate == 1)
      return nowMs();
    int64_t base = startMs < 0 ? nowMs() : startMs;
    auto real = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - origin);
    return base + int64_t(double(real.count()) * rate);
  }
};

int runDaemon(const std::string &planPath, const std::string &statePath, const std::string &tickText,
              bool untilIdle, const std::string &clockStart, double clockRate) {
  auto plan = loadPlanFile(planPath);
  if (!plan)
    return fail(llvm::toString(plan.takeError()), ExitUsage);
  int64_t tick = parseDuration(tickText);
  if (tick <= 0)
    return fail("--tick: expected a duration such as 1s or 500ms, found `" + tickText + "`", ExitUsage);
  Clock clock;
  if (!clockStart.empty() && (clock.startMs = dpl::parseRfc3339(clockStart).value_or(-1)) < 0)
    return fail("--clock-start: expected a UTC time such as 2026-12-01T09:00:00Z, found `" + clockStart + "`",
                ExitUsage);
  if (!(clockRate > 0 && clockRate <= 1000))
    return fail("--clock-rate: expected a factor in (0, 1000]", ExitUsage);
  clock.rate = clockRate;
  clock.origin = std::chrono::steady_clock::now();
  auto store = openStore(statePath, StoreMode::Create);
  if (!store)
    return ExitUsage;
  // One engine per store: a second `run` is refused while the first holds the lock.
  if (!holdRunLock(statePath))
    return fail("another `deployd run` is already using " + statePath + " (lock " + statePath + ".lock is held)",
                ExitUsage);
  std::signal(SIGINT, onSignal);
  std::signal(SIGTERM, onSignal);
  auto log = [&clock](const std::string &line) {
    llvm::outs() << stamp(clock.now()) << "  " << line << "\n";
    llvm::outs().flush();
  };
  if (clock.startMs >= 0 || clock.rate != 1)
    log(llvm::formatv("simulated clock: starts {0}, runs {1}x real time", stamp(clock.now()),
                      llvm::StringRef(std::to_string(clock.rate)).rtrim('0').rtrim('.'))
            .str());
  Daemon daemon(*plan, *store, log);
  if (llvm::Error e = daemon.replayPending(clock.now()))
    return fail(llvm::toString(std::move(e)));
  unsigned quiet = 0;
  while (!gStop) {
    auto report = daemon.tick(clock.now());
    if (!report)
      return fail(llvm::toString(report.takeError()));
    quiet = report->actions || report->transitions || report->busy ? 0 : quiet + 1;
    if (untilIdle && quiet >= 2) {
      log("idle: nothing to do until a release, an approval, a resource or a window changes");
      break;
    }
    for (int64_t waited = 0; waited < tick && !gStop; waited += 50)
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min<int64_t>(50, tick - waited)));
  }
  if (gStop)
    log("stopping on signal; workloads keep running");
  return ExitOk;
}

/// `down`: stops every workload of the plan. Refused while a `run` holds
/// the store, which would start them again.
int down(const std::string &planPath, const std::string &statePath) {
  auto plan = loadPlanFile(planPath);
  if (!plan)
    return fail(llvm::toString(plan.takeError()), ExitUsage);
  auto store = openStore(statePath);
  if (!store)
    return ExitUsage;
  if (!holdRunLock(statePath))
    return fail("a `deployd run` is using " + statePath + " (lock " + statePath + ".lock is held); stop it first",
                ExitUsage);
  Daemon daemon(*plan, *store, [](const std::string &line) { llvm::outs() << line << "\n"; });
  return daemon.stopAll() ? ExitFailure : ExitOk;
}

int release(const std::string &statePath, const std::string &planPath, const std::string &service,
            const std::string &version, const std::string &by) {
  if (!validVersion(version))
    return fail("invalid version `" + version +
                    "`: expected letters, digits, `.`, `_`, `+` or `-`, not starting with `.` or `-`",
                ExitUsage);
  auto plan = planFor(planPath, "to check the service name");
  if (!plan)
    return ExitUsage;
  bool known = false;
  std::vector<std::string> names;
  for (auto &svc : plan->services) {
    known |= svc.name == service;
    names.push_back(svc.name);
  }
  if (!known)
    return fail("unknown service `" + service + "` in " + planPath + closest(service, names), ExitUsage);
  auto store = openStore(statePath, StoreMode::CreateInExistingDir);
  if (!store)
    return ExitUsage;
  // The id is allocated inside the transaction: two concurrent `release`
  // commands never get the same one.
  Release r{"", service, version, by, nowMs(), plan->hash};
  if (llvm::Error e = store->mutateState(
          [&](EngineState &s) {
            r.id = "r" + std::to_string(s.releases.size() + 1);
            s.releases.push_back(r);
          },
          r.createdAtMs))
    return fail(llvm::toString(std::move(e)));
  llvm::outs() << "release " << r.id << ": " << service << " " << version << " by " << by << "\n";
  return ExitOk;
}

int approve(const std::string &statePath, const std::string &planPath, const std::string &unitId,
            const std::string &who) {
  auto plan = loadPlanFile(planPath);
  if (!plan)
    return fail(llvm::toString(plan.takeError()), ExitUsage);
  const PlanUnit *unit = plan->unit(unitId);
  if (!unit)
    return unknownUnit(*plan, unitId, planPath);
  auto store = openStore(statePath);
  if (!store)
    return ExitUsage;
  auto state = store->loadState();
  if (!state)
    return fail(llvm::toString(state.takeError()));
  const Release *latest = nullptr;
  for (auto &r : state->releases)
    if (r.service == unit->service)
      latest = &r;
  if (!latest)
    return fail("no release of `" + unit->service + "` to approve");
  std::vector<std::string> groups;
  std::string asGroup; // the first approval gate's group the person is in
  bool member = false;
  for (auto &s : unit->states)
    if (s.guard == "approval") {
      std::string g = s.params.getString("group").getValueOr("").str();
      groups.push_back(g);
      if (const PlanGroup *pg = plan->group(g))
        if (std::find(pg->members.begin(), pg->members.end(), who) != pg->members.end() && !member) {
          member = true;
          asGroup = g;
        }
    }
  if (groups.empty())
    return fail(unitId + " needs no approval");
  if (!member)
    return fail(who + " may not approve " + unitId + ": not a member of " + groups.front());
  if (who == latest->createdBy)
    return fail(who + " created release " + latest->id + " and cannot approve it");
  // Approving twice is harmless (one approval per person and release) but
  // says so, rather than suggesting a second approval was counted.
  Observations signals;
  if (llvm::Error e = store->loadSignals(signals))
    return fail(llvm::toString(std::move(e)));
  if (auto it = signals.approvals.find(unitId + "|" + latest->id + "|" + asGroup);
      it != signals.approvals.end() && it->second.count(who)) {
    llvm::outs() << who << " already approved " << unitId << " release " << latest->id << " (" << latest->version
                 << "); nothing changed\n";
    return ExitOk;
  }
  if (llvm::Error e = store->recordApproval({unitId, latest->id, asGroup, who, plan->hash}, nowMs()))
    return fail(llvm::toString(std::move(e)));
  llvm::outs() << "approved " << unitId << " release " << latest->id << " (" << latest->version << ") as " << who
               << "\n";
  return ExitOk;
}

int resource(const std::string &statePath, const std::string &planPath, const std::string &name,
             const std::string &value) {
  if (value != "ready" && value != "not-ready")
    return fail("expected `ready` or `not-ready`, found `" + value + "`", ExitUsage);
  // The name must be one a `resource` guard of the plan waits for (with
  // `${version}` standing for any version).
  auto plan = planFor(planPath, "to check the resource name");
  if (!plan)
    return ExitUsage;
  std::vector<std::string> names;
  bool known = false;
  for (auto &u : plan->units)
    for (auto &st : u.states)
      if (st.guard == "resource") {
        std::string pattern = st.params.getString("name").getValueOr("").str();
        names.push_back(pattern);
        size_t at = pattern.find("${version}");
        if (at == std::string::npos)
          known |= pattern == name;
        else
          known |= name.size() > pattern.size() - 10 && name.compare(0, at, pattern, 0, at) == 0 &&
                   name.compare(name.size() - (pattern.size() - at - 10), std::string::npos, pattern, at + 10,
                                std::string::npos) == 0;
      }
  if (!known) {
    std::string hint = closest(name, names);
    if (hint.empty() && !names.empty()) {
      std::sort(names.begin(), names.end());
      names.erase(std::unique(names.begin(), names.end()), names.end());
      hint = "; its resource guards wait for " + llvm::join(names.begin(), names.begin() + std::min<size_t>(names.size(), 8), ", ");
    }
    return fail("no resource guard in " + planPath + " waits for `" + name + "`" + hint, ExitUsage);
  }
  auto store = openStore(statePath);
  if (!store)
    return ExitUsage;
  if (llvm::Error e = store->setResource(name, value == "ready", nowMs()))
    return fail(llvm::toString(std::move(e)));
  llvm::outs() << "resource " << name << ": " << value << "\n";
  return ExitOk;
}

/// `rollback SERVICE@ENV` / `resume SERVICE@ENV`: recorded in the store and
/// carried out (and journalled) by the running engine at its next tick.
int pin(const std::string &statePath, const std::string &planPath, const std::string &unit, const std::string &who,
        bool rollback) {
  if (unit.find('@') == std::string::npos)
    return fail("expected a unit as SERVICE@ENV, found `" + unit + "`", ExitUsage);
  if (int rc = checkUnit(planPath, unit); rc >= 0)
    return rc;
  auto store = openStore(statePath);
  if (!store)
    return ExitUsage;
  bool wasPinned = false;
  llvm::Error e = store->mutateState(
      [&](EngineState &s) {
        wasPinned = s.pinned.count(unit) != 0;
        if (rollback)
          s.rollbackRequests[unit] = who;
        else
          s.pinned.erase(unit);
      },
      nowMs());
  if (e)
    return fail(llvm::toString(std::move(e)));
  if (rollback)
    llvm::outs() << "rollback of " << unit << " requested by " << who
                 << "; the engine restores the last known good version at its next tick and pins the unit\n";
  else
    llvm::outs() << (wasPinned ? "resumed " : "not pinned: ") << unit << "\n";
  return ExitOk;
}

/// Units in rollout order when the plan is at hand: by environment depth
/// along `after` (dev before staging before prod), then environment, then
/// service. Otherwise by name.
std::vector<std::string> rolloutOrder(std::vector<std::string> units, const std::string &planPath) {
  auto plan = loadPlanFile(planPath);
  if (!plan) {
    llvm::consumeError(plan.takeError());
    return units;
  }
  std::map<std::string, int> depth;
  std::function<int(const std::string &, int)> depthOf = [&](const std::string &env, int guard) -> int {
    if (auto it = depth.find(env); it != depth.end())
      return it->second;
    int d = 0;
    for (auto &e : plan->environments)
      if (e.name == env && guard < 64)
        for (auto &up : e.after)
          d = std::max(d, depthOf(up, guard + 1) + 1);
    return depth[env] = d;
  };
  auto key = [&](const std::string &u) {
    std::string env = u.substr(u.find('@') + 1);
    return std::make_tuple(depthOf(env, 0), env, u.substr(0, u.find('@')));
  };
  std::stable_sort(units.begin(), units.end(), [&](auto &x, auto &y) { return key(x) < key(y); });
  return units;
}

/// One frame of `status`: every unit's release, desired and actual version,
/// state, since when, and what it waits on. With `header` (--watch), a first
/// line with the time, and deployd's own time when it runs on a simulated
/// clock (`run --clock-start`), which is the clock of the SINCE column.
int statusOnce(Store &store, const std::string &planPath, const std::string *header = nullptr) {
  auto state = store.loadState();
  if (!state)
    return fail(llvm::toString(state.takeError()));
  auto observed = store.observations();
  if (!observed)
    return fail(llvm::toString(observed.takeError()));
  std::vector<std::string> units;
  for (auto &[unit, run] : state->runs)
    units.push_back(unit);
  for (auto &[unit, o] : *observed)
    if (!state->runs.count(unit))
      units.push_back(unit);
  units = rolloutOrder(units, planPath);
  if (header) {
    int64_t now = nowMs(), daemon = -1;
    for (auto &[unit, o] : *observed)
      daemon = std::max(daemon, o.atMs);
    llvm::outs() << "deployd status at " << stamp(now);
    if (daemon >= 0 && std::llabs(daemon - now) > 60000)
      llvm::outs() << " (deployd's clock: " << stamp(daemon) << ")";
    llvm::outs() << " " << *header << "\n";
  }
  auto row = [](llvm::StringRef a, llvm::StringRef b, llvm::StringRef c, llvm::StringRef d, llvm::StringRef e,
                llvm::StringRef f, llvm::StringRef g) {
    llvm::outs() << llvm::left_justify(a, 20) << " " << llvm::left_justify(b, 7) << " " << llvm::left_justify(c, 10)
                 << " " << llvm::left_justify(d, 18) << " " << llvm::left_justify(e, 15) << " "
                 << llvm::left_justify(f, 20) << " " << g << "\n";
  };
  row("UNIT", "RELEASE", "DESIRED", "ACTUAL", "STATE", "SINCE", "WAITING ON");
  for (const std::string &unit : units) {
    std::string actual = "?";
    if (auto o = observed->find(unit); o != observed->end()) {
      const UnitObservation &ob = o->second.observation;
      if (!ob.reachable)
        actual = "disconnected";
      else if (ob.version.empty())
        actual = "-";
      else
        actual = ob.version + (ob.health == Health::Unhealthy ? " unhealthy"
                               : ob.health == Health::Unknown ? " starting"
                                                              : "");
    }
    auto r = state->runs.find(unit);
    if (r == state->runs.end()) {
      row(unit, "-", "-", actual, "-", "-", "no release yet");
      continue;
    }
    const UnitRun &run = r->second;
    bool back = run.phase == RunPhase::RolledBack || run.phase == RunPhase::RollingBack ||
                run.phase == RunPhase::RollbackFailed;
    std::string desired = back ? run.previousVersion : run.version;
    std::string waiting = run.waitingOn;
    if (run.disconnectedSinceMs >= 0)
      waiting = "disconnected since " + stamp(run.disconnectedSinceMs);
    if (auto p = state->pinned.find(unit); p != state->pinned.end())
      waiting = "pinned by " + p->second + " (deployd resume " + unit + ")";
    row(unit, run.release, desired.empty() ? "-" : desired, actual, phaseName(run.phase), stamp(run.enteredAtMs),
        waiting);
  }
  return ExitOk;
}

int status(const std::string &statePath, const std::string &planPath, bool watch, const std::string &intervalText) {
  auto store = openStore(statePath);
  if (!store)
    return ExitUsage;
  if (!watch)
    return statusOnce(*store, planPath);
  int64_t interval = parseDuration(intervalText);
  if (interval <= 0)
    return fail("--interval: expected a duration such as 1s or 500ms, found `" + intervalText + "`", ExitUsage);
  std::signal(SIGINT, onSignal);
  std::signal(SIGTERM, onSignal);
  bool tty = isatty(STDOUT_FILENO);
  while (!gStop) {
    if (tty)
      llvm::outs() << "\x1b[H\x1b[2J"; // home and clear: a live table
    std::string header = "(every " + intervalText + "; Ctrl-C to stop)";
    if (int rc = statusOnce(*store, planPath, &header))
      return rc;
    if (!tty)
      llvm::outs() << "\n";
    llvm::outs().flush();
    for (int64_t waited = 0; waited < interval && !gStop; waited += 50)
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min<int64_t>(50, interval - waited)));
  }
  return ExitOk;
}

int history(const std::string &statePath, const std::string &planPath, const std::string &unit) {
  if (!unit.empty())
    if (int rc = checkUnit(planPath, unit); rc >= 0)
      return rc;
  auto store = openStore(statePath);
  if (!store)
    return ExitUsage;
  auto entries = store->history(unit);
  if (!entries)
    return fail(llvm::toString(entries.takeError()));
  for (auto &e : *entries)
    llvm::outs() << stamp(e.atMs) << "  " << e.transition.unit << "  " << e.transition.release << "  "
                 << e.transition.from << " → " << e.transition.to << "  (" << e.transition.why << ")\n";
  return ExitOk;
}

} // namespace

int main(int argc, char **argv) {
  CLI::App app{"deployd: drives every environment to its desired version"};
  app.set_version_flag("--version", "deployd 0.1.0");
  app.require_subcommand(1);
  std::string state = ".deploy/state.db";
  app.add_option("--state", state, "State file (SQLite)");

  std::string planPath, tick = "1s";
  bool untilIdle = false;
  CLI::App *run = app.add_subcommand("run", "Run the reconcile loop");
  run->add_option("--plan", planPath, "Compiled plan (deployc compile)")->required();
  run->add_option("--tick", tick, "Time between reconcile ticks (e.g. 1s, 500ms)");
  run->add_flag("--until-idle", untilIdle, "Exit once nothing can progress without a person or the clock");
  run->add_option("--state", state, "State file (SQLite)");
  std::string clockStart;
  double clockRate = 1;
  run->add_option("--clock-start", clockStart, "Demos and drills: the engine's clock starts at this UTC time");
  run->add_option("--clock-rate", clockRate, "Demos and drills: the engine's clock runs this many times real time");

  std::string service, version, by = "@" + std::string(getenv("USER") ? getenv("USER") : "deployd");
  CLI::App *rel = app.add_subcommand("release", "Request a release of SERVICE at VERSION");
  rel->add_option("SERVICE", service)->required();
  rel->add_option("VERSION", version)->required();
  rel->add_option("--as", by, "Who creates the release");
  std::string cmdPlan = ".deploy/plan.json";
  rel->add_option("--plan", cmdPlan, "Compiled plan (to check the service name)");
  rel->add_option("--state", state, "State file (SQLite)");

  std::string unitId, who, approvePlan = ".deploy/plan.json";
  CLI::App *appr = app.add_subcommand("approve", "Approve the latest release for SERVICE@ENV");
  appr->add_option("UNIT", unitId)->required();
  appr->add_option("--as", who, "Who approves")->required();
  appr->add_option("--plan", approvePlan, "Compiled plan (for the approval groups)");
  appr->add_option("--state", state, "State file (SQLite)");

  std::string resName, resValue;
  CLI::App *res = app.add_subcommand("resource", "Mark an external resource ready or not-ready");
  res->add_option("NAME", resName)->required();
  res->add_option("STATE", resValue)->required();
  res->add_option("--plan", cmdPlan, "Compiled plan (to check the resource name)");
  res->add_option("--state", state, "State file (SQLite)");

  std::string pinUnit, pinBy = by;
  CLI::App *rb = app.add_subcommand("rollback", "Return SERVICE@ENV to its last known good version now, and pin it");
  rb->add_option("UNIT", pinUnit)->required();
  rb->add_option("--as", pinBy, "Who rolls back");
  rb->add_option("--plan", cmdPlan, "Compiled plan (to check the unit)");
  rb->add_option("--state", state, "State file (SQLite)");
  CLI::App *resume = app.add_subcommand("resume", "Let queued releases deploy to SERVICE@ENV again");
  resume->add_option("UNIT", pinUnit)->required();
  resume->add_option("--plan", cmdPlan, "Compiled plan (to check the unit)");
  resume->add_option("--state", state, "State file (SQLite)");

  CLI::App *stat = app.add_subcommand("status", "Show every unit's desired and actual version, state and what it waits on");
  stat->add_option("--state", state, "State file (SQLite)");
  bool watch = false;
  std::string statusPlan = ".deploy/plan.json", interval = "1s";
  stat->add_flag("--watch", watch, "Redraw the table until interrupted");
  stat->add_option("--interval", interval, "Time between redraws with --watch");
  stat->add_option("--plan", statusPlan, "Compiled plan, for rollout order (optional)");

  std::string downPlan = ".deploy/plan.json";
  CLI::App *dn = app.add_subcommand("down", "Stop every workload of the plan (they otherwise outlive deployd)");
  dn->add_option("--plan", downPlan, "Compiled plan");
  dn->add_option("--state", state, "State file (SQLite)");

  std::string histUnit;
  CLI::App *hist = app.add_subcommand("history", "Show the decision journal");
  hist->add_option("UNIT", histUnit);
  hist->add_option("--plan", cmdPlan, "Compiled plan (to check the unit)");
  hist->add_option("--state", state, "State file (SQLite)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp &e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion &e) {
    return app.exit(e);
  } catch (const CLI::ParseError &e) {
    // Like every other error of this tool: prefixed, on stderr, exit 2.
    llvm::errs() << "deployd: error: " << e.what() << " (see `deployd --help`)\n";
    return ExitUsage;
  }
  if (run->parsed())
    return runDaemon(planPath, state, tick, untilIdle, clockStart, clockRate);
  if (rel->parsed())
    return release(state, cmdPlan, service, version, by);
  if (appr->parsed())
    return approve(state, approvePlan, unitId, who);
  if (res->parsed())
    return resource(state, cmdPlan, resName, resValue);
  if (rb->parsed())
    return pin(state, cmdPlan, pinUnit, pinBy, true);
  if (resume->parsed())
    return pin(state, cmdPlan, pinUnit, pinBy, false);
  if (stat->parsed())
    return status(state, statusPlan, watch, interval);
  if (dn->parsed())
    return down(downPlan, state);
  if (hist->parsed())
    return history(state, cmdPlan, histUnit);
  return ExitUsage;
}
