// `deployd run --plan PLAN`: the daemon. Drives every environment of the
// plan to convergence (Daemon::tick) and, between ticks, answers the
// control API on its Unix socket: the one writer of its store.
#include "runtime/cli/Cli.h"

#include "common/Time.h"
#include "runtime/control/Api.h"
#include "runtime/daemon/Daemon.h"

#include <llvm/Support/FormatVariadic.h>
#include <llvm/Support/raw_ostream.h>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

namespace dpl::runtime::cli {

/// Takes `STATE.lock` for the rest of the process (flock, released when it
/// exits, however it exits). False when another process holds it.
bool holdRunLock(const std::string &statePath) {
  std::string lockPath = statePath + ".lock";
  int lock = open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  return lock >= 0 && flock(lock, LOCK_EX | LOCK_NB) == 0;
}

/// The state directory: created 0700 when missing; refused when another
/// user owns it or group or others may write it (issue 10.7). Returns -1 or
/// the exit code after the message.
int checkStateDir(const std::string &statePath) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(statePath).parent_path();
  if (dir.empty())
    dir = ".";
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec)
      return fail("cannot create the state directory " + dir.string() + ": " + ec.message(), ExitUsage);
    chmod(dir.c_str(), 0700);
  }
  struct stat st;
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return fail("the state directory " + dir.string() + " is not a directory", ExitUsage);
  if (st.st_uid != geteuid())
    return fail("refusing to run: the state directory " + dir.string() + " belongs to uid " +
                    std::to_string(st.st_uid) + ", not to deployd's user (uid " + std::to_string(geteuid()) + ")",
                ExitUsage);
  if (st.st_mode & 022)
    return fail("refusing to run: the state directory " + dir.string() +
                    " is writable by group or others (chmod 700 " + dir.string() + ")",
                ExitUsage);
  return -1;
}

namespace {

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
      return wallNowMs();
    int64_t base = startMs < 0 ? wallNowMs() : startMs;
    auto real = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - origin);
    return base + int64_t(double(real.count()) * rate);
  }
};

struct RunOptions {
  std::string plan, tick = "1s", clockStart, config;
  bool untilIdle = false;
  double clockRate = 1;
};

