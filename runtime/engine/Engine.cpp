// The engine's decision function: the unit state machine of the plan,
// driven by observations.
#include "runtime/engine/Engine.h"

#include "common/Time.h"

#include <date/tz.h>
#include <llvm/ADT/STLExtras.h>
#include <llvm/ADT/StringExtras.h>
#include <llvm/ADT/StringRef.h>

#include <ctime>
#include <unordered_map>

namespace dpl::runtime {

const char *phaseName(RunPhase p) {
  switch (p) {
  case RunPhase::Waiting: return "waiting";
  case RunPhase::Gated: return "gated";
  case RunPhase::Applying: return "applying";
  case RunPhase::Verifying: return "verifying";
  case RunPhase::Succeeded: return "succeeded";
  case RunPhase::RollingBack: return "rolling-back";
  case RunPhase::RolledBack: return "rolled-back";
  case RunPhase::RollbackFailed: return "rollback-failed";
  case RunPhase::Halted: return "halted";
  }
  return "?";
}

bool validVersion(llvm::StringRef v) {
  if (v.empty() || v.size() > 128 || v[0] == '.' || v[0] == '-')
    return false;
  return llvm::all_of(v, [](char c) { return llvm::isAlnum(c) || c == '.' || c == '_' || c == '+' || c == '-'; });
}

std::string Action::key() const {
  static const char *names[] = {"apply", "rollback", "notify", "run-test"};
  return std::string(names[static_cast<int>(kind)]) + "|" + unit + "|" + release + "|" + version + "|" + detail;
}

namespace {

bool finished(RunPhase p) {
  return p == RunPhase::Succeeded || p == RunPhase::RolledBack || p == RunPhase::RollbackFailed ||
         p == RunPhase::Halted;
}
bool started(RunPhase p) { return p != RunPhase::Waiting && p != RunPhase::Gated; }

double number(const llvm::json::Object &o, const char *key, double fallback = 0) {
  if (auto v = o.getNumber(key))
    return *v;
  return fallback;
}
std::string text(const llvm::json::Object &o, const char *key) {
  if (auto v = o.getString(key))
    return v->str();
  return "";
}

constexpr llvm::StringLiteral kWaitingFor("waiting for ");

/// "api@prod-eu" → "api" (unit ids are SERVICE@ENV).
llvm::StringRef serviceOf(llvm::StringRef unitId) { return unitId.split('@').first; }

class Stepper {
public:
  Stepper(const Plan &plan, const Observations &obs, int64_t now, StepResult &out)
      : plan_(plan), obs_(obs), now_(now), out_(out) {
    // Releases by id and by service, in release order: a step costs
    // O(units + releases), not O(units × releases).
    const std::vector<Release> &rs = out_.state.releases;
    for (size_t i = 0; i < rs.size(); ++i) {
      byId_[rs[i].id] = i;
      byService_[rs[i].service].push_back(i);
    }
    // What the state and the observations hold for each unit, by unit
    // index: every later lookup is an array access, not a search of a map
    // keyed by unit-id strings (with 200 000 units, ~18 string comparisons).
    if (!plan_.hasUnitIndex()) {
      for (size_t i = 0; i < plan_.units.size(); ++i)
        ownIndex_.try_emplace(plan_.units[i].id, i);
      index_ = &ownIndex_;
    }
    slots_.resize(plan_.units.size());
    for (auto &[id, run] : out_.state.runs)
      if (size_t i = unitIndex(id); i != kNoUnit)
        slots_[i].run = &run;
    for (auto &[id, version] : out_.state.lastGood)
      if (size_t i = unitIndex(id); i != kNoUnit)
        slots_[i].lastGood = &version;
    for (auto &[id, release] : out_.state.lastGoodRelease)
      if (size_t i = unitIndex(id); i != kNoUnit)
        slots_[i].lastGoodRelease = &release;
    for (auto &[id, o] : obs_.units)
      if (size_t i = unitIndex(id); i != kNoUnit)
        slots_[i].observed = &o;
  }