int runDaemon(const Globals &g, const RunOptions &o) {
  auto plan = loadPlanFile(o.plan);
  if (!plan)
    return fail(llvm::toString(plan.takeError()), ExitUsage);
  auto tick = dpl::parseDurationText(o.tick);
  if (!tick || *tick <= 0)
    return fail("--tick: expected a duration such as 1s or 500ms, found `" + o.tick + "`", ExitUsage);
  Clock clock;
  if (!o.clockStart.empty() && (clock.startMs = dpl::parseRfc3339(o.clockStart).value_or(-1)) < 0)
    return fail("--clock-start: expected a UTC time such as 2026-12-01T09:00:00Z, found `" + o.clockStart + "`",
                ExitUsage);
  if (!(o.clockRate > 0 && o.clockRate <= 1000))
    return fail("--clock-rate: expected a factor in (0, 1000]", ExitUsage);
  clock.rate = o.clockRate;
  clock.origin = std::chrono::steady_clock::now();
  if (int rc = checkStateDir(g.state); rc >= 0)
    return rc;
  IdentityConfig identities;
  std::string configPath = o.config;
  std::error_code ec;
  if (configPath.empty()) {
    auto beside = std::filesystem::path(g.state).parent_path() / "deployd.yaml";
    if (std::filesystem::exists(beside, ec))
      configPath = beside.string();
  }
  if (!configPath.empty()) {
    auto c = loadIdentityConfig(configPath);
    if (!c)
      return fail(llvm::toString(c.takeError()), ExitUsage);
    identities = std::move(*c);
  }
  if (std::filesystem::is_directory(g.state, ec))
    return fail("--state " + g.state + " is a directory; expected the store file (e.g. .deploy/state.db)", ExitUsage);
  // One engine per store: a second `run` is refused while the first holds the lock.
  if (!holdRunLock(g.state))
    return fail("another `deployd run` is already using " + g.state + " (lock " + g.state + ".lock is held)",
                ExitUsage);
  auto store = openSqliteStore(g.state);
  if (!store)
    return fail(llvm::toString(store.takeError()), ExitUsage);
  auto server = ControlServer::listen(g.socketPath());
  if (!server)
    return fail(llvm::toString(server.takeError()), ExitUsage);
  stopOnSignals();
  auto log = [&clock](const std::string &line) {
    llvm::outs() << stamp(clock.now()) << "  " << safe(line) << "\n";
    llvm::outs().flush();
  };
  log("deployd 0.2.0: plan " + o.plan + " (" + plan->hash.substr(0, 19) + "…, " + std::to_string(plan->units.size()) +
      " units), store " + g.state + ", socket " + g.socketPath() + ", tick " + o.tick);
  if (clock.startMs >= 0 || clock.rate != 1)
    log(llvm::formatv("simulated clock: starts {0}, runs {1}x real time", stamp(clock.now()),
                      llvm::StringRef(std::to_string(clock.rate)).rtrim('0').rtrim('.'))
            .str());
  Daemon daemon(*plan, **store, log);
  if (llvm::Error e = daemon.lockTargets())
    return fail(llvm::toString(std::move(e)), ExitUsage);
  if (llvm::Error e = daemon.replayPending(clock.now()))
    return fail(llvm::toString(std::move(e)));
  // A copy of every plan this store ran, for `prune` of units a later plan
  // removed (their runtime bindings are only there).
  std::string plansDir = (std::filesystem::path(g.state).parent_path() / "plans").string();
  if (plansDir == "plans")
    plansDir = "./plans";
  {
    std::error_code mk;
    std::filesystem::create_directories(plansDir, mk);
    chmod(plansDir.c_str(), 0700);
    std::string copy = plansDir + "/" + plan->hash.substr(plan->hash.find(':') + 1) + ".json";
    if (!std::filesystem::exists(copy, mk)) {
      std::filesystem::copy_file(o.plan, copy, mk);
      chmod(copy.c_str(), 0600);
      if (mk)
        log("cannot keep a copy of the plan in " + plansDir + ": " + mk.message() + " (prune will not know it)");
    } else {
      std::filesystem::last_write_time(copy, std::filesystem::file_time_type::clock::now(), mk);
    }
  }
  bool idle = false;
  unsigned quiet = 0;
  ApiContext api{*plan, **store, identities, [&clock] { return clock.now(); }, unsigned(geteuid()), &idle,
                 [&] {
                   idle = false;
                   quiet = 0;
                 },
                 o.plan,
                 [&daemon](const std::vector<const PlanUnit *> &units) { return daemon.stopUnits(units); },
                 plansDir};
  auto handler = [&api](const llvm::json::Object &request, const Peer &peer) {
    return handleControlRequest(api, request, peer);
  };
  std::string lastError;
  int64_t retryMs = *tick;
  while (!stopRequested()) {
    int64_t wait = *tick;
    auto report = daemon.tick(clock.now());
    if (!report) {
      // A full disk, a locked or damaged store: keep running and retry,
      // backing off to 30 s; say it once per distinct error (issue 10.11).
      std::string why = llvm::toString(report.takeError());
      if (why != lastError)
        log("tick failed, retrying: " + why);
      lastError = why;
      retryMs = std::min<int64_t>(retryMs * 2, 30000);
      wait = retryMs;
      quiet = 0;
    } else {
      if (!lastError.empty())
        log("tick succeeded again after: " + lastError);
      lastError.clear();
      retryMs = *tick;
      quiet = report->actions || report->transitions || report->busy ? 0 : quiet + 1;
      // A timer due sooner than the next tick (in the engine's clock).
      if (report->nextRunAtMs != INT64_MAX) {
        int64_t dueIn = int64_t(double(report->nextRunAtMs - clock.now()) / clock.rate);
        wait = std::max<int64_t>(10, std::min(wait, dueIn));
      }
    }
    idle = quiet >= 2;
    if (o.untilIdle && idle) {
      log("idle: nothing to do until a release, an approval, a resource or a window changes");
      break;
    }
    (*server)->serve(int(wait), handler);
  }
  if (stopRequested())
    log("stopping on signal; workloads keep running");
  return ExitOk;
}

} // namespace

Runner setupRun(CLI::App &sub, Globals &g) {
  auto o = std::make_shared<RunOptions>();
  sub.add_option("--plan", o->plan, "Compiled plan (deployc compile)")->required();
  sub.add_option("--tick", o->tick, "Time between reconcile ticks (e.g. 1s, 500ms)");
  sub.add_flag("--until-idle", o->untilIdle, "Exit once nothing can progress without a person or the clock");
  sub.add_option("--config", o->config, "Identity config (YAML; default: deployd.yaml beside the store)");
  sub.add_option("--clock-start", o->clockStart, "Demos and drills: the engine's clock starts at this UTC time");
  sub.add_option("--clock-rate", o->clockRate, "Demos and drills: the engine's clock runs this many times real time");
  return [&g, o] { return runDaemon(g, *o); };
}

} // namespace dpl::runtime::cli