  void run() {
    EngineState &st = out_.state;
    if (st.planHash != plan_.hash) {
      // A plan edit (or a store first used with this plan): every unit's
      // stored progress is re-resolved against the new state machines.
      if (!st.planHash.empty() || !st.runs.empty()) {
        out_.journal.push_back({"-", "-", st.planHash.empty() ? "-" : st.planHash, plan_.hash,
                                "plan changed: stored progress is re-resolved, gates re-evaluated"});
        // Units the new plan no longer has (their environment or service
        // was removed): their workloads keep running until pruned.
        for (auto &[id, run] : st.runs)
          if (unitIndex(id) == kNoUnit)
            out_.journal.push_back({id, run.release, phaseName(run.phase), "orphaned",
                                    "not in the plan: its workload keeps running until `deployd prune " +
                                        id.substr(id.find('@') + 1) + "`"});
      }
      st.planHash = plan_.hash;
    }
    for (const PlanUnit &u : plan_.units)
      advance(u);
  }

private:
  static constexpr size_t kNoUnit = size_t(-1);
  /// Drift repairs back off: 5 s, doubling, at most 5 min apart.
  static constexpr int64_t kRepairBaseMs = 5000, kRepairMaxMs = 300000;
  /// A unit's entries in the state and the observations (null: none).
  /// std::map nodes do not move, so the pointers stay valid while entries
  /// are added; every write that adds one goes through the setters below.
  struct Slot {
    UnitRun *run = nullptr;
    std::string *lastGood = nullptr, *lastGoodRelease = nullptr;
    const UnitObservation *observed = nullptr;
  };

  size_t unitIndex(llvm::StringRef id) const {
    auto it = index_->find(id);
    return it == index_->end() ? kNoUnit : it->second;
  }
  size_t indexOfUnit(const PlanUnit &u) const { return size_t(&u - plan_.units.data()); }
  Slot &slot(const PlanUnit &u) { return slots_[indexOfUnit(u)]; }
  const Slot &slot(const PlanUnit &u) const { return slots_[indexOfUnit(u)]; }
  /// The slot of the unit `id` that another unit waits for (null: not in
  /// the plan).
  const Slot *slotOf(llvm::StringRef id) const {
    size_t i = unitIndex(id);
    return i == kNoUnit ? nullptr : &slots_[i];
  }
  UnitRun &runFor(const PlanUnit &u) {
    Slot &sl = slot(u);
    if (!sl.run)
      sl.run = &out_.state.runs[u.id];
    return *sl.run;
  }
  std::string &lastGoodFor(const PlanUnit &u) {
    Slot &sl = slot(u);
    if (!sl.lastGood)
      sl.lastGood = &out_.state.lastGood[u.id];
    return *sl.lastGood;
  }
  std::string &lastGoodReleaseFor(const PlanUnit &u) {
    Slot &sl = slot(u);
    if (!sl.lastGoodRelease)
      sl.lastGoodRelease = &out_.state.lastGoodRelease[u.id];
    return *sl.lastGoodRelease;
  }
  const Release *release(const std::string &id) const {
    auto it = byId_.find(id);
    return it == byId_.end() ? nullptr : &out_.state.releases[it->second];
  }

  void move(const PlanUnit &u, UnitRun &run, RunPhase to, const std::string &why) {
    out_.journal.push_back({u.id, run.release, phaseName(run.phase), phaseName(to), why});
    run.phase = to;
  }
  void enter(UnitRun &run, size_t state) {
    run.state = state;
    run.enteredAtMs = now_;
    run.healthySinceMs = -1;
    run.notified = false;
    run.testStarted = false;
    run.lostSinceMs = -1;
    run.waitingOn.clear();
  }
  /// Asks to be stepped again at `atMs` at the latest.
  void wake(int64_t atMs) {
    if (atMs > now_ && atMs < out_.nextRunAtMs)
      out_.nextRunAtMs = atMs;
  }
  size_t firstOfKind(const PlanUnit &u, llvm::StringRef kind) const {
    for (size_t i = 0; i < u.states.size(); ++i)
      if (u.states[i].kind == kind)
        return i;
    return u.states.size();
  }
  size_t indexOf(const PlanUnit &u, const std::string &name) const {
    for (size_t i = 0; i < u.states.size(); ++i)
      if (u.states[i].name == name)
        return i;
    return u.states.size();
  }

  /// Could `r` still pass (or has it passed) every upstream environment of
  /// `u`? Upstream units of the same service must have succeeded with it
  /// last, or still be working on it.
  bool viable(const PlanUnit &u, const Release &r) const {
    for (const std::string &w : u.waitsFor) {
      if (serviceOf(w) != u.service)
        continue; // depends_on: another service's own progress
      const Slot *up = slotOf(w);
      if (up && up->lastGoodRelease && *up->lastGoodRelease == r.id)
        continue;
      const UnitRun *run = up ? up->run : nullptr;
      if (!run || run->release != r.id || (finished(run->phase) && run->phase != RunPhase::Succeeded))
        return false;
    }
    return true;
  }

  /// The release `u` should work on: the newest one, newer than what last
  /// succeeded here, that can still pass its upstream environments. A unit
  /// new to the plan (an environment added later) thus converges to the
  /// newest release that passed upstream, with no new release. When none
  /// can, the newest release (on which the unit shows as blocked).
  const Release *target(const PlanUnit &u) const {
    auto mine = byService_.find(u.service);
    if (mine == byService_.end())
      return nullptr;
    const std::vector<size_t> &order = mine->second;
    const Release *latest = &out_.state.releases[order.back()];
    // Releases at or before the last good one here are never chosen.
    size_t floor = 0;
    if (const std::string *good = slot(u).lastGoodRelease)
      if (auto at = byId_.find(*good); at != byId_.end())
        floor = at->second + 1;
    for (size_t k = order.size(); k-- > 0 && order[k] >= floor;)
      if (viable(u, out_.state.releases[order[k]]))
        return &out_.state.releases[order[k]];
    return latest;
  }

  /// Picks the release the unit should work on. A newer release supersedes
  /// one that has not started here; a started one runs to its end first.
  void schedule(const PlanUnit &u) {
    const Release *next = target(u);
    if (!next)
      return;
    if (UnitRun *current = slot(u).run) {
      UnitRun &run = *current;
      if (run.release == next->id || (started(run.phase) && !finished(run.phase)) ||
          run.phase == RunPhase::Halted)
        return; // current, busy, or waiting for a person
      if (!finished(run.phase))
        out_.journal.push_back({u.id, run.release, phaseName(run.phase), "superseded",
                                "release " + next->id + " replaces this one, which had not started here"});
    }
    UnitRun fresh;
    // Disconnection is the unit's, not the release's: a new release
    // arriving while the runtime cannot be reached does not journal it again.
    if (const UnitRun *old = slot(u).run)
      fresh.disconnectedSinceMs = old->disconnectedSinceMs;
    fresh.release = next->id;
    fresh.version = next->version;
    const std::string *good = slot(u).lastGood;
    fresh.previousVersion = good ? *good : "";
    fresh.enteredAtMs = now_;
    fresh.machine = u.machine;
    runFor(u) = std::move(fresh);
    out_.journal.push_back({u.id, next->id, "-", "waiting", "release " + next->id + " (" + next->version + ")"});
  }

  /// Has `w`, which `u` waits for, positively succeeded? The same service
  /// upstream: with this very release. Another service (`depends_on`): with
  /// its own current release.
  bool upstreamDone(const PlanUnit &u, const UnitRun &run, const std::string &w) const {
    const Slot *sl = slotOf(w);
    const UnitRun *up = sl ? sl->run : nullptr;
    if (serviceOf(w) != u.service)
      return up && up->phase == RunPhase::Succeeded;
    if (sl && sl->lastGoodRelease && *sl->lastGoodRelease == run.release)
      return true;
    return up && up->release == run.release && up->phase == RunPhase::Succeeded;
  }

  /// Why `w`, which `u` waits for, will never succeed with this release
  /// ("" when it still may): the same service upstream finished it some
  /// other way. Shown instead of "waiting for …" (issue 10.14).
  std::string blockedBy(const PlanUnit &u, const UnitRun &run, const std::string &w) const {
    if (serviceOf(w) != u.service)
      return "";
    const Slot *sl = slotOf(w);
    const UnitRun *up = sl ? sl->run : nullptr;
    if (!up || up->release != run.release || !finished(up->phase) || up->phase == RunPhase::Succeeded)
      return "";
    return "blocked: this release failed in " + w.substr(w.find('@') + 1) + " (" + w + " " + phaseName(up->phase) + ")";
  }

  /// Verifying: true (with `why`) when the target version has not been seen
  /// running with a known health for longer than the unit's apply timeout,
  /// e.g. its workload vanished mid-soak (issue 10.10). Meanwhile, with
  /// `self_heal`, the version is re-applied (backing off).
  bool lost(const PlanUnit &u, UnitRun &run, const PlanState &s, const UnitObservation *o, std::string &why) {
    (void)s;
    bool seen = o && o->reachable && o->version == run.version && o->health != Health::Unknown && !o->degraded;
    if (seen) {
      run.lostSinceMs = -1;
      return false;
    }
    if (run.lostSinceMs < 0)
      run.lostSinceMs = now_;
    size_t at = firstOfKind(u, "apply");
    int64_t budget = at < u.states.size() ? int64_t(u.states[at].timeoutSeconds * 1000) : 300000;
    std::string found = !o || o->version.empty() ? "nothing" : o->version;
    if (now_ - run.lostSinceMs > budget) {
      why = o && o->version == run.version
                ? run.version + " has not reported a known health for " + std::to_string(budget / 1000) + "s"
                : run.version + " is no longer running (found " + found + ") for " + std::to_string(budget / 1000) + "s";
      return true;
    }
    wake(run.lostSinceMs + budget + 1);
    if (o && (o->version != run.version || o->degraded) && selfHeal(u))
      repair(u, run, run.version, found);
    return false;
  }

  static bool selfHeal(const PlanUnit &u) { return u.config.getBoolean("self_heal").getValueOr(true); }

  /// Sends one repair (re-apply of `desired`) unless the backoff says wait.
  void repair(const PlanUnit &u, UnitRun &run, const std::string &desired, const std::string &found) {
    if (now_ < run.nextRepairMs) {
      wake(run.nextRepairMs);
      return;
    }
    ++run.repairs;
    int64_t backoff = kRepairBaseMs;
    for (int i = 1; i < run.repairs && backoff < kRepairMaxMs; ++i)
      backoff *= 2;
    run.nextRepairMs = now_ + std::min(backoff, kRepairMaxMs);
    wake(run.nextRepairMs);
    out_.journal.push_back({u.id, run.release, phaseName(run.phase), phaseName(run.phase),
                            "drift repaired: found " + found + ", re-applying " + desired + " (repair " +
                                std::to_string(run.repairs) + ")"});
    out_.actions.push_back({Action::Kind::Apply, u.id, run.release, desired, "repair-" + std::to_string(now_)});
  }

  /// Convergence of a settled unit (ARCHITECTURE.md): the runtime must run
  /// the desired version (the release it succeeded with, the version a
  /// rollback restored, or, until a new release starts applying here, the
  /// last good one), every replica of it, healthy. Drift and a converged
  /// version turning unhealthy are journalled once when they begin and once
  /// when they end; with `self_heal` (the default) the desired version is
  /// re-applied, backing off from 5 s to 5 min between repairs. A
  /// disconnected runtime is left alone (see disconnected()).
  void converge(const PlanUnit &u, UnitRun &run, const UnitObservation *o) {
    std::string desired;
    if (run.phase == RunPhase::Succeeded)
      desired = run.version;
    else if (run.phase == RunPhase::RolledBack)
      desired = run.previousVersion;
    else if (run.phase == RunPhase::Waiting || run.phase == RunPhase::Gated)
      if (const std::string *good = slot(u).lastGood)
        desired = *good;
    if (desired.empty() || !o || !o->reachable)
      return;
    bool drifted = o->version != desired || o->degraded;
    bool unhealthy = !drifted && o->health == Health::Unhealthy;
    if (!drifted && !unhealthy) {
      if (run.driftSinceMs >= 0 && o->health == Health::Healthy) {
        out_.journal.push_back({u.id, run.release, phaseName(run.phase), phaseName(run.phase),
                                "converged: " + desired + " healthy again after " +
                                    std::to_string((now_ - run.driftSinceMs) / 1000) + "s"});
        run.driftSinceMs = -1;
        run.repairs = 0;
        run.nextRepairMs = 0;
        if (finished(run.phase))
          run.waitingOn.clear();
      }
      return; // health unknown: a repaired replica is starting
    }
    std::string found = o->version.empty() ? "nothing" : o->version;
    if (o->health == Health::Unhealthy)
      found += " (unhealthy)";
    else if (o->degraded)
      found += " (replicas missing)";
    if (run.driftSinceMs < 0) {
      run.driftSinceMs = now_;
      out_.journal.push_back({u.id, run.release, phaseName(run.phase), phaseName(run.phase),
                              unhealthy ? "unhealthy: " + desired + " runs but fails its health check"
                                        : "drift: found " + found + ", desired " + desired});
    }
    if (finished(run.phase))
      run.waitingOn = (unhealthy ? "unhealthy since " : "drifted since ") + formatRfc3339(run.driftSinceMs) +
                      (selfHeal(u) ? "; repairs: " + std::to_string(run.repairs) : "; self_heal is off");
    if (selfHeal(u))
      repair(u, run, desired, found);
  }

  /// A disconnected unit (its adapter cannot be read) holds still, neither
  /// failed nor progressing, and its timers stop; on reconnection they
  /// resume where they were and a soak starts over. Returns true while
  /// disconnected.
  bool disconnected(const PlanUnit &u, UnitRun &run, const UnitObservation *o) {
    bool unreachable = o && !o->reachable;
    if (unreachable) {
      if (run.disconnectedSinceMs < 0) {
        run.disconnectedSinceMs = now_;
        out_.journal.push_back({u.id, run.release, phaseName(run.phase), phaseName(run.phase),
                                "disconnected: the runtime cannot be reached"});
      }
      run.waitingOn = "disconnected since " + std::to_string(run.disconnectedSinceMs);
      return true;
    }
    if (run.disconnectedSinceMs >= 0) {
      int64_t away = now_ - run.disconnectedSinceMs;
      // Timers stood still while away (from when the state was entered,
      // for a run that began while the runtime was unreachable).
      run.enteredAtMs += now_ - std::max(run.disconnectedSinceMs, run.enteredAtMs);
      run.healthySinceMs = -1;
      run.disconnectedSinceMs = -1;
      out_.journal.push_back({u.id, run.release, phaseName(run.phase), phaseName(run.phase),
                              "reconnected after " + std::to_string(away / 1000) + "s"});
    }
    return false;
  }

  void fail(const PlanUnit &u, UnitRun &run, const PlanState &s, const std::string &why) {
    size_t target = indexOf(u, s.onFailure);
    if (target >= u.states.size()) {
      move(u, run, RunPhase::Halted, why);
      return;
    }
    const PlanState &t = u.states[target];
    enter(run, target);
    if (t.kind == "rollback") {
      move(u, run, RunPhase::RollingBack, why);
      out_.actions.push_back({Action::Kind::Rollback, u.id, run.release, run.previousVersion, ""});
    } else {
      move(u, run, RunPhase::Halted, why);
    }
  }

  /// Re-resolves the run's position when its unit's state machine changed
  /// (a plan edit; issue 10.1). Stored progress never carries over by
  /// index: a run waiting or gated starts its gates again from the first
  /// (approvals and resources already recorded still count, so satisfied
  /// gates pass at once, and a removed or changed gate is never taken as
  /// passed); a run verifying restarts verification; applying and rolling
  /// back continue in the new machine's apply and rollback states.
  void locate(const PlanUnit &u, UnitRun &run) {
    if (run.machine == u.machine && run.state <= u.states.size())
      return;
    run.machine = u.machine;
    std::string from = run.state < u.states.size() ? u.states[run.state].name : "-";
    auto note = [&](const std::string &why) {
      out_.journal.push_back({u.id, run.release, phaseName(run.phase), phaseName(run.phase), why});
    };
    switch (run.phase) {
    case RunPhase::Waiting:
    case RunPhase::Gated:
      if (run.phase == RunPhase::Gated)
        move(u, run, RunPhase::Waiting, "plan changed: gates re-evaluated from the first");
      enter(run, 0);
      return;
    case RunPhase::Applying:
      run.state = firstOfKind(u, "apply");
      return;
    case RunPhase::Verifying: {
      size_t at = firstOfKind(u, "verify");
      if (at >= u.states.size())
        at = firstOfKind(u, "success");
      enter(run, at);
      note("plan changed: verification restarts at " + u.states[at].name);
      return;
    }
    case RunPhase::RollingBack:
      run.state = firstOfKind(u, "rollback");
      if (run.state >= u.states.size())
        move(u, run, RunPhase::Halted, "plan changed during the rollback and has no rollback state; halted");
      return;
    default: { // finished: only the terminal state's name matters
      static const std::map<RunPhase, const char *> terminal = {{RunPhase::Succeeded, "succeeded"},
                                                                {RunPhase::RolledBack, "rolled_back"},
                                                                {RunPhase::RollbackFailed, "rollback_failed"},
                                                                {RunPhase::Halted, "halted"}};
      auto it = terminal.find(run.phase);
      run.state = it == terminal.end() ? u.states.size() : indexOf(u, it->second);
      return;
    }
    }
  }

  /// A person's fast return to the last known good version: skips the
  /// progressive steps but is journalled like every other transition, and
  /// pins the unit until `resume`.
  void manualRollback(const PlanUnit &u) {
    if (out_.state.rollbackRequests.empty())
      return;
    auto req = out_.state.rollbackRequests.find(u.id);
    if (req == out_.state.rollbackRequests.end())
      return;
    std::string who = req->second;
    out_.state.rollbackRequests.erase(req);
    const UnitRun *current = slot(u).run;
    std::string target;
    if (current)
      target = current->phase == RunPhase::Succeeded || current->phase == RunPhase::Applying ||
                       current->phase == RunPhase::Verifying || current->phase == RunPhase::Halted
                   ? current->previousVersion
                   : lastGoodFor(u);
    else
      target = lastGoodFor(u);
    if (target.empty()) {
      // Nothing earlier ever succeeded here: "rolling back" would only stop
      // the workload (issue 10.8). Refused, journalled, nothing pinned.
      out_.journal.push_back({u.id, current ? current->release : "-", current ? phaseName(current->phase) : "-",
                              current ? phaseName(current->phase) : "-",
                              "manual rollback by " + who + " refused: no earlier version succeeded here"});
      return;
    }
    UnitRun &run = runFor(u);
    if (run.release.empty())
      run.release = "-";
    run.previousVersion = target;
    enter(run, u.states.size()); // off the state machine: settled by hand
    out_.journal.push_back({u.id, run.release, phaseName(run.phase), phaseName(RunPhase::RolledBack),
                            "manual rollback by " + who + " to " + target + "; pinned until resumed"});
    run.phase = RunPhase::RolledBack;
    run.machine = u.machine;
    lastGoodFor(u) = target;
    out_.state.pinned[u.id] = who;
    out_.actions.push_back({Action::Kind::Rollback, u.id, run.release, target, "manual"});
  }

  void advance(const PlanUnit &u) {
    size_t before = out_.actions.size();
    manualRollback(u);
    if (!out_.state.pinned.count(u.id))
      schedule(u);
    if (!slot(u).run)
      return;
    UnitRun &run = *slot(u).run;
    locate(u, run);
    const UnitObservation *o = slot(u).observed;
    if (disconnected(u, run, o))
      return;
    progress(u, run, o);
    // A unit acted on in this step (an apply, a rollback, a manual
    // rollback) is converging already: drift is judged from the next one.
    if (out_.actions.size() == before)
      converge(u, run, o);
  }

  /// Moves the run through its state machine as far as it can go now.
  void progress(const PlanUnit &u, UnitRun &run, const UnitObservation *o) {
    // Bounded: each iteration either moves to another state or returns.
    for (size_t guard = 0; guard <= u.states.size() + 1 && !finished(run.phase); ++guard) {
      if (run.state >= u.states.size())
        return;
      const PlanState &s = u.states[run.state];
      if (s.kind == "wait") {
        for (const std::string &w : s.waitsFor) {
          // Only positive success lets a unit proceed.
          if (!upstreamDone(u, run, w)) {
            if (std::string why = blockedBy(u, run, w); !why.empty()) {
              if (run.waitingOn != why)
                run.waitingOn = why;
              return;
            }
            // Unchanged on most ticks: only a new text allocates.
            llvm::StringRef current(run.waitingOn);
            if (!(current.consume_front(kWaitingFor) && current == w))
              run.waitingOn = (kWaitingFor + w).str();
            return;
          }
        }
        enter(run, indexOf(u, s.next));
        move(u, run, RunPhase::Gated, "upstream units succeeded");
        continue;
      }
      if (s.kind == "gate") {
        std::string why;
        if (!gateOpen(u, run, s, why)) {
          run.waitingOn = why;
          return;
        }
        enter(run, indexOf(u, s.next));
        out_.journal.push_back({u.id, run.release, s.name, u.states[run.state].name, why});
        continue;
      }
      if (s.kind == "apply") {
        if (run.phase != RunPhase::Applying) {
          move(u, run, RunPhase::Applying, "gates passed");
          run.enteredAtMs = now_;
          out_.actions.push_back({Action::Kind::Apply, u.id, run.release, run.version, ""});
          return;
        }
        if (o && o->applyFailed)
          return fail(u, run, s, o->applyError.empty() ? "apply failed" : "apply failed: " + o->applyError);
        // Applied once the target version runs and its health is known
        // (a replica that does not listen yet is still starting).
        if (o && o->reachable && o->version == run.version && o->health != Health::Unknown) {
          enter(run, indexOf(u, s.next));
          move(u, run, RunPhase::Verifying, "version " + run.version + " observed");
          continue;
        }
        if (now_ - run.enteredAtMs > int64_t(s.timeoutSeconds * 1000))
          return fail(u, run, s, "apply timed out");
        wake(run.enteredAtMs + int64_t(s.timeoutSeconds * 1000) + 1);
        run.waitingOn = o && !o->reachable ? "adapter unreachable" : "applying " + run.version;
        return;
      }
      if (s.kind == "verify") {
        std::string why;
        if (lost(u, run, s, o, why))
          return fail(u, run, s, why);
        int verdict = verify(u, run, s, o, why); // 1 pass, 0 wait, -1 fail
        if (verdict < 0)
          return fail(u, run, s, why);
        if (verdict == 0) {
          run.waitingOn = why;
          return;
        }
        enter(run, indexOf(u, s.next));
        out_.journal.push_back({u.id, run.release, s.name, u.states[run.state].name, why});
        continue;
      }
      if (s.kind == "success") {
        move(u, run, RunPhase::Succeeded, "all verifications passed");
        lastGoodFor(u) = run.version;
        lastGoodReleaseFor(u) = run.release;
        return;
      }
      if (s.kind == "rollback") {
        if (o && o->reachable && o->version == run.previousVersion &&
            (run.previousVersion.empty() || o->health == Health::Healthy)) {
          enter(run, indexOf(u, s.next));
          move(u, run, RunPhase::RolledBack,
               run.previousVersion.empty() ? "stopped (no earlier version)" : "restored " + run.previousVersion);
          return;
        }
        // The rollback has its own budget, counted from its own start.
        wake(run.enteredAtMs + int64_t(s.timeoutSeconds * 1000) + 1);
        if (now_ - run.enteredAtMs > int64_t(s.timeoutSeconds * 1000)) {
          enter(run, indexOf(u, s.onFailure));
          move(u, run, RunPhase::RollbackFailed, "rollback timed out");
          out_.actions.push_back({Action::Kind::Notify, u.id, run.release, run.version, "rollback-failed"});
          return;
        }
        run.waitingOn = "restoring " + (run.previousVersion.empty() ? "nothing" : run.previousVersion);
        return;
      }
      return; // a `failed` state: terminal
    }
  }

  bool gateOpen(const PlanUnit &u, UnitRun &run, const PlanState &s, std::string &why) {
    if (s.guard == "approval") {
      const PlanGroup *g = plan_.group(text(s.params, "group"));
      const Release *r = release(run.release);
      size_t need = size_t(number(s.params, "count", 1));
      size_t have = 0;
      auto a = obs_.approvals.find(u.id + "|" + run.release + "|" + text(s.params, "group"));
      if (a != obs_.approvals.end() && g)
        for (const std::string &who : a->second)
          if (std::find(g->members.begin(), g->members.end(), who) != g->members.end() &&
              (!r || who != r->createdBy))
            ++have;
      why = "approval by " + text(s.params, "group") + ": " + std::to_string(have) + "/" + std::to_string(need);
      return have >= need;
    }
    if (s.guard == "resource") {
      std::string name = substituteVersion(text(s.params, "name"), run.version);
      auto r = obs_.resources.find(name);
      if (r != obs_.resources.end() && r->second) {
        why = "resource " + name + " ready";
        return true;
      }
      why = "waiting for resource " + name;
      if (!run.notified && s.params.getString("notify")) {
        out_.actions.push_back({Action::Kind::Notify, u.id, run.release, run.version,
                                "resource " + name + " → " + text(s.params, "notify")});
        run.notified = true;
      }
      return false;
    }
    if (s.guard == "freeze") {
      auto from = parseRfc3339(text(s.params, "from")), to = parseRfc3339(text(s.params, "to"));
      bool frozen = from && to && now_ >= *from && now_ < *to;
      if (frozen)
        wake(*to);
      else if (from && now_ < *from)
        wake(*from);
      why = frozen ? "frozen until " + text(s.params, "to") : "outside the freeze";
      return !frozen;
    }
    if (s.guard == "window") {
      std::string tz = text(s.params, "tz");
      if (tz.empty())
        tz = "UTC";
      // Local wall-clock time in the window's zone, DST included (IANA rules
      // from the system tzdata).
      int minute = 0, weekday = 0;
      try {
        const date::time_zone *zone = date::locate_zone(tz);
        auto local = zone->to_local(date::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(now_)));
        auto day = date::floor<date::days>(local);
        weekday = static_cast<int>(date::weekday(day).c_encoding()); // 0 = Sunday
        minute = static_cast<int>(std::chrono::duration_cast<std::chrono::minutes>(local - day).count());
      } catch (const std::exception &) {
        why = "unknown time zone " + tz;
        return false;
      }
      static const char *days[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
      auto hhmm = [&](const char *k) {
        std::string v = text(s.params, k);
        int h = 0, m = 0;
        sscanf(v.c_str(), "%d:%d", &h, &m);
        return h * 60 + m;
      };
      int from = hhmm("from"), to = hhmm("to");
      // A window across midnight belongs to the day it opens.
      bool inTime = from <= to ? (minute >= from && minute < to) : (minute >= from || minute < to);
      int day = (from > to && minute < to) ? (weekday + 6) % 7 : weekday;
      bool inDays = false;
      if (const llvm::json::Array *list = s.params.getArray("days"))
        for (const auto &d : *list)
          inDays |= d.getAsString() && *d.getAsString() == days[day];
      why = inTime && inDays ? "inside the release window" : "outside the release window";
      wake((now_ / 60000 + 1) * 60000); // windows are minute-precise
      return inTime && inDays;
    }
    why = "unknown gate " + s.guard;
    return false;
  }

  int verify(const PlanUnit &u, UnitRun &run, const PlanState &s, const UnitObservation *o, std::string &why) {
    // Only observations of the target version count: a `healthy` left over
    // from the previous version never does.
    bool current = o && o->reachable && o->version == run.version;
    if (s.guard == "health") {
      if (current && o->health == Health::Healthy) {
        why = "healthy";
        return 1;
      }
      if (current && o->health == Health::Unhealthy) {
        why = "health check failed" + (o->message.empty() ? std::string() : ": " + o->message);
        return -1;
      }
      why = "waiting for health of " + run.version;
      return 0;
    }
    if (s.guard == "soak") {
      int64_t need = int64_t(number(s.params, "duration") * 1000);
      if (current && o->health == Health::Unhealthy) {
        why = "unhealthy during soak" + (o->message.empty() ? std::string() : ": " + o->message);
        return -1;
      }
      if (!current || o->health != Health::Healthy) {
        run.healthySinceMs = -1;
        why = "soak paused: health unknown";
        return 0;
      }
      if (run.healthySinceMs < 0)
        run.healthySinceMs = now_;
      why = "soaked " + std::to_string((now_ - run.healthySinceMs) / 1000) + "s of " + std::to_string(need / 1000) + "s";
      wake(run.healthySinceMs + need);
      return now_ - run.healthySinceMs >= need ? 1 : 0;
    }
    if (s.guard == "test") {
      std::string key = u.id + "|" + run.release + "|" + s.name;
      if (!run.testStarted) {
        run.testStarted = true;
        out_.actions.push_back({Action::Kind::RunTest, u.id, run.release, run.version, s.name});
      }
      auto t = obs_.tests.find(key);
      if (t != obs_.tests.end()) {
        why = t->second ? "test passed" : "test failed";
        return t->second ? 1 : -1;
      }
      if (now_ - run.enteredAtMs > int64_t(number(s.params, "timeout", 300) * 1000)) {
        why = "test timed out";
        return -1;
      }
      wake(run.enteredAtMs + int64_t(number(s.params, "timeout", 300) * 1000) + 1);
      why = "test running";
      return 0;
    }
    std::string key = u.id + "|" + s.name;
    if (s.guard == "metric") {
      auto m = obs_.metrics.find(key);
      if (m == obs_.metrics.end()) {
        // No data is never a pass: it fails, or waits when the guard says so.
        run.healthySinceMs = -1;
        why = "metric " + text(s.params, "query") + ": no data";
        return text(s.params, "no_data") == "wait" ? 0 : -1;
      }
      auto below = s.params.getNumber("below"), above = s.params.getNumber("above");
      bool ok = (!below || m->second < *below) && (!above || m->second > *above);
      auto show = [](double v) {
        char buf[32];
        snprintf(buf, sizeof buf, "%g", v);
        return std::string(buf);
      };
      std::string value = show(m->second);
      if (!ok) {
        why = "metric " + text(s.params, "query") + " = " + value + (below ? ", not below " : ", not above ") +
              show(below ? *below : *above);
        return -1;
      }
      if (run.healthySinceMs < 0)
        run.healthySinceMs = now_;
      int64_t need = int64_t(number(s.params, "for") * 1000);
      why = "metric " + text(s.params, "query") + " = " + value + " for " +
            std::to_string((now_ - run.healthySinceMs) / 1000) + "s of " + std::to_string(need / 1000) + "s";
      wake(run.healthySinceMs + need);
      return now_ - run.healthySinceMs >= need ? 1 : 0;
    }
    if (s.guard == "alerts") {
      auto a = obs_.alerts.find(key);
      if (a == obs_.alerts.end()) {
        why = "alerts: no data";
        return -1;
      }
      if (!a->second.empty()) {
        why = "alert firing: " + a->second.front();
        return -1;
      }
      why = "no alert firing";
      return 1;
    }
    why = "unknown verification " + s.guard;
    return -1;
  }

  const Plan &plan_;
  const Observations &obs_;
  int64_t now_;
  StepResult &out_;
  std::unordered_map<std::string, size_t> byId_;                  ///< release id → index
  std::unordered_map<std::string, std::vector<size_t>> byService_; ///< service → release indices
  const llvm::StringMap<size_t> *index_ = &plan_.unitIndex;       ///< unit id → index
  llvm::StringMap<size_t> ownIndex_; ///< when the plan's index is stale
  std::vector<Slot> slots_;          ///< by unit index
};

} // namespace

StepResult step(const Plan &plan, EngineState state, const Observations &obs, int64_t nowMs) {
  StepResult out;
  out.state = std::move(state);
  Stepper(plan, obs, nowMs, out).run();
  return out;
}

} // namespace dpl::runtime
